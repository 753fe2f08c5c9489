"""The services import: good and bad files, the report, re-imports, the job and its pages."""

import csv
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from accounts.models import Customer, ImportJob, ImportJobStatus, Role
from services import imports
from services.models import EventKind, Package, Service, ServiceEvent, ServiceStatus, ServiceType
from services.tasks import import_services, purge_import_files, resume_import_jobs
from tests.factories import (
    AgencyFactory,
    BranchFactory,
    CarrierFactory,
    PartnerFactory,
    ServiceFactory,
    UserFactory,
)
from tracking.lib import br

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _without_scheduling_columns():
    """These tests describe the import alone; the scheduling app's columns are tested there."""
    from scheduling.imports import HANDLER

    imports.unregister_columns(HANDLER)
    yield
    imports.register_columns(HANDLER)


CPF = "529.982.247-25"
OTHER_CPF = "123.456.789-09"
CNPJ = "11.222.333/0001-81"
SAO_PAULO = ZoneInfo("America/Sao_Paulo")
HEADER = [
    "external_id", "recipient", "document", "email", "phone", "street", "number", "city",
    "state", "postal_code", "deadline", "packages", "branch",
]  # fmt: skip


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def branch(account_a):
    return BranchFactory(account=account_a, name="Centro", prefix="SP1")


def csv_bytes(rows, *, delimiter=";", bom=True, encoding="utf-8"):
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter).writerows(rows)
    return (b"\xef\xbb\xbf" if bom else b"") + buffer.getvalue().encode(encoding)


def xlsx_bytes(rows):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def run_import(user, content, django_capture_on_commit_callbacks, name="services.csv"):
    """Uploads content as user would and runs the task (eagerly, after commit); the job."""
    with django_capture_on_commit_callbacks(execute=True):
        job = imports.import_job_create(user=user, uploaded_file=SimpleUploadedFile(name, content))
    job.refresh_from_db()
    return job


def good_row(number, **changes):
    row = {
        "external_id": f"EXT-{number}",
        "recipient": f"Recipient {number}",
        "document": br.format_document(br.cpf_with_check_digits(f"{number:09d}")),
        "email": f"r{number}@example.com",
        "phone": "(11) 98765-4321",
        "street": "Rua Augusta",
        "number": str(number),
        "city": "São Paulo",
        "state": "SP",
        "postal_code": "01305-000",
        "deadline": "31/12/2030 18:00",
        "packages": f"BC{number}-1|BC{number}-2",
        "branch": "",
    }
    row.update(changes)
    return [row[name] for name in HEADER]


def rejected(job):
    """{row number: ["column: message", ...]} of the job's report."""
    return {
        row["row"]: [f"{error['column']}: {error['message']}" for error in row["errors"]]
        for row in job.report["rejected"]
    }


# Good files ---------------------------------------------------------------------------------------


