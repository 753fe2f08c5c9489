"""Spreadsheet import of services (CSV and XLSX) as a background job, reported row by row.

The file is stored with an `accounts.ImportJob` and read by a task, twice and always as a stream
(CSV line by line, XLSX through openpyxl's read-only mode): never held whole in memory.

What "nothing half-written" means here:
- A file that cannot be imported at all (not a spreadsheet, empty, no header, no column that
  identifies a service, too many rows, malformed further down) is refused by the first pass over
  the whole file, before any row is written: the job fails and nothing is saved.
- Otherwise every row is written whole or not at all: its customer, service, packages, event and
  extra columns in one savepoint. Valid rows are saved and bad rows reported with their reasons.
- Rows are committed in chunks of CHUNK_ROWS, each together with the job's progress, so a crash
  leaves whole chunks and a new run of the job goes on after the last committed chunk.

How a row finds the service it updates (importing a file again never duplicates): by external id
when the row has one; else by invoice number and series; else by order number; a row with none of
the three is rejected. Only services the importing user may see are matched. A match that is
still pending is updated (only with the cells the row fills: an empty cell keeps what is stored);
a match in any other status is rejected as not pending; no match creates a pending service.

Columns other apps own (the schedule date and window belong to scheduling) are read through
`register_columns`; without a handler they are accepted and reported as not imported.

The uploaded file is deleted KEEP_FILE_DAYS after its job ended (`import_files_purge`); the job's
history and report are kept.
"""

import csv
import io
import logging
import re
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path

import openpyxl
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.formats import number_format
from django.utils.text import get_text_list
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts import access
from accounts.imports import (
    MAX_COLUMNS,
    STATES,
    XLS_MAGIC,
    XLSX_MAGIC,
    FileRejected,
    Names,
    cell_text,
    choice_table,
    csv_records,
    looks_binary,
    not_a_spreadsheet,
    number_text,
    restore_zeros,
    slug,
    text_encoding,
    xlsx_lines,
)
from accounts.models import (
    Agency,
    Branch,
    Carrier,
    Customer,
    ImportJob,
    ImportJobStatus,
    Partner,
    Role,
)
from tracking.lib import br
from tracking.lib.errors import DomainError

from .actions import Actor, customer_find_or_create, service_create, service_update
from .models import Package, Service, ServiceStatus, ServiceType

logger = logging.getLogger(__name__)

KIND = "services"
# Rows committed together. Small enough that a chunk holds SQLite's single write lock for well
# under a second and the progress bar moves smoothly; large enough that commits cost nothing.
CHUNK_ROWS = 200
MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_ROWS = 100_000
# Lines read at most, blank ones included: a sheet formatted far down yields many empty rows.
MAX_LINES = 5 * MAX_ROWS
READ_BYTES = 256 * 1024
# A running job that reported no progress for this long lost its worker: a new run takes it over.
STALLED_AFTER = timedelta(minutes=5)
# The uploaded file of a finished job (it holds customers' names, addresses and phones) is deleted
# this long after the job ended; the job, its counts and its report of rejected rows stay.
KEEP_FILE_DAYS = 30
# In the report: every rejected row, each with at most this many reasons of at most this length.
MAX_ERRORS_PER_ROW = 10
MAX_MESSAGE_CHARS = 300
PACKAGE_SEPARATORS = re.compile(r"[,;|]")

