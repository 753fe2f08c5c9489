"""Spreadsheet imports (CSV and XLSX) of customers, drivers and vehicles, checked by settings forms.

A file is read whole, every row is matched and validated with the same form the web admin uses, and
then the valid rows are saved in one transaction; rejected rows are reported and skipped. A file
that cannot be read saves nothing, and neither does a dry run.
"""

import abc
import codecs
import contextlib
import csv
import io
import itertools
import re
import unicodedata
import zipfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time
from functools import cache
from xml.etree import ElementTree

import openpyxl
from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, models, transaction
from django.utils import translation
from django.utils.formats import number_format
from django.utils.text import get_text_list
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from localflavor.br.br_states import STATE_CHOICES

from tracking.lib import br
from tracking.lib.errors import DomainError

from .models import (
    Branch,
    Carrier,
    Customer,
    Driver,
    PartyKind,
    Vehicle,
    VehicleType,
    supported_language,
)
from .settings_forms import CustomerForm, DriverForm, VehicleForm

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_ROWS = 10_000
# Lines read at most, blank ones included: a sheet formatted far down yields many empty rows.
MAX_LINES = 5 * MAX_ROWS
MAX_COLUMNS = 100
LOOKUP_CHUNK = 500

CREATED, UPDATED, UNCHANGED, REJECTED = "created", "updated", "unchanged", "rejected"
ACTIONS = {
    CREATED: gettext_lazy("created"),
    UPDATED: gettext_lazy("updated"),
    UNCHANGED: gettext_lazy("unchanged"),
    REJECTED: gettext_lazy("rejected"),
}

XLSX_MAGIC = b"PK\x03\x04"
XLS_MAGIC = b"\xd0\xcf\x11\xe0"
# An XLSX is a zip of XML, and openpyxl keeps all shared strings and each whole row in memory: a
# 200 KB zip whose row has two million cells took 2 GB and half a minute. Before openpyxl reads a
# file, its unpacked size (from the zip's directory: Python's zipfile never unpacks more than a
# member declares), each large member's compression ratio and its sheets' row widths are checked.
XLSX_MAX_UNPACKED_BYTES = 200 * 1024 * 1024
XLSX_MAX_RATIO = 100  # deflated XML of real sheets shrinks 5 to 30 times
XLSX_RATIO_FROM_BYTES = 1024 * 1024
XLSX_MAX_ROW_CELLS = 16_384  # Excel's last column (XFD)


class FileRejected(DomainError):
    """The uploaded file cannot be imported at all (unreadable, empty, too big, wrong columns)."""

    code = "import_file_rejected"


@dataclass
class RowResult:
    number: int  # the row as the spreadsheet shows it: the header is row 1
    action: str  # CREATED, UPDATED, UNCHANGED or REJECTED
    key: str = ""  # what the row is about: a customer's name, a driver's username, a plate
    errors: list[str] = field(default_factory=list)  # "field: message"
    pk: int | None = None  # the saved (or matched) row
    changed: list[str] = field(default_factory=list)  # model fields an update changes

    @property
    def action_label(self):
        return ACTIONS[self.action]


@dataclass
class ImportReport:
    kind: str
    dry_run: bool = False
    rows: list[RowResult] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    error: str = ""  # why the whole file was refused (then nothing was saved)
    saved: bool = False  # whether the valid rows were written

    @property
    def totals(self):
        counts = Counter(row.action for row in self.rows)
        return {action: counts[action] for action in ACTIONS}

    @property
    def rejected_rows(self):
        return [row for row in self.rows if row.action == REJECTED]


def import_rows(*, account, kind, uploaded_file, dry_run=False) -> ImportReport:
    """Imports the file's rows into account. Valid rows are saved together in one transaction and
    rejected rows are reported; an unreadable file, a clash while saving, or dry_run saves nothing.
    Raises KeyError for an unknown kind; bad input never raises, it is reported."""
    importer_class = IMPORTERS[kind]
    report = ImportReport(kind=kind, dry_run=dry_run)
    try:
        header, lines = read_sheet(uploaded_file)
        importer = importer_class(account, header, lines)
    except FileRejected as exc:
        report.error = exc.message
        return report
    report.ignored_columns = importer.ignored
    pending = []
    for number, cells in lines:
        result, form = importer.check(number, cells)
        report.rows.append(result)
        if form is not None and result.action in (CREATED, UPDATED):
            pending.append((result, form))
    if dry_run or not pending:
        return report
    try:
        with transaction.atomic():
            for result, form in pending:
                obj = form.save(commit=False)
                if result.action == CREATED:
                    obj.save()
                else:
                    obj.save(update_fields=result.changed)
                result.pk = obj.pk
    except IntegrityError:
        # Only a concurrent change can get here: the rows were checked against the stored ones.
        for result, _form in pending:
            if result.action == CREATED:
                result.pk = None
        report.error = _(
            "Another change to the same records was saved while this file was being imported, "
            "so nothing was imported. Import the file again."
        )
        return report
    report.saved = True
    return report