def test_semicolon_csv_with_bom_creates_services_packages_and_customers(
    manager_a, branch, django_capture_on_commit_callbacks
):
    carrier = CarrierFactory(account=manager_a.account, name="Rápido Transportes")
    partner = PartnerFactory(account=manager_a.account, name="Loja", document="11222333000181")
    content = csv_bytes(
        [
            ["Pedido", "Nota fiscal", "Série", "Destinatário", "CPF/CNPJ", "Telefone", "Rua",
             "Número", "Bairro", "Cidade", "UF", "CEP", "Prazo", "Etiquetas", "Filial",
             "Transportadora", "Parceiro", "Peso", "Tipo", "Tempo de atendimento"],
            ["P-1", "1001", "1", "Ana Souza", CPF, "11 98765-4321", "Rua A", "10", "Centro",
             "São Paulo", "São Paulo", "1310100", "31/12/2030 18:00", "A1; A2 ;A3", "SP1",
             "rapido transportes", CNPJ, "1,5", "entrega", "10"],
            ["P-2", "1002", "1", "Ana Souza", CPF, "", "Rua B", "20", "", "Santos", "SP",
             "11010-000", "31/12/2030", "B1", "Centro", "", "", "", "coleta", ""],
            ["P-3", "", "", "Bruno Lima", OTHER_CPF, "", "", "", "", "", "", "",
             "2030-12-31T10:00:00-03:00", "", "", "", "", "", "", ""],
        ],
    )  # fmt: skip

    job = run_import(manager_a, content, django_capture_on_commit_callbacks)

    # P-3 has neither a street nor coordinates.
    assert job.status == ImportJobStatus.DONE, job.error
    assert (job.total_rows, job.processed_rows) == (3, 3)
    assert rejected(job) == {
        4: [
            "Rua: The address is missing: give the street and the city, or the coordinates "
            "(latitude and longitude)."
        ],
    }
    assert (job.created_count, job.updated_count, job.rejected_count) == (2, 0, 1)
    first = Service.objects.get(order_number="P-1")
    assert first.account == manager_a.account
    assert (first.invoice_number, first.invoice_series) == ("1001", "1")
    assert (first.street, first.number, first.district, first.city, first.state) == (
        "Rua A", "10", "Centro", "São Paulo", "SP",
    )  # fmt: skip
    assert first.postal_code == "01310-100"
    assert first.branch == branch
    assert first.carrier == carrier
    assert first.partner == partner
    assert first.weight_kg == Decimal("1.5")
    assert first.type == ServiceType.DELIVERY
    assert first.service_time_min == 10
    assert first.deadline == datetime(2030, 12, 31, 18, 0, tzinfo=SAO_PAULO)
    assert sorted(first.packages.values_list("barcode", flat=True)) == ["A1", "A2", "A3"]
    second = Service.objects.get(order_number="P-2")
    assert second.type == ServiceType.PICKUP
    assert second.deadline == datetime(2030, 12, 31, 23, 59, 59, tzinfo=SAO_PAULO)
    assert second.branch == branch  # by name this time
    # One customer for the two rows with the same document, with the phone the first row gave.
    assert first.customer == second.customer
    assert Customer.objects.filter(account=manager_a.account).count() == 1
    assert first.customer.document == br.digits(CPF)
    assert first.customer.phone == "+5511987654321"
    event = ServiceEvent.objects.get(service=first)
    assert (event.kind, event.actor_user) == (EventKind.CREATED, manager_a)


def test_xlsx_with_numbers_and_date_cells_creates_services(
    operator_a, django_capture_on_commit_callbacks
):
    content = xlsx_bytes(
        [
            ["external_id", "recipient", "document", "phone", "lat", "lng", "deadline",
             "packages", "declared_value", "volume_m3"],
            # A CPF and a phone typed as numbers: the leading zero of the CPF is lost.
            ["X-1", "Carla Dias", 1234567890, 11987654321, -23.56, -46.65,
             datetime(2030, 12, 31, 18, 0), "789001, 789002", 199.9, 0.0125],
            ["X-2", "Davi Melo", int(br.digits(CPF)), None, -23.5, -46.6, date(2030, 12, 30),
             789003, None, None],
        ]
    )  # fmt: skip

    job = run_import(operator_a, content, django_capture_on_commit_callbacks, "services.xlsx")

    assert job.status == ImportJobStatus.DONE, job.error
    assert job.report["rejected"] == []
    assert (job.created_count, job.total_rows, job.processed_rows) == (2, 2, 2)
    first = Service.objects.get(external_id="X-1")
    assert first.customer.document == "01234567890"
    assert first.customer.phone == "+5511987654321"
    assert (first.lat, first.lng) == (-23.56, -46.65)
    assert first.deadline == datetime(2030, 12, 31, 18, 0, tzinfo=SAO_PAULO)
    assert first.declared_value == Decimal("199.90")
    assert first.volume_m3 == Decimal("0.0125")
    assert sorted(first.packages.values_list("barcode", flat=True)) == ["789001", "789002"]
    second = Service.objects.get(external_id="X-2")
    # A date cell is the end of that day.
    assert second.deadline == datetime(2030, 12, 30, 23, 59, 59, tzinfo=SAO_PAULO)
    assert list(second.packages.values_list("barcode", flat=True)) == ["789003"]


# Bad rows -----------------------------------------------------------------------------------------