# Every column the import reads: the English name (the template's header) -> other titles it
# accepts (compared without case, accents and punctuation), and what the column is.
COLUMNS = {
    "external_id": (
        ("id_externo", "codigo_externo", "cod_externo", "external_code", "id"),
        gettext_lazy("Your system's id for the service; importing again updates it."),
    ),
    "type": (
        ("tipo", "service_type", "tipo_servico", "tipo_de_servico"),
        gettext_lazy("delivery, pickup or visit (entrega, coleta, visita); delivery if empty."),
    ),
    "recipient": (
        ("name", "nome", "destinatario", "nome_destinatario", "recipient_name", "cliente",
         "customer", "customer_name", "razao_social"),
        gettext_lazy("The recipient's name (the customer)."),
    ),
    "document": (
        ("cpf", "cnpj", "cpf_cnpj", "cnpj_cpf", "documento", "doc"),
        gettext_lazy("The recipient's CPF or CNPJ."),
    ),
    "email": (("e-mail", "mail", "email_destinatario"), gettext_lazy("The recipient's e-mail.")),
    "phone": (
        ("telefone", "celular", "fone", "tel", "mobile", "whatsapp"),
        gettext_lazy("The recipient's phone, with the area code."),
    ),
    "customer_code": (
        ("codigo_cliente", "cod_cliente", "id_cliente", "customer_external_code", "customer_id"),
        gettext_lazy("Your system's code for the recipient: finds the same customer again."),
    ),
    "street": (("logradouro", "rua", "endereco", "address"), gettext_lazy("Street.")),
    "number": (("numero", "no", "n", "num", "nro"), gettext_lazy("Street number.")),
    "complement": (("complemento",), gettext_lazy("Flat, block, floor...")),
    "district": (("bairro", "neighbourhood", "neighborhood"), gettext_lazy("District.")),
    "city": (("cidade", "municipio"), gettext_lazy("City.")),
    "state": (("uf", "estado"), gettext_lazy("State: its code (SP) or its name.")),
    "postal_code": (("cep", "zip", "zip_code", "postcode"), gettext_lazy("Postal code (CEP).")),
    "country": (("pais",), gettext_lazy("Two-letter country code; the account's if empty.")),
    "lat": (("latitude",), gettext_lazy("Latitude, e.g. -23.5614.")),
    "lng": (("lon", "long", "longitude"), gettext_lazy("Longitude, e.g. -46.6559.")),
    "invoice_number": (
        ("nota_fiscal", "numero_nota_fiscal", "nf", "nfe", "numero_nf", "numero_nota", "invoice"),
        gettext_lazy("Invoice (nota fiscal) number; with the series, finds the service again."),
    ),
    "invoice_series": (("serie", "serie_nf", "serie_nota", "series"), gettext_lazy("Series.")),
    "order_number": (
        ("pedido", "numero_pedido", "num_pedido", "n_pedido", "order"),
        gettext_lazy("Order number; finds the service again when there is no invoice."),
    ),
    "description": (
        ("descricao", "observacao", "observacoes", "obs", "instrucoes", "instructions", "notes"),
        gettext_lazy("What the driver reads."),
    ),
    "service_time_min": (
        ("service_time", "tempo_atendimento", "tempo_de_atendimento", "tempo_servico"),
        gettext_lazy("Minutes on site."),
    ),
    "weight_kg": (("weight", "peso", "peso_kg"), gettext_lazy("Weight in kg.")),
    "volume_m3": (("volume", "cubagem", "m3"), gettext_lazy("Volume in m³.")),
    "declared_value": (
        ("value", "valor", "valor_declarado", "valor_nf", "valor_da_nota"),
        gettext_lazy("Declared value."),
    ),
    "deadline": (
        ("prazo", "prazo_entrega", "prazo_de_entrega", "data_limite", "due_date"),
        gettext_lazy(
            "31/12/2030 18:00, 2030-12-31 18:00, 2030-12-31T18:00-03:00, or a day alone "
            "(31/12/2030: the end of that day in the account's time zone)."
        ),
    ),
    "packages": (
        ("barcodes", "barcode", "codigos_de_barras", "codigo_de_barras", "etiquetas", "pacotes"),
        gettext_lazy("The packages' barcodes, separated by , ; or |."),
    ),
    "branch": (("filial", "unidade"), gettext_lazy("The branch's prefix or name.")),
    "carrier": (("transportadora",), gettext_lazy("The carrier's name or CNPJ.")),
    "partner": (("parceiro", "embarcador"), gettext_lazy("The partner's name or document.")),
    "agency": (("agencia", "marca", "brand"), gettext_lazy("The agency's name.")),
}  # fmt: skip
# Columns a file made for the whole product may have and a higher app reads, when installed.
RESERVED_COLUMNS = {
    "schedule_date": ("data_agendamento", "data_agendada", "agendamento", "scheduled_date"),
    "schedule_window": ("janela", "janela_de_entrega", "janela_entrega", "periodo", "window"),
}
# Each of these columns is enough to find the service again when the file is imported again.
KEY_COLUMNS = ("external_id", "invoice_number", "order_number")
CUSTOMER_COLUMNS = {
    "recipient": "name",
    "document": "document",
    "email": "email",
    "phone": "phone",
    "customer_code": "external_code",
}
TEXT_FIELDS = (
    "external_id", "order_number", "invoice_number", "invoice_series", "description", "street",
    "number", "complement", "district", "city",
)  # fmt: skip
DECIMAL_FIELDS = ("weight_kg", "volume_m3", "declared_value")
EXAMPLE = {
    "external_id": "PED-1001-1",
    "type": "delivery",
    "recipient": "Maria Silva",
    "document": "529.982.247-25",
    "email": "maria@example.com",
    "phone": "+55 11 98765-4321",
    "customer_code": "CLI-0001",
    "street": "Avenida Paulista",
    "number": "1000",
    "complement": "Apto 12",
    "district": "Bela Vista",
    "city": "São Paulo",
    "state": "SP",
    "postal_code": "01310-100",
    "country": "BR",
    "lat": "-23.5614",
    "lng": "-46.6559",
    "invoice_number": "123456",
    "invoice_series": "1",
    "order_number": "PED-1001",
    "description": "Ring the bell twice",
    "service_time_min": "5",
    "weight_kg": "2.5",
    "volume_m3": "0.012",
    "declared_value": "199.90",
    "deadline": "31/12/2030 18:00",
    "packages": "7891234567895;7891234567896",
}
_SERVICE_TYPES = {
    ServiceType.DELIVERY: ("delivery", "entrega", "entregar"),
    ServiceType.PICKUP: ("pickup", "coleta", "coletar", "recolha", "recogida"),
    ServiceType.VISIT: ("visit", "visita"),
}
_DAY = re.compile(r"\d{4}-\d{1,2}-\d{1,2}|\d{1,2}/\d{1,2}/\d{4}")
# An XLSX date cell (a day without a time) reads as midnight: it means the day, like "31/12/2030".
_SHEET_DAY = re.compile(r"(\d{4}-\d{2}-\d{2})T00:00:00")
_LOCAL_FORMATS = ("%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y")