def template_csv(kind) -> str:
    """A CSV with the columns the import of kind reads, in English, and one example row."""
    importer_class = IMPORTERS[kind]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(importer_class.columns)
    writer.writerow(importer_class.example.get(name, "") for name in importer_class.columns)
    return buffer.getvalue()


def columns_help(kind):
    """The columns the import of kind reads: [(name, other names it accepts, is a key column)]."""
    importer_class = IMPORTERS[kind]
    return [
        (name, aliases, name in importer_class.key_columns)
        for name, aliases in importer_class.columns.items()
    ]


# Reading the file ---------------------------------------------------------------------------------


def read_sheet(uploaded_file):
    """The header (a list of titles) and the non-blank rows [(row number, cells)] of a CSV or the
    first sheet of an XLSX. Raises FileRejected when the file cannot be imported."""
    size = getattr(uploaded_file, "size", None)
    if size is not None and size > MAX_FILE_BYTES:
        raise FileRejected(_too_big())
    if hasattr(uploaded_file, "seek"):
        uploaded_file.seek(0)
    content = uploaded_file.read(MAX_FILE_BYTES + 1)
    if len(content) > MAX_FILE_BYTES:
        raise FileRejected(_too_big())
    if content.startswith(XLSX_MAGIC):
        return _collect(xlsx_lines(content))
    if content.startswith(XLS_MAGIC):
        raise FileRejected(
            _("This is an old Excel file (.xls). Save it as .xlsx or CSV and try again.")
        )
    return _collect(csv_lines(content))


def _too_big():
    return _("The file is larger than %(size)s MB. Split it and import the parts.") % {
        "size": MAX_FILE_BYTES // (1024 * 1024)
    }


def not_a_spreadsheet():
    return _("This file is not a CSV or XLSX spreadsheet.")


def _collect(lines):
    header = None
    rows = []
    for number, values in lines:
        if number > MAX_LINES:
            raise FileRejected(_too_many_rows())
        cells = [cell_text(value) for value in values[:MAX_COLUMNS]]
        if not any(cells):
            continue
        if header is None:
            header = cells
        elif len(rows) == MAX_ROWS:
            raise FileRejected(_too_many_rows())
        else:
            rows.append((number, cells))
    if header is None:
        raise FileRejected(_("The file is empty."))
    if not rows:
        raise FileRejected(_("The file has a header but no rows to import."))
    return header, rows


def _too_many_rows():
    return _("The file has more than %(count)s rows. Split it and import the parts.") % {
        "count": number_format(MAX_ROWS, force_grouping=True)
    }


def csv_lines(content):
    text = decode(content)
    if looks_binary(text):
        raise FileRejected(not_a_spreadsheet())
    yield from csv_records(io.StringIO(text, newline=""))


def csv_records(lines):
    """(row number, cells) of CSV text given line by line (a text file opened with newline="" is
    read as it goes). The delimiter is the one a first line "sep=;" declares, else the commonest
    of comma, semicolon and tab in the first non-blank line. Raises FileRejected when malformed."""
    lines = iter(lines)
    first_line = next(lines, "")
    # Excel honours (and writes) a first line "sep=;" naming the delimiter; it is not a row.
    declared = re.fullmatch(r"sep=(.)", first_line.rstrip("\r\n"), flags=re.IGNORECASE)
    if declared:
        head, delimiter = [], declared.group(1)
    else:
        head = [first_line]
        while not head[-1].strip() and (line := next(lines, None)) is not None:
            head.append(line)
        delimiter = max((",", ";", "\t"), key=head[-1].count)
    reader = csv.reader(itertools.chain(head, lines), delimiter=delimiter)
    number = 0
    try:
        for number, record in enumerate(reader, start=1):
            yield number, record
    except csv.Error as exc:
        raise FileRejected(
            _("The CSV file is malformed near row %(row)d: %(error)s")
            % {"row": number + 1, "error": exc}
        ) from exc