def test_bad_rows_are_reported_with_their_reason_and_good_rows_created(
    manager_a, branch, django_capture_on_commit_callbacks
):
    content = csv_bytes(
        [
            HEADER,
            good_row(1, branch="SP1"),
            good_row(2, document="111.111.111-12"),
            good_row(3, street="", city=""),
            good_row(4, deadline="31/02/2030"),
            good_row(5, branch="Nowhere"),
            good_row(6),
            good_row(7, deadline="tomorrow", state="XX", external_id=""),
        ]
    )

    job = run_import(manager_a, content, django_capture_on_commit_callbacks)

    assert job.status == ImportJobStatus.DONE
    date_help = (
        "Use a date like 31/12/2030 18:00, 31/12/2030, 2030-12-31 18:00 or 2030-12-31T18:00-03:00."
    )
    assert rejected(job) == {
        3: ["document: This CPF is not valid (check digits do not match)."],
        4: [
            "street: The address is missing: give the street and the city, or the coordinates "
            "(latitude and longitude)."
        ],
        5: [f"deadline: {date_help}"],
        6: ["branch: No branch with the prefix or name “Nowhere” in this account."],
        8: [
            ": Give an external id, an invoice number or an order number, so that importing "
            "the file again updates this service instead of adding a copy.",
            "state: Use the state's two-letter code (UF), e.g. SP.",
            f"deadline: {date_help}",
        ],
    }
    keys = [row["key"] for row in job.report["rejected"]]
    assert keys == ["EXT-2", "EXT-3", "EXT-4", "EXT-5", ""]
    assert (job.created_count, job.updated_count, job.rejected_count) == (2, 0, 5)
    assert set(Service.objects.values_list("external_id", flat=True)) == {"EXT-1", "EXT-6"}
    # Nothing of a rejected row is written: neither its customer nor its packages.
    assert Customer.objects.count() == 2
    assert Package.objects.count() == 4


def test_contact_and_address_cells_are_checked(manager_a, django_capture_on_commit_callbacks):
    row = good_row(1, email="nope", phone="123", postal_code="123", packages="A|B|A")

    job = run_import(manager_a, csv_bytes([HEADER, row]), django_capture_on_commit_callbacks)

    assert rejected(job) == {
        2: [
            "email: Enter a valid email address.",
            "phone: This phone number is not valid: check the area code and the number of digits.",
            "postal_code: A CEP has 8 digits.",
            "packages: The barcode “A” appears twice.",
        ]
    }


def test_a_key_repeated_in_the_file_is_rejected(manager_a, django_capture_on_commit_callbacks):
    content = csv_bytes([HEADER, good_row(1), good_row(2, document="1"), good_row(1), good_row(2)])

    job = run_import(manager_a, content, django_capture_on_commit_callbacks)

    # Row 3 was rejected, so row 5 (the same external id) is the first to write EXT-2.
    assert rejected(job) == {
        3: ["document: Type a CPF (11 digits) or a CNPJ (14 digits)."],
        4: ["external_id: repeats row 2."],
    }
    assert Service.objects.count() == 2


# Files that cannot be imported --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "name", "error"),
    [
        (bytes(range(256)) * 40, "photo.csv", "This file is not a CSV or XLSX spreadsheet."),
        (b"\x89PNG\r\n\x1a\n" + b"\x00\x01" * 500, "photo.png", "This file is not a CSV or XLSX"),
        (b"PK\x03\x04 not really a zip", "broken.xlsx", "This file is not a valid XLSX"),
        (b"\xd0\xcf\x11\xe0" + b"\x00" * 100, "old.xls", "This is an old Excel file (.xls)."),
        (b"", "empty.csv", "The file is empty."),
        (b"\xef\xbb\xbf\r\n;;;\r\n", "blank.csv", "The file is empty."),
        (csv_bytes([HEADER]), "header.csv", "The file has a header but no rows to import."),
        (
            csv_bytes([["recipient", "city"], ["Ana", "Santos"]]),
            "nokey.csv",
            "The file needs a column “external_id”, “invoice_number” or “order_number”",
        ),
    ],
)
def test_a_file_that_cannot_be_imported_fails_and_writes_nothing(
    manager_a, content, name, error, django_capture_on_commit_callbacks, settings
):
    job = run_import(manager_a, content, django_capture_on_commit_callbacks, name)

    assert job.status == ImportJobStatus.FAILED
    assert error in job.error
    assert job.finished_at is not None
    assert (job.processed_rows, job.created_count, job.rejected_count) == (0, 0, 0)
    assert not Service.objects.exists()
    assert not Customer.objects.exists()