# The extension point ------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ColumnHandler:
    """Columns a higher app adds to the import, and what it does with them.

    columns: column name -> other titles it accepts. For each row with any of them filled,
    apply(service, values, account, actor) is called after the service is saved, in the same
    transaction, with values {column name: cell text}; it returns a list of errors (a message,
    or a (column name, message) pair), and any error rejects the whole row (nothing of it is kept).
    example: column name -> the value shown in the template's example row.
    """

    columns: dict
    apply: Callable
    example: dict = field(default_factory=dict)


_handlers = []


def register_columns(handler):
    """Adds the handler's columns to the services import (call it from AppConfig.ready()).
    Registering the same handler again does nothing. Raises ValueError for a column the import
    or another handler reads already."""
    if handler in _handlers:
        return handler
    taken = set(COLUMNS) | {name for other in _handlers for name in other.columns}
    clash = taken & set(handler.columns)
    if clash:
        raise ValueError(f"services import: columns already read: {', '.join(sorted(clash))}")
    _handlers.append(handler)
    return handler


def unregister_columns(handler):
    if handler in _handlers:
        _handlers.remove(handler)


def _extra_columns():
    """Column name -> (titles it accepts, its handler or None) for the columns of other apps."""
    extra = {name: (aliases, None) for name, aliases in RESERVED_COLUMNS.items()}
    for handler in _handlers:
        for name, aliases in handler.columns.items():
            extra[name] = ((*RESERVED_COLUMNS.get(name, ()), *aliases), handler)
    return extra


# Who may import, jobs, templates ------------------------------------------------------------------


def can_import(user):
    """Operators and managers of the services section; carrier users only add services by hand."""
    return (
        access.can_see_section(user, access.SERVICES)
        and user.account_id is not None
        and user.role != Role.CARRIER
    )


def job_list(*, user):
    """The user's account's import jobs of services, newest first; a user narrowed to a branch,
    partner or carrier sees only their own."""
    jobs = access.scope(user, ImportJob.objects.filter(kind=KIND)).select_related("created_by")
    if any(getattr(user, f"{name}_id") for name, _model in access.SCOPES):
        jobs = jobs.filter(created_by=user)
    return jobs


def job_get(*, user, pk):
    """One of job_list(user=user), or Http404."""
    return access.get_object_or_404(user, job_list(user=user), pk=pk)


def import_job_create(*, user, uploaded_file):
    """Stores the uploaded file in a queued import job of the user's account and queues the task
    after commit. The file is checked by the task, not here."""
    from .tasks import import_services

    suffix = Path(uploaded_file.name or "").suffix.lower()
    stored_name = uuid.uuid4().hex + (suffix if suffix in (".csv", ".xlsx", ".txt") else "")
    with transaction.atomic():
        job = ImportJob(
            account_id=user.account_id,
            kind=KIND,
            created_by=user,
            original_name=Path(uploaded_file.name or "").name[:255],
        )
        job.file.save(stored_name, uploaded_file, save=False)
        job.save()
        import_services.delay_on_commit(job.pk)
    return job


def columns_help():
    """[(column, other titles it accepts, what it is)] for the upload page."""
    rows = [(name, aliases, help_text) for name, (aliases, help_text) in COLUMNS.items()]
    for name, (aliases, handler) in _extra_columns().items():
        what = (
            _("Read by the scheduling module.")
            if handler
            else _("Accepted but not imported: scheduling is not installed.")
        )
        rows.append((name, aliases, what))
    return rows


def template_header():
    return [*COLUMNS, *(name for handler in _handlers for name in handler.columns)]


def template_example():
    example = dict(EXAMPLE)
    for handler in _handlers:
        example.update(handler.example)
    return [example.get(name, "") for name in template_header()]