def decode(content):
    """UTF-8 (with or without BOM), UTF-16 with a BOM, or the Windows / Latin-1 code page."""
    return content.decode(text_encoding([content]))


def text_encoding(chunks):
    """The encoding of CSV bytes given in chunks, read once and not kept: UTF-16 when they start
    with its BOM, else UTF-8 (with or without BOM), else the Windows code page, else Latin-1.
    Raises FileRejected for bytes that are not text (NUL bytes, broken UTF-16)."""
    decoders = None
    utf16 = False
    for chunk in chunks:
        if not chunk:
            continue
        if decoders is None:
            utf16 = chunk.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
            names = ["utf-16"] if utf16 else ["utf-8-sig", "cp1252"]
            decoders = {name: codecs.getincrementaldecoder(name)() for name in names}
        if not utf16 and b"\x00" in chunk:
            raise FileRejected(not_a_spreadsheet())
        for name, decoder in list(decoders.items()):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError:
                del decoders[name]
    for name, decoder in list((decoders or {}).items()):
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            del decoders[name]
    if decoders is None:
        return "utf-8-sig"
    if decoders:
        return next(iter(decoders))
    if utf16:
        raise FileRejected(not_a_spreadsheet())
    return "latin-1"


def looks_binary(text):
    sample = text[:100_000]
    controls = sum(
        1 for char in sample if char not in "\t\r\n" and unicodedata.category(char) == "Cc"
    )
    return controls > len(sample) / 100


def xlsx_lines(source):
    """(row number, cell values) of the first sheet of an XLSX given as bytes or a seekable binary
    file (read as it goes). Raises FileRejected when the file is not a valid XLSX, or would unpack
    to more than a spreadsheet holds (zip bombs)."""
    if isinstance(source, bytes):
        source = io.BytesIO(source)
    check_xlsx_archive(source)
    source.seek(0)
    try:
        workbook = openpyxl.load_workbook(source, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds (zip, XML, KeyError) on a damaged file
        raise FileRejected(_("This file is not a valid XLSX spreadsheet.")) from exc
    try:
        if not workbook.worksheets:
            raise FileRejected(_("The spreadsheet has no sheet."))
        rows = workbook.worksheets[0].iter_rows(max_col=MAX_COLUMNS, values_only=True)
        yield from enumerate(rows, start=1)
    except FileRejected:
        raise
    except Exception as exc:  # as above, while the sheet's rows are parsed
        raise FileRejected(_("This file is not a valid XLSX spreadsheet.")) from exc
    finally:
        workbook.close()


def check_xlsx_archive(source):
    """Raises FileRejected for a zip that unpacks to too much, unpacks much more than real sheets
    do, or has a row wider than a spreadsheet can be; streams the sheets, keeping one row."""
    invalid = FileRejected(_("This file is not a valid XLSX spreadsheet."))
    try:
        with zipfile.ZipFile(source) as archive:
            members = archive.infolist()
            if sum(member.file_size for member in members) > XLSX_MAX_UNPACKED_BYTES:
                raise invalid
            for member in members:
                if member.file_size > max(
                    XLSX_RATIO_FROM_BYTES, XLSX_MAX_RATIO * member.compress_size
                ):
                    raise invalid
            for member in members:
                if re.fullmatch(r"xl/worksheets/[^/]+\.xml", member.filename):
                    with archive.open(member) as sheet:
                        _check_row_widths(sheet, invalid)
    except FileRejected:
        raise
    except Exception as exc:  # zipfile and the XML parser raise many kinds on a damaged file
        raise invalid from exc


def _check_row_widths(sheet, invalid):
    sheet_data = None
    cells = 0
    # ElementTree never fetches external entities, and expat (2.4.1 on) refuses entity expansion
    # bombs ("billion laughs"); openpyxl parses the same XML the same way.
    events = ElementTree.iterparse(sheet, events=("start", "end"))  # noqa: S314
    for event, element in events:
        tag = element.tag.rpartition("}")[2]
        if event == "start":
            if tag == "sheetData":
                sheet_data = element
            elif tag == "row":
                cells = 0
        elif tag == "c":
            cells += 1
            if cells > XLSX_MAX_ROW_CELLS:
                raise invalid
        elif tag == "row" and sheet_data is not None:
            sheet_data.clear()  # the rows read so far: only counts are kept


def cell_text(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        # Spreadsheets store codes and phones typed as numbers as floats: 11987654321.0.
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value).replace("\x00", "").strip()


def slug(text):
    """A header or a choice compared without case, accents and punctuation: "Código Externo" is
    "codigo_externo", "Capacidade (m³)" is "capacidade_m3"."""
    ascii_text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "_", ascii_text.lower()).strip("_")