def test_a_malformed_row_far_down_refuses_the_whole_file(
    manager_a, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(imports, "CHUNK_ROWS", 5)
    rows = [HEADER, *(good_row(number) for number in range(1, 30))]
    content = csv_bytes(rows) + b"\xef\xbb\xbf" + b"\x00" * 10  # a NUL byte near the end

    job = run_import(manager_a, content, django_capture_on_commit_callbacks)

    assert job.status == ImportJobStatus.FAILED
    assert job.error == "This file is not a CSV or XLSX spreadsheet."
    assert not Service.objects.exists()


def test_too_many_rows_refuses_the_file(manager_a, django_capture_on_commit_callbacks, monkeypatch):
    monkeypatch.setattr(imports, "MAX_ROWS", 3)
    content = csv_bytes([HEADER, *(good_row(number) for number in range(1, 5))])

    job = run_import(manager_a, content, django_capture_on_commit_callbacks)

    assert job.status == ImportJobStatus.FAILED
    assert job.error == "The file has more than 3 rows. Split it and import the parts."
    assert not Service.objects.exists()


# Importing again ----------------------------------------------------------------------------------


def test_importing_the_same_file_again_updates_instead_of_duplicating(
    manager_a, django_capture_on_commit_callbacks
):
    rows = [HEADER, good_row(1), good_row(2), good_row(3)]
    first = run_import(manager_a, csv_bytes(rows), django_capture_on_commit_callbacks)
    assert first.created_count == 3
    routed = Service.objects.get(external_id="EXT-3")
    routed.status = ServiceStatus.ROUTED
    routed.save(update_fields=["status"])
    rows[1] = good_row(1, street="Rua Nova", packages="NEW-1")

    again = run_import(manager_a, csv_bytes(rows), django_capture_on_commit_callbacks)

    assert again.status == ImportJobStatus.DONE
    assert (again.created_count, again.updated_count, again.rejected_count) == (0, 2, 1)
    assert rejected(again) == {
        4: [
            "external_id: The service EXT-3 is routed, not pending: only pending services can "
            "be changed."
        ]
    }
    assert Service.objects.count() == 3
    assert Customer.objects.count() == 3
    changed = Service.objects.get(external_id="EXT-1")
    assert changed.street == "Rua Nova"
    assert list(changed.packages.values_list("barcode", flat=True)) == ["NEW-1"]
    assert changed.events.filter(kind=EventKind.UPDATED, actor_user=manager_a).exists()
    # The row that changed nothing records no event.
    assert not Service.objects.get(external_id="EXT-2").events.filter(kind="updated").exists()


def test_rows_without_external_id_are_found_by_invoice_then_order_number(
    manager_a, django_capture_on_commit_callbacks
):
    account = manager_a.account
    by_invoice = ServiceFactory(account=account, invoice_number="55", invoice_series="2")
    by_order = ServiceFactory(account=account, order_number="ORD-9")
    ServiceFactory(account=account, order_number="TWICE")
    ServiceFactory(account=account, order_number="TWICE")
    content = csv_bytes(
        [
            ["invoice_number", "invoice_series", "order_number", "description"],
            ["55", "2", "", "by invoice"],
            ["", "", "ORD-9", "by order"],
            ["", "", "TWICE", "ambiguous"],
        ]
    )

    job = run_import(manager_a, content, django_capture_on_commit_callbacks)

    assert (job.created_count, job.updated_count) == (0, 2)
    assert rejected(job) == {
        4: [
            "order_number: Several services have this order_number: add an external id "
            "column to say which one."
        ]
    }
    by_invoice.refresh_from_db()
    by_order.refresh_from_db()
    assert (by_invoice.description, by_order.description) == ("by invoice", "by order")


def test_services_the_user_may_not_see_are_not_matched(
    account_a, branch, django_capture_on_commit_callbacks
):
    other_branch = BranchFactory(account=account_a, name="Norte", prefix="N")
    ServiceFactory(account=account_a, branch=other_branch, external_id="EXT-1")
    operator = UserFactory(account=account_a, role=Role.OPERATOR, branch=branch)
    content = csv_bytes([HEADER, good_row(1), good_row(2), good_row(3, branch="N")])

    job = run_import(operator, content, django_capture_on_commit_callbacks)

    assert rejected(job) == {
        2: ["external_id: A service with this external id exists already."],
        4: ["branch: You can import only services of Centro."],
    }
    # A branch user's new services are the branch's.
    assert Service.objects.get(external_id="EXT-2").branch == branch


# The job ------------------------------------------------------------------------------------------


def test_progress_counts_reach_the_total_chunk_by_chunk(
    manager_a, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(imports, "CHUNK_ROWS", 250)
    saved = []
    original = imports._Run._save_progress

    def spy(run, **kwargs):
        original(run, **kwargs)
        saved.append(ImportJob.objects.values_list("processed_rows", flat=True).get())

    monkeypatch.setattr(imports._Run, "_save_progress", spy)
    rows = [HEADER, *(good_row(number, packages=f"P{number}") for number in range(1, 601))]

    job = run_import(manager_a, csv_bytes(rows), django_capture_on_commit_callbacks)

    assert job.status == ImportJobStatus.DONE
    assert saved == [250, 500, 600, 600]
    assert (job.total_rows, job.processed_rows, job.created_count) == (600, 600, 600)
    assert job.progress_percent == 100
    assert Service.objects.count() == 600
    assert job.started_at <= job.finished_at


def test_running_the_task_again_for_a_finished_job_does_nothing(
    manager_a, django_capture_on_commit_callbacks
):
    content = csv_bytes([HEADER, good_row(1)])
    job = run_import(manager_a, content, django_capture_on_commit_callbacks)
    finished_at = job.finished_at

    assert imports.import_job_run(job_id=job.pk) is False
    import_services.delay(job.pk)

    job.refresh_from_db()
    assert (job.status, job.created_count, job.finished_at) == ("done", 1, finished_at)
    assert Service.objects.count() == 1
    assert ServiceEvent.objects.count() == 1


def test_a_stalled_job_is_taken_over_and_goes_on_after_its_last_committed_chunk(
    manager_a, django_capture_on_commit_callbacks
):
    rows = [HEADER, *(good_row(number) for number in range(1, 6))]
    with django_capture_on_commit_callbacks(execute=False):
        job = imports.import_job_create(
            user=manager_a, uploaded_file=SimpleUploadedFile("s.csv", csv_bytes(rows))
        )
    # A first run committed rows 2 to 3 (row 3 rejected) and its worker was lost.
    ServiceFactory(account=manager_a.account, external_id="EXT-1")
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportJobStatus.RUNNING,
        attempt=1,
        total_rows=5,
        processed_rows=2,
        created_count=1,
        rejected_count=1,
        report={"rejected": [{"row": 3, "key": "EXT-2", "errors": []}]},
        progress_at=timezone.now() - imports.STALLED_AFTER / 2,
    )
    assert imports.import_job_run(job_id=job.pk) is False  # still alive

    ImportJob.objects.filter(pk=job.pk).update(
        progress_at=timezone.now() - imports.STALLED_AFTER * 2
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert imports.import_job_run(job_id=job.pk) is True

    job.refresh_from_db()
    assert (job.status, job.attempt, job.processed_rows) == ("done", 2, 5)
    assert (job.created_count, job.updated_count, job.rejected_count) == (4, 0, 1)
    assert set(Service.objects.values_list("external_id", flat=True)) == {
        "EXT-1", "EXT-3", "EXT-4", "EXT-5",
    }  # fmt: skip


def test_a_run_that_was_taken_over_commits_nothing_more(
    manager_a, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(imports, "CHUNK_ROWS", 2)

    def take_over(service, values, account, actor):
        if service.external_id == "EXT-3":
            ImportJob.objects.update(attempt=99)
        return []

    handler = imports.register_columns(
        imports.ColumnHandler(columns={"schedule_date": ()}, apply=take_over)
    )
    try:
        header = [*HEADER, "schedule_date"]
        rows = [header, *([*good_row(number), "2030-12-01"] for number in range(1, 6))]
        job = run_import(manager_a, csv_bytes(rows), django_capture_on_commit_callbacks)
    finally:
        imports.unregister_columns(handler)

    # Rows 2 and 3 were committed; the chunk of EXT-3 was rolled back when the run found out
    # (and, the test having one connection only, the other run's claim with it).
    assert set(Service.objects.values_list("external_id", flat=True)) == {"EXT-1", "EXT-2"}
    assert (job.status, job.processed_rows, job.created_count) == ("running", 2, 2)


def test_jobs_whose_task_was_lost_are_queued_again(manager_a, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        lost, fresh = (
            imports.import_job_create(
                user=manager_a,
                uploaded_file=SimpleUploadedFile("s.csv", csv_bytes([HEADER, good_row(n)])),
            )
            for n in (1, 2)
        )
    ImportJob.objects.filter(pk=lost.pk).update(created_at=timezone.now() - timedelta(minutes=3))

    with django_capture_on_commit_callbacks(execute=True):
        assert resume_import_jobs.delay().get() == 1

    lost.refresh_from_db()
    fresh.refresh_from_db()
    assert (lost.status, fresh.status) == (ImportJobStatus.DONE, ImportJobStatus.QUEUED)
    assert list(Service.objects.values_list("external_id", flat=True)) == ["EXT-1"]


def test_uploaded_files_are_deleted_a_month_after_their_job_ended_and_the_report_stays(
    client_of, manager_a, django_capture_on_commit_callbacks
):
    old, recent = (
        run_import(manager_a, csv_bytes([HEADER, good_row(n), good_row(n + 10, document="1")]),
                   django_capture_on_commit_callbacks)
        for n in (1, 2)
    )  # fmt: skip
    with django_capture_on_commit_callbacks(execute=False):
        running = imports.import_job_create(
            user=manager_a, uploaded_file=SimpleUploadedFile("s.csv", csv_bytes([HEADER]))
        )
    month_ago = timezone.now() - timedelta(days=imports.KEEP_FILE_DAYS, minutes=1)
    ImportJob.objects.filter(pk=old.pk).update(finished_at=month_ago)
    ImportJob.objects.filter(pk=running.pk).update(
        status=ImportJobStatus.RUNNING, created_at=month_ago, progress_at=month_ago
    )
    stored = {job.pk: job.file.path for job in (old, recent, running)}
    assert all(Path(path).exists() for path in stored.values())

    assert purge_import_files.delay().get() == 1
    assert purge_import_files.delay().get() == 0  # nothing twice

    assert not Path(stored[old.pk]).exists()
    assert Path(stored[recent.pk]).exists() and Path(stored[running.pk]).exists()
    old.refresh_from_db()
    assert (old.file.name, old.status, old.created_count) == ("", ImportJobStatus.DONE, 1)
    client = client_of(manager_a)
    page = client.get(reverse("services:import_job", args=[old.pk]))
    assert page.status_code == 200
    rejected_csv = client.get(reverse("services:import_rejected", args=[old.pk]))
    assert b"EXT-11" in b"".join(rejected_csv.streaming_content)


def test_the_job_fails_when_its_author_can_no_longer_import(
    manager_a, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        job = imports.import_job_create(
            user=manager_a,
            uploaded_file=SimpleUploadedFile("s.csv", csv_bytes([HEADER, good_row(1)])),
        )
    manager_a.is_active = False
    manager_a.save(update_fields=["is_active"])

    imports.import_job_run(job_id=job.pk)

    job.refresh_from_db()
    assert job.status == ImportJobStatus.FAILED
    assert job.error == "The person who uploaded this file can no longer import services."
    assert not Service.objects.exists()


def test_messages_are_in_the_accounts_language(manager_a, django_capture_on_commit_callbacks):
    manager_a.account.language = "pt-br"
    manager_a.account.save(update_fields=["language"])

    job = run_import(manager_a, b"", django_capture_on_commit_callbacks)

    assert job.error == "O arquivo está vazio."


# The extension point ------------------------------------------------------------------------------


def test_schedule_columns_without_a_handler_are_reported_and_the_rows_imported(
    manager_a, django_capture_on_commit_callbacks
):
    content = csv_bytes(
        [[*HEADER, "Data agendamento", "Janela", "Cor"], [*good_row(1), "01/12/2030", "manhã", "x"]]
    )

    job = run_import(manager_a, content, django_capture_on_commit_callbacks)

    assert job.created_count == 1
    assert job.report["unread_columns"] == ["Data agendamento", "Janela"]
    assert job.report["ignored_columns"] == ["Cor"]


def test_a_registered_handler_reads_its_columns_in_the_rows_transaction(
    manager_a, django_capture_on_commit_callbacks
):
    calls = []

    def apply(service, values, account, actor):
        calls.append((service.external_id, service.pk is not None, values, account))
        if values.get("schedule_window") == "never":
            return [("schedule_window", "No such window."), "The day is full."]
        return []

    handler = imports.ColumnHandler(
        columns={"schedule_date": ("quando",), "schedule_window": ()},
        apply=apply,
        example={"schedule_date": "2030-12-01", "schedule_window": "morning"},
    )
    imports.register_columns(handler)
    imports.register_columns(handler)  # as AppConfig.ready() may run twice
    try:
        content = csv_bytes(
            [
                [*HEADER, "Quando", "schedule_window"],
                [*good_row(1), "2030-12-01", "morning"],
                [*good_row(2), "2030-12-01", "never"],
                [*good_row(3), "", ""],
            ]
        )
        job = run_import(manager_a, content, django_capture_on_commit_callbacks)
        assert "schedule_window" in imports.template_csv().splitlines()[0]
        with pytest.raises(ValueError, match="deadline"):
            imports.register_columns(imports.ColumnHandler(columns={"deadline": ()}, apply=apply))
    finally:
        imports.unregister_columns(handler)

    assert calls == [
        ("EXT-1", True, {"schedule_date": "2030-12-01", "schedule_window": "morning"}, job.account),
        ("EXT-2", True, {"schedule_date": "2030-12-01", "schedule_window": "never"}, job.account),
    ]
    assert rejected(job) == {3: ["schedule_window: No such window.", ": The day is full."]}
    # The rejected row left nothing behind: no service, customer, package or event.
    assert set(Service.objects.values_list("external_id", flat=True)) == {"EXT-1", "EXT-3"}
    assert Customer.objects.count() == 2
    assert not Package.objects.filter(barcode__startswith="BC2-").exists()
    assert "schedule_window" not in imports.template_csv()


# Deadlines ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2030-12-31 18:00", datetime(2030, 12, 31, 18, 0, tzinfo=SAO_PAULO)),
        ("31/12/2030 18:00", datetime(2030, 12, 31, 18, 0, tzinfo=SAO_PAULO)),
        ("31/12/2030", datetime(2030, 12, 31, 23, 59, 59, tzinfo=SAO_PAULO)),
        ("2030-12-31", datetime(2030, 12, 31, 23, 59, 59, tzinfo=SAO_PAULO)),
        ("2030-12-31T00:00:00", datetime(2030, 12, 31, 23, 59, 59, tzinfo=SAO_PAULO)),
        ("2030-12-31T18:00:00-02:00", datetime(2030, 12, 31, 20, 0, tzinfo=UTC)),
        ("2030-12-31T18:00:00Z", datetime(2030, 12, 31, 18, 0, tzinfo=UTC)),
    ],
)
def test_deadline_formats(text, expected):
    assert imports.parse_deadline(text, SAO_PAULO) == expected


@pytest.mark.parametrize("text", ["31/02/2030", "tomorrow", "12/31/2030", "1900-01-01"])
def test_bad_deadlines(text):
    with pytest.raises(imports.ValidationError):
        imports.parse_deadline(text, SAO_PAULO)


# Pages --------------------------------------------------------------------------------------------


def test_upload_redirects_to_the_job_page_which_shows_the_report(
    client_of, manager_a, django_capture_on_commit_callbacks
):
    client = client_of(manager_a)
    content = csv_bytes([HEADER, good_row(1), good_row(2, document="1")])
    upload = SimpleUploadedFile("my services.csv", content)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("services:import"), {"file": upload})

    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("services:import_job", args=[job.pk])
    assert (job.account, job.created_by, job.kind) == (manager_a.account, manager_a, "services")
    assert job.original_name == "my services.csv"
    assert job.file.name.startswith("imports/")
    page = client.get(response.url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "my services.csv" in html
    assert 'hx-trigger="every 1s"' not in html  # finished: no more polling
    assert 'data-count="created">1<' in html
    assert "Type a CPF (11 digits) or a CNPJ (14 digits)." in html
    listing = client.get(reverse("services:import")).content.decode()
    assert f'data-import-job="{job.pk}"' in listing
    rejected_csv = client.get(reverse("services:import_rejected", args=[job.pk]))
    lines = b"".join(rejected_csv.streaming_content).decode().splitlines()
    assert lines == [
        "row,service,column,reason",
        "3,EXT-2,document,Type a CPF (11 digits) or a CNPJ (14 digits).",
    ]


def test_the_status_partial_polls_until_the_job_is_finished(client_of, manager_a):
    with_poll = 'hx-get="{}" hx-trigger="every 1s"'
    job = ImportJob.objects.create(
        account=manager_a.account,
        kind="services",
        created_by=manager_a,
        file="imports/x.csv",
        status=ImportJobStatus.RUNNING,
        total_rows=2000,
        processed_rows=500,
    )
    url = reverse("services:import_status", args=[job.pk])
    client = client_of(manager_a)

    running = client.get(url, headers={"HX-Request": "true"}).content.decode()
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJobStatus.FAILED, error="Broken.")
    failed = client.get(url, headers={"HX-Request": "true"}).content.decode()

    assert with_poll.format(url) in running
    assert 'aria-valuenow="25"' in running
    assert "500 of 2000 rows" in running
    assert "hx-trigger" not in failed
    assert "Broken." in failed


def test_upload_refuses_a_file_too_large(client_of, manager_a, monkeypatch):
    monkeypatch.setattr(imports, "MAX_FILE_BYTES", 10)
    response = client_of(manager_a).post(
        reverse("services:import"), {"file": SimpleUploadedFile("a.csv", b"x" * 11)}
    )
    assert response.status_code == 200
    assert "The file is larger than" in response.content.decode()
    assert not ImportJob.objects.exists()


def test_templates_list_the_columns_and_import_cleanly(
    client_of, operator_a, django_capture_on_commit_callbacks
):
    client = client_of(operator_a)
    csv_response = client.get(reverse("services:import_template"))
    xlsx_response = client.get(reverse("services:import_template_xlsx"))

    text = csv_response.content.decode("utf-8-sig")
    header, example = list(csv.reader(io.StringIO(text)))
    assert header == list(imports.COLUMNS)
    assert "schedule_date" not in header
    assert example[header.index("recipient")] == "Maria Silva"
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx_response.content)).active
    assert [cell.value for cell in sheet[1]] == header
    for content, name in [(csv_response.content, "t.csv"), (xlsx_response.content, "t.xlsx")]:
        job = run_import(operator_a, content, django_capture_on_commit_callbacks, name)
        assert job.report["rejected"] == [], job.report
    service = Service.objects.get(external_id="PED-1001-1")
    assert service.deadline == datetime(2030, 12, 31, 18, 0, tzinfo=SAO_PAULO)
    assert service.packages.count() == 2