def template_csv():
    """The import's columns in English and one example row, as CSV text."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(template_header())
    writer.writerow(template_example())
    return buffer.getvalue()


def template_xlsx():
    """The same as template_csv, as XLSX bytes."""
    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet("services")
    sheet.append(template_header())
    sheet.append(template_example())
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def rejected_csv_rows(job):
    """The rows of a CSV of the job's rejected rows: row, key, column, reason."""
    yield [_("row"), _("service"), _("column"), _("reason")]
    for row in job.report.get("rejected", []):
        for error in row["errors"]:
            cells = (row.get("key", ""), error["column"], error["message"])
            yield [row["row"], *(_inert(cell) for cell in cells)]


def _inert(text):
    """The text as a spreadsheet shows it, never as a formula (the file's values come back)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


# The task -----------------------------------------------------------------------------------------


def import_job_run(*, job_id):
    """Imports the job's file. Idempotent: a job that is done, failed or being run by a live
    worker is left alone (returns False); a queued job is run; a stalled one (no progress for
    STALLED_AFTER) is taken over and goes on after its last committed chunk. Bad input never
    raises: it ends in the job's report or error."""
    job = _claim(job_id)
    if job is None:
        return False
    with translation.override(job.account.language):
        run = _Run(job)
        try:
            run.execute()
        except _Superseded:
            return False
        except FileRejected as exc:
            _finish_failed(job, exc.message)
        except SoftTimeLimitExceeded:
            _finish_failed(
                job,
                _(
                    "The import took too long and stopped after %(count)s rows. Import the file "
                    "again: the rows already imported are updated, not added twice."
                )
                % {"count": _number(run.committed)},
            )
        except Exception:
            logger.exception("import job %s stopped at row %s", job.pk, run.current_row)
            _finish_failed(
                job,
                _(
                    "The import stopped at row %(row)s because of an error on our side, after "
                    "%(count)s rows. Import the file again: the rows already imported are "
                    "updated, not added twice."
                )
                % {"row": run.current_row, "count": _number(run.committed)},
            )
    return True