def fold(text):
    return " ".join(slug(text).split("_"))


# Values -------------------------------------------------------------------------------------------

_TRUE = {"1", "yes", "y", "true", "sim", "s", "x", "active", "ativo", "ativa", "verdadeiro", "v"}
_FALSE = {"0", "no", "n", "false", "nao", "inactive", "inativo", "inativa", "falso", "f"}
STATES = {slug(name): code for code, name in STATE_CHOICES} | {
    slug(code): code for code, _name in STATE_CHOICES
}
_PARTY_KINDS = {
    PartyKind.PERSON: ("person", "pessoa", "pf", "fisica", "pessoa_fisica", "cpf", "individual"),
    PartyKind.COMPANY: ("company", "empresa", "pj", "juridica", "pessoa_juridica", "cnpj"),
}
# Language names beside the codes supported_language reads ("pt_BR", "es-AR").
_LANGUAGES = {
    "en": ("english", "ingles"),
    "pt-br": ("portuguese", "portugues", "brazilian_portuguese", "portugues_brasil"),
    "es": ("spanish", "espanol", "espanhol"),
}
_VEHICLE_TYPES = {
    VehicleType.MOTORBIKE: ("motorbike", "moto", "motocicleta", "motorcycle"),
    VehicleType.CAR: ("car", "carro", "automovel", "passeio"),
    VehicleType.VAN: ("van", "furgao", "utilitario"),
    VehicleType.TRUCK: ("truck", "caminhao", "vuc"),
    VehicleType.BICYCLE: ("bicycle", "bicicleta", "bike"),
}


def choice_table(choices, aliases):
    table = {}
    for value, names in aliases.items():
        for name in (value, *names):
            table[slug(name)] = value
    for value, label in choices:
        for code, _name in settings.LANGUAGES:
            with translation.override(code):
                table.setdefault(slug(str(label)), value)
    return table


def number_text(text):
    """A number as the forms read it: "1.500,5" and "1,500.5" are both 1500.5."""
    text = text.replace(" ", "")
    if "," in text and "." in text:
        if text.rfind(",") > text.rfind("."):
            return text.replace(".", "").replace(",", ".")
        return text.replace(",", "")
    return text.replace(",", ".")


def restore_zeros(text, width, shortest):
    """Spreadsheets drop leading zeros from documents and postal codes typed as numbers."""
    if text.isdigit() and shortest <= len(text) < width:
        return text.zfill(width)
    return text


class _Rejected(Exception):
    def __init__(self, name, message):
        super().__init__(message)
        self.name = name
        self.message = message


def _chunks(values):
    values = sorted(values)
    for start in range(0, len(values), LOOKUP_CHUNK):
        yield values[start : start + LOOKUP_CHUNK]


# Importers ----------------------------------------------------------------------------------------