@pytest.mark.parametrize(
    "name", ["import_job", "import_status", "import_rejected"], ids=lambda name: name
)
def test_another_accounts_job_is_not_found(client_of, manager_a, manager_b, name):
    job = ImportJob.objects.create(
        account=manager_b.account, kind="services", created_by=manager_b, file="imports/b.csv"
    )
    response = client_of(manager_a).get(reverse(f"services:{name}", args=[job.pk]))
    assert response.status_code == 404


def test_a_branch_user_sees_only_their_own_jobs(client_of, account_a, manager_a, branch):
    operator = UserFactory(account=account_a, role=Role.OPERATOR, branch=branch)
    theirs = ImportJob.objects.create(
        account=account_a, kind="services", created_by=manager_a, file="imports/a.csv"
    )
    client = client_of(operator)
    assert client.get(reverse("services:import_job", args=[theirs.pk])).status_code == 404
    listing = client.get(reverse("services:import")).content.decode()
    assert f'data-import-job="{theirs.pk}"' not in listing
    manager = client_of(manager_a)
    assert manager.get(reverse("services:import_job", args=[theirs.pk])).status_code == 200


@pytest.mark.parametrize("role", [Role.PARTNER, Role.CARRIER, Role.CALL_CENTRE])
def test_users_who_cannot_import_get_not_found(client_of, account_a, manager_a, role):
    scope = {}
    if role == Role.PARTNER:
        scope["partner"] = PartnerFactory(account=account_a)
    if role == Role.CARRIER:
        scope["carrier"] = CarrierFactory(account=account_a)
    user = UserFactory(account=account_a, role=role, **scope)
    job = ImportJob.objects.create(
        account=account_a, kind="services", created_by=manager_a, file="imports/a.csv"
    )
    client = client_of(user)
    for url in [
        reverse("services:import"),
        reverse("services:import_template"),
        reverse("services:import_template_xlsx"),
        reverse("services:import_job", args=[job.pk]),
        reverse("services:import_status", args=[job.pk]),
    ]:
        assert client.get(url).status_code == 404, url
    response = client.post(
        reverse("services:import"), {"file": SimpleUploadedFile("a.csv", b"a;b\r\n1;2\r\n")}
    )
    assert response.status_code == 404
    assert ImportJob.objects.count() == 1


def test_anonymous_users_are_sent_to_log_in(client):
    response = client.get(reverse("services:import"))
    assert response.status_code == 302
    assert "/login" in response.url


def test_agency_is_found_by_name(manager_a, django_capture_on_commit_callbacks):
    agency = AgencyFactory(account=manager_a.account, name="Marca Azul")
    content = csv_bytes([[*HEADER, "agencia"], [*good_row(1), "marca azul"]])

    run_import(manager_a, content, django_capture_on_commit_callbacks)

    assert Service.objects.get().agency == agency