def import_jobs_resume(*, queued_for=timedelta(minutes=2), limit=100):
    """Queues the task again for jobs whose message was lost: queued for longer than queued_for,
    or running without progress for STALLED_AFTER. Safe to repeat: only one run claims a job.
    Returns how many were queued."""
    from .tasks import import_services

    now = timezone.now()
    lost = Q(status=ImportJobStatus.QUEUED, created_at__lt=now - queued_for) | Q(
        status=ImportJobStatus.RUNNING, progress_at__lt=now - STALLED_AFTER
    )
    ids = list(
        ImportJob.objects.filter(lost, kind=KIND)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    for job_id in ids:
        import_services.delay(job_id)
    return len(ids)


def import_files_purge(*, now=None):
    """Deletes the uploaded files of the jobs that ended more than KEEP_FILE_DAYS ago (a job being
    run keeps its file, whatever its age); the jobs and their reports stay. Returns how many
    files were deleted."""
    cutoff = (now or timezone.now()) - timedelta(days=KEEP_FILE_DAYS)
    ended = ImportJob.objects.filter(
        kind=KIND,
        status__in=[ImportJobStatus.DONE, ImportJobStatus.FAILED],
        finished_at__lt=cutoff,
    ).exclude(file="")
    deleted = 0
    for job in ended.only("pk", "file").iterator():
        # The row first: a file whose row still names it is never left missing.
        if ImportJob.objects.filter(pk=job.pk).update(file="") == 1:
            job.file.storage.delete(job.file.name)
            deleted += 1
    return deleted


def _claim(job_id):
    job = ImportJob.objects.select_related("account", "created_by").filter(pk=job_id).first()
    if job is None:
        return None
    now = timezone.now()
    claimable = Q(status=ImportJobStatus.QUEUED) | Q(
        status=ImportJobStatus.RUNNING, progress_at__lt=now - STALLED_AFTER
    )
    claimed = (
        ImportJob.objects.filter(claimable, pk=job.pk, attempt=job.attempt).update(
            status=ImportJobStatus.RUNNING,
            attempt=job.attempt + 1,
            started_at=job.started_at or now,
            progress_at=now,
        )
        == 1
    )
    if not claimed:
        return None
    job.status, job.attempt, job.progress_at = ImportJobStatus.RUNNING, job.attempt + 1, now
    job.started_at = job.started_at or now
    return job


def _finish_failed(job, message):
    ImportJob.objects.filter(pk=job.pk, attempt=job.attempt).update(
        status=ImportJobStatus.FAILED, error=message, finished_at=timezone.now()
    )


def _number(count):
    return number_format(count, force_grouping=True)


class _Superseded(Exception):
    """Another run took this job over: this one stops without committing anything more."""


class _Rejected(Exception):
    def __init__(self, *errors):
        super().__init__(*errors)
        self.errors = list(errors)  # [(column name or None, message)]


@dataclass
class _Row:
    number: int
    cells: list
    values: dict = field(default_factory=dict)  # Service field -> value
    customer: dict = field(default_factory=dict)  # customer_find_or_create's data
    packages: list | None = None
    extra: dict = field(default_factory=dict)  # handler -> {column: text}
    key: tuple | None = None  # (column, value) that finds the service again
    errors: list = field(default_factory=list)  # [(column name or None, message)]


class _Sheet:
    """The stored file as (row number, cells) of its non-blank rows, header first, read from the
    storage as a stream each time it is iterated."""

    def __init__(self, field_file):
        self.field_file = field_file
        self.encoding = None
        self.is_xlsx = False

    def _open(self):
        return self.field_file.storage.open(self.field_file.name, "rb")

    def sniff(self):
        """Decides how to read the file. Raises FileRejected when it is no CSV or XLSX."""
        with self._open() as stored:
            start = stored.read(8)
            if start.startswith(XLSX_MAGIC):
                self.is_xlsx = True
                return
            if start.startswith(XLS_MAGIC):
                raise FileRejected(
                    _("This is an old Excel file (.xls). Save it as .xlsx or CSV and try again.")
                )
            stored.seek(0)
            self.encoding = text_encoding(iter(lambda: stored.read(READ_BYTES), b""))
        with self._text() as text:
            if looks_binary(text.read(100_000)):
                raise FileRejected(not_a_spreadsheet())

    def _text(self):
        return io.TextIOWrapper(self._open(), encoding=self.encoding, newline="")

    def __iter__(self):
        if self.is_xlsx:
            with self._open() as stored:
                yield from self._rows(xlsx_lines(stored))
        else:
            with self._text() as text:
                yield from self._rows(csv_records(text))

    def _rows(self, lines):
        for number, values in lines:
            if number > MAX_LINES:
                raise FileRejected(_too_many_rows())
            cells = [cell_text(value) for value in values[:MAX_COLUMNS]]
            if any(cells):
                yield number, cells


def _too_many_rows():
    return _("The file has more than %(count)s rows. Split it and import the parts.") % {
        "count": _number(MAX_ROWS)
    }


class _Run:
    """One run of one job: checks the whole file, then imports it chunk by chunk."""

    def __init__(self, job):
        self.job = job
        self.account = job.account
        self.user = job.created_by
        self.sheet = _Sheet(job.file)
        self.processed = job.processed_rows
        self.committed = job.processed_rows  # the rows of the chunks committed so far
        self.counts = {
            "created": job.created_count,
            "updated": job.updated_count,
            "rejected": job.rejected_count,
        }
        self.report = {"rejected": [], **job.report}
        self.report_changed = False
        self.current_row = 0
        self.seen = {}  # (key column, value) -> the row that wrote it

    # The whole file.

    def execute(self):
        if self.user is None or not can_import(self.user):
            raise FileRejected(
                _("The person who uploaded this file can no longer import services.")
            )
        self.sheet.sniff()
        if not self.job.total_rows:
            self._check_file()
        rows = iter(self.sheet)
        _header_number, header = next(rows)
        self._read_header(header)
        self._load_references()
        skipped = 0
        rejected_numbers = {row["row"] for row in self.report["rejected"]}
        chunk = []
        for number, cells in rows:
            if skipped < self.job.processed_rows:
                # Committed by an earlier run of this job: only remember the keys it wrote.
                skipped += 1
                if number not in rejected_numbers:
                    self._remember(_Row(number, cells, key=self._key(self._raw(cells)[0])))
                continue
            chunk.append((number, cells))
            if len(chunk) == CHUNK_ROWS:
                self._import_chunk(chunk)
                chunk = []
        if chunk:
            self._import_chunk(chunk)
        self._save_progress(done=True)

    def _check_file(self):
        """The first pass: the whole file must be readable and have a usable header."""
        header, total = None, 0
        for _number, cells in self.sheet:
            if header is None:
                header = cells
                self._read_header(header)
                continue
            total += 1
            if total > MAX_ROWS:
                raise FileRejected(_too_many_rows())
            if total % 10_000 == 0:
                self._update(progress_at=timezone.now())
        if header is None:
            raise FileRejected(_("The file is empty."))
        if not total:
            raise FileRejected(_("The file has a header but no rows to import."))
        self.report.update(
            columns=[[title, name] for title, name in self.titles],
            ignored_columns=self.ignored,
            unread_columns=self.unread,
        )
        self.job.total_rows = total
        self._update(total_rows=total, report=self.report, progress_at=timezone.now())

    def _read_header(self, header):
        aliases = {}
        for name, (names, _help) in COLUMNS.items():
            for alias in (name, *names):
                aliases.setdefault(slug(alias), name)
        # A service field's label in any language names its column too ("Número do pedido").
        service_fields = {f.name: f for f in Service._meta.concrete_fields}
        for name in COLUMNS.keys() & service_fields.keys():
            for code, _language in settings.LANGUAGES:
                with translation.override(code):
                    aliases.setdefault(slug(str(service_fields[name].verbose_name)), name)
        extra = _extra_columns()
        for name, (names, _handler) in extra.items():
            for alias in (name, *names):
                aliases.setdefault(slug(alias), name)
        self.mapping = {}  # column index -> column name
        self.titles = []  # (title, column name) of the columns read
        self.ignored = []  # titles of columns the import does not know
        self.unread = []  # titles of other apps' columns that no installed app reads
        self.handler_of = {}  # column name -> its handler
        for index, title in enumerate(header):
            if not title:
                continue
            name = aliases.get(slug(title))
            if name is None:
                self.ignored.append(title)
                continue
            if name in extra and extra[name][1] is None:
                self.unread.append(title)
                continue
            if name in extra:
                self.handler_of[name] = extra[name][1]
            self.mapping[index] = name
            self.titles.append((title, name))
        if not {name for _title, name in self.titles} & set(KEY_COLUMNS):
            raise FileRejected(
                _(
                    "The file needs a column %(columns)s, so that importing it again updates the "
                    "services instead of adding copies. Its columns are: %(found)s."
                )
                % {
                    "columns": get_text_list([f"“{name}”" for name in KEY_COLUMNS], _("or")),
                    "found": ", ".join(f"“{title}”" for title in header if title),
                }
            )
        self.title_of = {}
        for title, name in self.titles:
            self.title_of.setdefault(name, title)

    def _load_references(self):
        account = self.account
        self.branches = Names(Branch.objects.filter(account=account), "prefix", "name")
        self.agencies = Names(Agency.objects.filter(account=account), "name")
        carriers = Carrier.objects.filter(account=account)
        partners = Partner.objects.filter(account=account)
        self.carriers = Names(carriers, "name", "trade_name")
        self.partners = Names(partners, "name")
        self.carrier_documents = {c.document: c for c in carriers if c.document}
        self.partner_documents = {p.document: p for p in partners if p.document}
        self.types = choice_table(ServiceType.choices, _SERVICE_TYPES)
        self.services = access.scope(self.user, Service.objects.all())
        self.actor = Actor.for_user(self.user)
        # What a user narrowed to one branch, partner or carrier imports into.
        self.user_scope = {
            name: getattr(self.user, name)
            for name, _model in access.SCOPES
            if getattr(self.user, f"{name}_id")
        }

    # One chunk.

    def _import_chunk(self, chunk):
        rows = [self._parse(number, cells) for number, cells in chunk]
        with transaction.atomic():
            for row in rows:
                self.current_row = row.number
                action = self._import_row(row)
                self.counts[action] += 1
            self.processed += len(rows)
            self._save_progress()
        self.committed = self.processed

    def _import_row(self, row):
        if row.key in self.seen:
            # Checked here, not when parsing: only a row that was written counts as the first.
            first = self.seen[row.key]
            row.errors.insert(0, (row.key[0], _("repeats row %(row)d.") % {"row": first}))
        if not row.errors:
            try:
                action = self._save(row)
            except _Rejected as exc:
                row.errors = exc.errors
            else:
                self._remember(row)
                return action
        self._reject(row)
        return "rejected"

    def _save(self, row):
        """Writes the row whole or not at all; returns "created" or "updated"."""
        service = self._match(row)
        values = dict(row.values)
        if service is None:
            self._check_new(row)
            for name, obj in self.user_scope.items():
                values.setdefault(name, obj)
        try:
            with transaction.atomic():
                if row.customer:
                    values["customer"] = customer_find_or_create(
                        account=self.account, data=row.customer
                    )
                if service is None:
                    service = service_create(
                        account=self.account,
                        actor=self.actor,
                        values=values,
                        packages=row.packages or (),
                    )
                    action = "created"
                else:
                    service = service_update(
                        service=service, actor=self.actor, values=values, packages=row.packages
                    )
                    action = "updated"
                errors = self._apply_handlers(row, service)
                if errors:
                    raise _Rejected(*errors)
        except DomainError as exc:
            field_name = next(iter(exc.fields), "").split(".")[0]
            column = "recipient" if field_name == "customer" else field_name
            raise _Rejected((column if column in COLUMNS else None, exc.message)) from exc
        except IntegrityError as exc:
            # Only a concurrent change can get here (the API added the same external id).
            message = _("Another change to the same service was saved meanwhile.")
            raise _Rejected((None, message)) from exc
        return action

    def _match(self, row):
        column, value = row.key
        if column == "external_id":
            lookup = {"external_id": value}
        elif column == "invoice_number":
            lookup = {"invoice_number": value[0], "invoice_series": value[1]}
        else:
            lookup = {"order_number": value}
        found = list(self.services.filter(**lookup).order_by()[:2])
        if len(found) > 1:
            message = _(
                "Several services have this %(column)s: add an external id column to say which one."
            )
            raise _Rejected((column, message % {"column": self._title(column)}))
        if not found:
            return None
        service = found[0]
        service.account = self.account  # read by service_update: one query less per row
        if service.status != ServiceStatus.PENDING:
            message = _(
                "The service %(service)s is %(status)s, not pending: only pending services can be "
                "changed."
            )
            status = service.get_status_display().lower()
            raise _Rejected((column, message % {"service": service, "status": status}))
        return service

    def _check_new(self, row):
        """What a row that creates a service must have: a recipient and an address."""
        if not row.customer:
            message = _("Give the recipient's name (and document, e-mail or phone).")
            raise _Rejected(("recipient", message))
        values = row.values
        has_street = values.get("street") and values.get("city")
        has_point = values.get("lat") is not None and values.get("lng") is not None
        if not (has_street or has_point):
            message = _(
                "The address is missing: give the street and the city, or the coordinates "
                "(latitude and longitude)."
            )
            raise _Rejected(("street", message))

    def _apply_handlers(self, row, service):
        errors = []
        for handler, values in row.extra.items():
            for error in handler.apply(service, values, self.account, self.actor) or ():
                if isinstance(error, tuple | list):
                    errors.append((error[0], str(error[1])))
                else:
                    errors.append((None, str(error)))
        return errors

    def _remember(self, row):
        if row.key:
            self.seen.setdefault(row.key, row.number)

    def _reject(self, row):
        messages = []
        for name, message in row.errors[:MAX_ERRORS_PER_ROW]:
            messages.append(
                {
                    "column": self._title(name) if name else "",
                    "message": str(message)[:MAX_MESSAGE_CHARS],
                }
            )
        key = ""
        if row.key:
            value = row.key[1]
            key = " ".join(part for part in value if part) if isinstance(value, tuple) else value
        self.report["rejected"].append({"row": row.number, "key": key[:80], "errors": messages})
        self.report_changed = True

    def _title(self, name):
        if name in self.title_of:
            return self.title_of[name]
        return name

    # Reading a row.

    def _raw(self, cells):
        """{column name: text} of the row's filled cells, and the columns that disagree."""
        values, errors = {}, []
        for index, name in self.mapping.items():
            text = cells[index] if index < len(cells) else ""
            if not text:
                continue
            if name not in values:
                values[name] = text
            elif values[name] != text:
                titles = [title for title, other in self.titles if other == name]
                errors.append(
                    (
                        name,
                        _("The columns %(columns)s disagree.")
                        % {"columns": get_text_list([f"“{t}”" for t in titles], _("and"))},
                    )
                )
        return values, errors

    def _key(self, raw):
        if raw.get("external_id"):
            return ("external_id", raw["external_id"])
        if raw.get("invoice_number"):
            return ("invoice_number", (raw["invoice_number"], raw.get("invoice_series", "")))
        if raw.get("order_number"):
            return ("order_number", raw["order_number"])
        return None

    def _parse(self, number, cells):
        raw, errors = self._raw(cells)
        row = _Row(number, cells, errors=errors, key=self._key(raw))
        for name, text in raw.items():
            handler = self.handler_of.get(name)
            if handler is not None:
                row.extra.setdefault(handler, {})[name] = text
                continue
            try:
                self._parse_cell(row, name, text)
            except ValidationError as exc:
                row.errors.extend((name, message) for message in exc.messages)
        if row.key is None:
            row.errors.insert(
                0,
                (
                    None,
                    _(
                        "Give an external id, an invoice number or an order number, so that "
                        "importing the file again updates this service instead of adding a copy."
                    ),
                ),
            )
        self._check_scope(row)
        if (row.values.get("lat") is None) != (row.values.get("lng") is None):
            row.errors.append(("lat", _("Give both the latitude and the longitude.")))
        return row

    def _parse_cell(self, row, name, text):
        if name in CUSTOMER_COLUMNS:
            row.customer[CUSTOMER_COLUMNS[name]] = self._customer_value(name, text)
        elif name in TEXT_FIELDS:
            row.values[name] = _clean(Service, name, text)
        elif name == "type":
            service_type = self.types.get(slug(text))
            if service_type is None:
                raise ValidationError(_("Use delivery, pickup or visit."))
            row.values["type"] = service_type
        elif name == "state":
            state = STATES.get(slug(text))
            if state is None:
                raise ValidationError(_("Use the state's two-letter code (UF), e.g. SP."))
            row.values["state"] = state
        elif name == "postal_code":
            row.values["postal_code"] = br.normalise_postal_code(restore_zeros(text, 8, 5))
        elif name == "country":
            if not re.fullmatch(r"[A-Za-z]{2}", text):
                raise ValidationError(_("Use the two-letter country code, e.g. BR."))
            row.values["country"] = text.upper()
        elif name in ("lat", "lng"):
            row.values[name] = _clean(Service, name, number_text(text))
        elif name in DECIMAL_FIELDS:
            row.values[name] = _clean(Service, name, _decimal(text, name))
        elif name == "service_time_min":
            minutes = _decimal(text, name).to_integral_value(ROUND_HALF_UP)
            row.values[name] = _clean(Service, name, int(minutes))
        elif name == "deadline":
            row.values[name] = parse_deadline(text, self.account.tzinfo)
        elif name == "packages":
            row.packages = _packages(text)
        elif name == "branch":
            row.values[name] = self._reference(
                self.branches.get(text),
                _("No branch with the prefix or name “%(value)s” in this account."),
                text,
            )
        elif name == "carrier":
            carrier = self.carriers.get(text) or self.carrier_documents.get(br.digits(text))
            row.values[name] = self._reference(
                carrier, _("No carrier with the name or CNPJ “%(value)s” in this account."), text
            )
        elif name == "partner":
            partner = self.partners.get(text) or self.partner_documents.get(br.digits(text))
            row.values[name] = self._reference(
                partner,
                _("No partner with the name or document “%(value)s” in this account."),
                text,
            )
        elif name == "agency":
            row.values[name] = self._reference(
                self.agencies.get(text), _("No agency named “%(value)s” in this account."), text
            )

    def _customer_value(self, name, text):
        if name == "document":
            digits = br.digits(text)
            width, shortest = (14, 12) if 11 < len(digits) < 14 else (11, 8)
            return br.normalise_document(restore_zeros(digits, width, shortest))
        if name == "phone":
            return br.normalise_phone(text, self.account.country)
        return _clean(Customer, CUSTOMER_COLUMNS[name], text)

    def _reference(self, obj, unknown, text):
        if obj is None:
            raise ValidationError(unknown % {"value": text})
        if not obj.is_active:
            raise ValidationError(_("“%(value)s” is inactive.") % {"value": text})
        return obj

    def _check_scope(self, row):
        for name, obj in self.user_scope.items():
            chosen = row.values.get(name)
            if chosen is not None and chosen.pk != obj.pk:
                row.errors.append(
                    (name, _("You can import only services of %(name)s.") % {"name": obj})
                )

    # The job's row.

    def _save_progress(self, *, done=False):
        fields = {
            "processed_rows": self.processed,
            "created_count": self.counts["created"],
            "updated_count": self.counts["updated"],
            "rejected_count": self.counts["rejected"],
            "progress_at": timezone.now(),
        }
        if self.report_changed or done:
            fields["report"] = self.report
            self.report_changed = False
        if done:
            fields.update(status=ImportJobStatus.DONE, finished_at=timezone.now())
        self._update(**fields)

    def _update(self, **fields):
        if not ImportJob.objects.filter(pk=self.job.pk, attempt=self.job.attempt).update(**fields):
            raise _Superseded


def _clean(model, name, value):
    return model._meta.get_field(name).clean(value, None)


def _decimal(text, name):
    try:
        number = Decimal(number_text(text))
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite():
        raise ValidationError(_("This is not a number."))
    places = getattr(Service._meta.get_field(name), "decimal_places", None)
    if places is not None:
        number = number.quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)
    return number