class _Importer(abc.ABC):
    """Reads one file's rows of one kind into forms: matched, converted, checked for repeats."""

    model = None
    form_class = None
    # The form fields the file may set, each with the other titles its column may have.
    columns = {}
    # The file needs at least one of these columns: they say which stored row a line updates.
    key_columns = ()
    boolean_fields = ()
    number_fields = ()
    example = {}

    def __init__(self, account, header, lines):
        self.account = account
        self.titles = defaultdict(list)  # form field -> the file's titles for it
        self.mapping = {}  # column index -> form field
        self.ignored = []
        aliases = _alias_table(type(self))
        for index, title in enumerate(header):
            if not title:
                continue
            name = aliases.get(slug(title))
            if name is None:
                self.ignored.append(title)
            else:
                self.mapping[index] = name
                self.titles[name].append(title)
        if not set(self.key_columns) & set(self.titles):
            raise FileRejected(
                _("The file needs a column %(columns)s. Its columns are: %(found)s.")
                % {
                    "columns": get_text_list([f"“{name}”" for name in self.key_columns], _("or")),
                    "found": ", ".join(f"“{title}”" for title in header if title),
                }
            )
        concrete = {f.name: f for f in self.model._meta.concrete_fields}
        # The model fields the form edits: compared before and after to tell what an update changes.
        self.model_fields = [
            concrete[name]
            for name in self.form_class.base_fields
            if name in concrete and name != "account"
        ]
        self.seen = {}  # (field, value) or ("pk", pk) -> the row that first had it
        self.preload([self._raw_values(cells)[0] for _number, cells in lines])

    # To be defined by each kind.

    def preload(self, rows):  # noqa: B027 - optional: kinds without references load nothing
        """Loads, in a few queries, the stored rows the file's rows may match or refer to."""

    def convert(self, values, errors):
        """The form data for the row's values; problems appended to errors as (field, message)."""
        return dict(values)

    @abc.abstractmethod
    def match(self, data):
        """The stored row this line updates, or None to create one; raises _Rejected."""

    @abc.abstractmethod
    def unique_keys(self, data):
        """The (field, value) pairs no other line of the file may repeat."""

    @abc.abstractmethod
    def key(self, data, instance):
        """What the report shows to name the row (a name, a plate, a username)."""

    # Shared.

    def check(self, number, cells):
        """The row's outcome and, when it may be saved, its validated form."""
        values, errors = self._raw_values(cells)
        data = self.convert(self._convert_common(values, errors), errors)
        instance = None
        try:
            instance = self.match(data)
        except _Rejected as exc:
            errors.append((exc.name, exc.message))
        key = self.key(data, instance)
        repeated = self._claim(number, data, instance)
        if repeated:
            return self._rejected(number, key, repeated + errors), None
        before = (
            {f.name: f.value_from_object(instance) for f in self.model_fields} if instance else {}
        )
        form = self.form_class(
            data={**self._stored_data(instance), **data}, instance=instance, account=self.account
        )
        if not form.is_valid() or errors:
            reported = {name for name, _message in errors}
            errors += [
                (None if name == NON_FIELD_ERRORS else name, message)
                for name, messages in form.errors.items()
                if name not in reported
                for message in messages
            ]
            return self._rejected(number, key, errors, values if instance else None), None
        if instance is None:
            return RowResult(number, CREATED, key), form
        changed = [
            f.name
            for f in self.model_fields
            if f.value_from_object(form.instance) != before[f.name]
        ]
        action = UPDATED if changed else UNCHANGED
        return RowResult(number, action, key, pk=instance.pk, changed=changed), form

    def _raw_values(self, cells):
        values, errors = {}, []
        for index, name in self.mapping.items():
            text = cells[index] if index < len(cells) else ""
            if not text:
                continue  # an empty cell keeps what is stored
            if name not in values:
                values[name] = text
            elif values[name] != text:
                errors.append(
                    (
                        name,
                        _("The columns %(columns)s disagree.")
                        % {
                            "columns": get_text_list(
                                [f"“{t}”" for t in self.titles[name]], _("and")
                            )
                        },
                    )
                )
        return values, errors

    def _convert_common(self, values, errors):
        data = dict(values)
        for name in self.boolean_fields:
            if name in data:
                word = slug(data[name])
                if word in _TRUE:
                    data[name] = True
                elif word in _FALSE:
                    data[name] = False
                else:
                    errors.append((name, _("Use yes or no.")))
                    del data[name]
        for name in self.number_fields:
            if name in data:
                data[name] = number_text(data[name])
        return data

    def _stored_data(self, instance):
        """The form data of what is stored, so columns the file lacks keep their values."""
        instance = instance or self.model(account=self.account)
        data = {}
        for model_field in self.model_fields:
            if isinstance(model_field, models.FileField):
                continue  # the form keeps the stored file when none is uploaded
            value = model_field.value_from_object(instance)
            data[model_field.name] = "" if value is None else value
        return data

    def _claim(self, number, data, instance):
        keys = list(self.unique_keys(data))
        if instance is not None:
            keys.append(("pk", instance.pk))
        repeated = []
        for name, value in keys:
            first = self.seen.setdefault((name, value), number)
            if first == number:
                continue
            if name == "pk":
                repeated.append(
                    (None, _("updates the same record as row %(row)d.") % {"row": first})
                )
            else:
                repeated.append((name, _("repeats row %(row)d.") % {"row": first}))
        return repeated[:1]

    def _rejected(self, number, key, errors, provided=None):
        messages = []
        for name, message in errors:
            if not name:
                messages.append(str(message))
                continue
            label = self.label(name)
            if provided is not None and name not in provided:
                # Stored before today's rules: the row cannot be saved until it is fixed.
                label = _("%(field)s (the stored value)") % {"field": label}
            messages.append(f"{label}: {message}")
        return RowResult(number, REJECTED, key, errors=list(dict.fromkeys(messages)))

    def label(self, name):
        if self.titles.get(name):
            return self.titles[name][0]
        form_field = self.form_class.base_fields.get(name)
        if form_field is not None and form_field.label:
            return str(form_field.label)
        return str(self.model._meta.get_field(name).verbose_name)

    def _lookup(self, queryset, name, values):
        """The account's rows whose field name has one of values, in a query per LOOKUP_CHUNK."""
        found = []
        for chunk in _chunks(values):
            found.extend(queryset.filter(account=self.account, **{f"{name}__in": chunk}))
        for row in found:
            row.account = self.account  # the forms read it: one query per row otherwise
        return found

    def _reference(self, data, errors, name, table, message):
        """Replaces the name in data[name] by the pk of the account's row it names."""
        if name not in data:
            return
        target = table.get(data[name])
        if target is None:
            errors.append((name, message % {"value": data[name]}))
            del data[name]
        else:
            data[name] = target.pk