def parse_deadline(text, tzinfo):
    """An aware datetime from the formats operators type; a day alone is the end of that day in
    tzinfo, and a time without an offset is in tzinfo. Raises ValidationError."""
    text = text.strip()
    sheet_day = _SHEET_DAY.fullmatch(text)
    if sheet_day:
        text = sheet_day.group(1)
    moment = None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        for pattern in _LOCAL_FORMATS:
            try:
                moment = datetime.strptime(text, pattern)
                break
            except ValueError:
                continue
    if moment is None or not 2000 <= moment.year <= 2100:
        raise ValidationError(
            _(
                "Use a date like 31/12/2030 18:00, 31/12/2030, 2030-12-31 18:00 or "
                "2030-12-31T18:00-03:00."
            )
        )
    if _DAY.fullmatch(text):
        moment = datetime.combine(moment.date(), time(23, 59, 59))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tzinfo)
    return moment


def _packages(text):
    barcodes = [part.strip() for part in PACKAGE_SEPARATORS.split(text) if part.strip()]
    max_length = Package._meta.get_field("barcode").max_length
    for barcode in barcodes:
        if len(barcode) > max_length:
            raise ValidationError(
                _("The barcode “%(barcode)s” is longer than %(max)d characters.")
                % {"barcode": barcode[:20] + "…", "max": max_length}
            )
    repeated = sorted(barcode for barcode, count in Counter(barcodes).items() if count > 1)
    if repeated:
        raise ValidationError(
            _("The barcode “%(barcode)s” appears twice.") % {"barcode": repeated[0]}
        )
    return [{"barcode": barcode} for barcode in barcodes]