@cache
def _alias_table(importer_class):
    """Title (as slug) -> form field: the field's name, its aliases, its label in each language."""
    table = {}
    for name, aliases in importer_class.columns.items():
        for alias in (name, *aliases):
            table.setdefault(slug(alias), name)
    for name in importer_class.columns:
        label = importer_class.model._meta.get_field(name).verbose_name
        for code, _name in settings.LANGUAGES:
            with translation.override(code):
                table.setdefault(slug(str(label)), name)
    return table


class CustomerImporter(_Importer):
    model = Customer
    form_class = CustomerForm
    columns = {
        "name": ("nome", "nome_completo", "razao_social", "full_name"),
        "trade_name": ("nome_fantasia", "fantasia"),
        "document": ("documento", "cpf", "cnpj", "cpf_cnpj", "cnpj_cpf"),
        "kind": ("tipo", "tipo_pessoa", "pessoa", "type"),
        "email": ("e-mail", "mail"),
        "phone": ("telefone", "celular", "fone", "mobile", "tel"),
        "external_code": ("codigo", "codigo_externo", "cod_externo", "code", "external_id"),
        "language": ("idioma", "lingua", "lang", "locale"),
        "postal_code": ("cep", "zip", "zip_code", "postcode"),
        "street": ("logradouro", "rua", "endereco", "address"),
        "number": ("numero", "no", "n", "num", "nro"),
        "complement": ("complemento",),
        "district": ("bairro", "neighbourhood", "neighborhood"),
        "city": ("cidade", "municipio"),
        "state": ("uf", "estado"),
        "country": ("pais",),
        "lat": ("latitude",),
        "lng": ("lon", "long", "longitude"),
    }
    key_columns = ("external_code", "document")
    number_fields = ("lat", "lng")
    example = {
        "name": "Maria Silva",
        "document": "529.982.247-25",
        "kind": "person",
        "email": "maria@example.com",
        "phone": "+55 11 98765-4321",
        "external_code": "CLI-0001",
        "language": "pt-br",
        "postal_code": "01310-100",
        "street": "Avenida Paulista",
        "number": "1000",
        "complement": "Apto 12",
        "district": "Bela Vista",
        "city": "São Paulo",
        "state": "SP",
        "country": "BR",
        "lat": "-23.5614",
        "lng": "-46.6559",
    }

    def preload(self, rows):
        codes = {row["external_code"] for row in rows if row.get("external_code")}
        documents = {br.digits(row["document"]) for row in rows if row.get("document")}
        documents |= {d.zfill(width) for d in documents for width in (11, 14) if len(d) < width}
        customers = Customer.objects.all()
        self.by_code = {c.external_code: c for c in self._lookup(customers, "external_code", codes)}
        self.by_document = defaultdict(list)
        for customer in self._lookup(customers, "document", documents - {""}):
            self.by_document[customer.document].append(customer)
        self.kinds = choice_table(PartyKind.choices, _PARTY_KINDS)
        self.languages = choice_table(settings.LANGUAGES, _LANGUAGES)

    def convert(self, data, errors):
        if "language" in data:
            language = supported_language(data["language"]) or self.languages.get(
                slug(data["language"])
            )
            if language is None:
                codes = ", ".join(code for code, _name in settings.LANGUAGES)
                errors.append(("language", _("Use one of %(codes)s.") % {"codes": codes}))
                del data["language"]
            else:
                data["language"] = language
        if "kind" in data:
            kind = self.kinds.get(slug(data["kind"]))
            if kind is None:
                errors.append(("kind", _("Use person or company (or PF or PJ).")))
                del data["kind"]
            else:
                data["kind"] = kind
        if "document" in data:
            document = data["document"]
            is_company = data.get("kind") == PartyKind.COMPANY or (
                "kind" not in data and 11 < len(document) < 14
            )
            document = restore_zeros(document, *((14, 12) if is_company else (11, 8)))
            data["document"] = document
            if "kind" not in data and len(br.digits(document)) in (11, 14):
                is_company = len(br.digits(document)) == 14
                data["kind"] = PartyKind.COMPANY if is_company else PartyKind.PERSON
        if "postal_code" in data:
            data["postal_code"] = restore_zeros(data["postal_code"], 8, 5)
        if "state" in data:
            data["state"] = STATES.get(slug(data["state"]), data["state"])
        return data

    def match(self, data):
        code = data.get("external_code", "")
        document = br.digits(data.get("document", ""))
        if code:
            if code in self.by_code:
                return self.by_code[code]
            # A customer added by hand (without a code) gets the code of its first import.
            uncoded = [c for c in self.by_document.get(document, []) if not c.external_code]
            return uncoded[0] if len(uncoded) == 1 else None
        if document:
            found = self.by_document.get(document, [])
            if len(found) > 1:
                raise _Rejected(
                    "document",
                    _(
                        "%(count)d customers have this document: add an external code column "
                        "to say which one."
                    )
                    % {"count": len(found)},
                )
            return found[0] if found else None
        raise _Rejected(
            None,
            _(
                "Give an external code or a document, so that importing the file again updates "
                "this customer instead of adding a copy."
            ),
        )

    def unique_keys(self, data):
        if data.get("external_code"):
            return [("external_code", data["external_code"])]
        if data.get("document"):
            return [("document", br.digits(data["document"]))]
        return []

    def key(self, data, instance):
        if data.get("name"):
            return data["name"]
        if instance is not None:
            return instance.name
        return data.get("external_code") or data.get("document", "")


class DriverImporter(_Importer):
    model = Driver
    form_class = DriverForm
    columns = {
        "first_name": ("nome", "primeiro_nome", "given_name"),
        "last_name": ("sobrenome", "surname", "family_name"),
        "username": ("usuario", "user", "login", "nome_de_usuario"),
        "email": ("e-mail", "mail"),
        "phone": ("telefone", "celular", "fone", "mobile"),
        "cpf": (),
        "rg": (),
        "employee_number": ("matricula", "registration", "numero_funcionario"),
        "external_code": ("codigo", "codigo_externo", "cod_externo", "code", "external_id"),
        "branch": ("filial", "unidade"),
        "carrier": ("transportadora",),
        "vehicle": ("veiculo", "placa", "plate"),
        "time_zone": ("fuso_horario", "timezone"),
        "is_active": ("active", "ativo", "ativa"),
    }
    key_columns = ("external_code", "username")
    boolean_fields = ("is_active",)
    example = {
        "first_name": "João",
        "last_name": "Souza",
        "username": "joao-souza",
        "email": "joao@example.com",
        "phone": "+55 11 91234-5678",
        "cpf": "123.456.789-09",
        "rg": "12.345.678-9",
        "employee_number": "1001",
        "external_code": "MOT-0001",
        "is_active": "yes",
    }

    def preload(self, rows):
        codes = {row["external_code"] for row in rows if row.get("external_code")}
        usernames = {row["username"].lower() for row in rows if row.get("username")}
        plates = set()
        for row in rows:
            try:
                plates.add(br.normalise_plate(row.get("vehicle", "")))
            except ValidationError:
                continue
        drivers = Driver.objects.all()
        self.by_code = {d.external_code: d for d in self._lookup(drivers, "external_code", codes)}
        self.by_username = {d.username: d for d in self._lookup(drivers, "username", usernames)}
        self.branches = Names(Branch.objects.filter(account=self.account), "name")
        self.carriers = Names(Carrier.objects.filter(account=self.account), "name", "trade_name")
        vehicles = self._lookup(Vehicle.objects.all(), "plate", plates)
        self.vehicles = {vehicle.plate: vehicle for vehicle in vehicles}

    def convert(self, data, errors):
        if "username" in data:
            data["username"] = data["username"].lower()
        if "cpf" in data:
            data["cpf"] = restore_zeros(data["cpf"], 11, 8)
        if "vehicle" in data:
            # An invalid plate is reported below as a vehicle the account does not have.
            with contextlib.suppress(ValidationError):
                data["vehicle"] = br.normalise_plate(data["vehicle"])
        self._reference(
            data, errors, "branch", self.branches, _("No branch named “%(value)s” in this account.")
        )
        self._reference(
            data,
            errors,
            "carrier",
            self.carriers,
            _("No carrier named “%(value)s” in this account."),
        )
        self._reference(
            data,
            errors,
            "vehicle",
            self.vehicles,
            _("No vehicle with plate “%(value)s” in this account."),
        )
        return data

    def match(self, data):
        code = data.get("external_code", "")
        username = data.get("username", "")
        if code:
            if code in self.by_code:
                return self.by_code[code]
            # A driver added by hand (without a code) gets the code of its first import.
            by_username = self.by_username.get(username)
            return by_username if by_username and not by_username.external_code else None
        if username:
            return self.by_username.get(username)
        raise _Rejected(None, _("Give an external code or a username."))

    def unique_keys(self, data):
        return [(name, data[name]) for name in ("external_code", "username") if data.get(name)]

    def key(self, data, instance):
        if data.get("username"):
            return data["username"]
        if instance is not None:
            return instance.username
        return data.get("external_code", "")


class VehicleImporter(_Importer):
    model = Vehicle
    form_class = VehicleForm
    columns = {
        "plate": ("placa",),
        "type": ("tipo", "vehicle_type", "tipo_de_veiculo", "tipo_veiculo"),
        "capacity_kg": ("capacidade_kg", "carga_kg"),
        "capacity_m3": ("capacidade_m3", "volume_m3"),
        "speed_kmh": (
            "speed_km_h", "velocidade", "velocidade_kmh", "velocidade_km_h", "velocidade_media",
        ),
        "default_driver": ("motorista", "driver", "motorista_padrao"),
        "is_active": ("active", "ativo", "ativa"),
    }  # fmt: skip
    key_columns = ("plate",)
    boolean_fields = ("is_active",)
    number_fields = ("capacity_kg", "capacity_m3", "speed_kmh")
    example = {
        "plate": "ABC1D23",
        "type": "van",
        "capacity_kg": "1200",
        "capacity_m3": "8.5",
        "speed_kmh": "40",
        "is_active": "yes",
    }

    def preload(self, rows):
        plates = set()
        for row in rows:
            try:
                plates.add(br.normalise_plate(row.get("plate", "")))
            except ValidationError:
                continue
        self.by_plate = {v.plate: v for v in self._lookup(Vehicle.objects.all(), "plate", plates)}
        usernames = {row["default_driver"].lower() for row in rows if row.get("default_driver")}
        drivers = self._lookup(Driver.objects.all(), "username", usernames)
        self.drivers = {driver.username: driver for driver in drivers}
        self.types = choice_table(VehicleType.choices, _VEHICLE_TYPES)

    def convert(self, data, errors):
        if "plate" in data:
            # An invalid plate is left as typed: the form says what a plate looks like.
            with contextlib.suppress(ValidationError):
                data["plate"] = br.normalise_plate(data["plate"])
        if "type" in data:
            data["type"] = self.types.get(slug(data["type"]), data["type"])
        if "default_driver" in data:
            data["default_driver"] = data["default_driver"].lower()
        self._reference(
            data,
            errors,
            "default_driver",
            self.drivers,
            _("No driver with username “%(value)s” in this account."),
        )
        return data

    def match(self, data):
        return self.by_plate.get(data.get("plate", ""))

    def unique_keys(self, data):
        return [("plate", data["plate"])] if data.get("plate") else []

    def key(self, data, instance):
        return data.get("plate", "")


class Names:
    """The account's rows by name: the exact name first, else ignoring case and accents when that
    names one row only."""

    def __init__(self, queryset, *fields):
        self.exact = {}
        folded = defaultdict(set)
        for row in queryset:
            for name in fields:
                value = getattr(row, name)
                if value:
                    self.exact.setdefault(value, row)
                    folded[fold(value)].add(row)
        self.folded = {key: rows.pop() for key, rows in folded.items() if len(rows) == 1}

    def get(self, value):
        return self.exact.get(value) or self.folded.get(fold(value))


IMPORTERS = {
    "customers": CustomerImporter,
    "drivers": DriverImporter,
    "vehicles": VehicleImporter,
}
