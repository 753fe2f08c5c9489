"""Hostile spreadsheets in the imports (the services import and the admin's customer import) and
formulas in exported cells.

A file that cannot be imported is one clear message and writes nothing, never a 500: binary
garbage, text in UTF-16 without its byte-order mark, zip bombs dressed as XLSX (a row of millions
of cells, a member that unpacks a thousand times its size, a row wider than any spreadsheet) and
zips that are no workbook. Latin-1 and UTF-16 text with its mark are read. Exported cells that a
spreadsheet would run (=, +, -, @, tab, carriage return first) are written as text."""

import csv
import io
import random
import zipfile

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts import imports as account_imports
from accounts.models import Customer, ImportJob, ImportJobStatus
from services.exports import safe_text
from services.models import Service
from tests.factories import CustomerFactory, ServiceFactory

pytestmark = pytest.mark.django_db

NOT_XLSX = "This file is not a valid XLSX spreadsheet."
NOT_A_SPREADSHEET = "This file is not a CSV or XLSX spreadsheet."


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture(autouse=True)
def _without_scheduling_columns():
    from scheduling.imports import HANDLER
    from services import imports

    imports.unregister_columns(HANDLER)
    yield
    imports.register_columns(HANDLER)


# Files --------------------------------------------------------------------------------------------


def csv_text(rows):
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=";").writerows(rows)
    return buffer.getvalue()


def xlsx_bytes(rows, replace_sheet=None):
    """A real workbook; replace_sheet(xml) rewrites its first sheet's XML (a hostile one)."""
    workbook = openpyxl.Workbook()
    for row in rows:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    if replace_sheet is None:
        return buffer.getvalue()
    source = zipfile.ZipFile(buffer)
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as archive:
        for member in source.infolist():
            data = source.read(member.filename)
            if member.filename == "xl/worksheets/sheet1.xml":
                data = replace_sheet(data.decode()).encode()
            archive.writestr(member, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    return output.getvalue()


def with_row(cells):
    """Sheet XML rewriter: a header row, then one row of the given <c> elements."""

    def rewrite(xml):
        head, _, rest = xml.partition("<sheetData>")
        tail = rest.partition("</sheetData>")[2]
        rows = '<row r="1"><c t="inlineStr"><is><t>code</t></is></c></row>'
        rows += f'<row r="2">{"".join(cells)}</row>'
        return f"{head}<sheetData>{rows}</sheetData>{tail}"

    return rewrite


def million_cell_row():
    """Half a million cells in one row, about 60 KB zipped (openpyxl alone took 2 GB and half a
    minute over two million)."""
    return xlsx_bytes([], with_row(['<c t="inlineStr"><is><t>x</t></is></c>'] * 500_000))


def huge_cell():
    """One cell of 20 million characters in a 20 KB file."""
    return xlsx_bytes([], with_row([f'<c t="inlineStr"><is><t>{"A" * 20_000_000}</t></is></c>']))


def too_wide_row():
    """A row of 20,000 different numbers: it compresses like real data but is wider than Excel's
    16,384 columns."""
    rng = random.Random(7)
    return xlsx_bytes([], with_row([f"<c><v>{rng.random()}</v></c>" for _ in range(20_000)]))


def zip_without_a_workbook():
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w") as archive:
        archive.writestr("notes.txt", "code;name\nC1;Ana\n")
    return output.getvalue()


# (how to make the file, its name, the message): made when a test runs, not at collection.
HOSTILE_FILES = {
    "garbage": (lambda: bytes(range(256)) * 64, "customers.csv", NOT_A_SPREADSHEET),
    "utf-16 without its mark": (
        lambda: csv_text([["code", "name"], ["C1", "Ana"]]).encode("utf-16-le"),
        "customers.csv",
        NOT_A_SPREADSHEET,
    ),
    "million-cell row": (million_cell_row, "customers.xlsx", NOT_XLSX),
    "huge cell": (huge_cell, "customers.xlsx", NOT_XLSX),
    "too wide row": (too_wide_row, "customers.xlsx", NOT_XLSX),
    "zip without a workbook": (zip_without_a_workbook, "customers.xlsx", NOT_XLSX),
}


# The admin's customer import ----------------------------------------------------------------------

CUSTOMER_IMPORT = reverse("admin:accounts_customer_import")


@pytest.mark.parametrize("case", HOSTILE_FILES)
def test_a_hostile_customer_file_is_one_message_and_writes_nothing(client_of, manager_a, case):
    make, name, message = HOSTILE_FILES[case]
    content = make()
    CustomerFactory(account=manager_a.account, external_code="K1", name="Kept")

    response = client_of(manager_a).post(
        CUSTOMER_IMPORT, {"file": SimpleUploadedFile(name, content)}
    )

    assert response.status_code == 200
    assert message in response.content.decode()
    assert list(Customer.objects.values_list("name", flat=True)) == ["Kept"]


@pytest.mark.parametrize(
    ("encoding", "mark"),
    [("latin-1", b""), ("cp1252", b""), ("utf-16-le", b"\xff\xfe"), ("utf-16-be", b"\xfe\xff")],
)
def test_customer_files_in_other_encodings_are_read(manager_a, encoding, mark):
    text = csv_text([["código", "nome", "cidade"], ["C1", "José Conceição", "São João"]])
    upload = SimpleUploadedFile("customers.csv", mark + text.encode(encoding))

    report = account_imports.import_rows(
        account=manager_a.account, kind="customers", uploaded_file=upload
    )

    assert not report.error
    customer = Customer.objects.get()
    assert (customer.name, customer.city) == ("José Conceição", "São João")


# The services import (a background job; tasks run eagerly in tests) -------------------------------

SERVICES_HEADER = ["external_id", "recipient", "street", "number", "city", "state"]


def upload_services(client, content, name, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("services:import"), {"file": SimpleUploadedFile(name, content)}
        )
    assert response.status_code == 302
    page = client.get(response.url)
    assert page.status_code == 200
    return ImportJob.objects.get(), page.content.decode()


@pytest.mark.parametrize("case", HOSTILE_FILES)
def test_a_hostile_services_file_fails_its_job_with_one_message(
    client_of, manager_a, case, django_capture_on_commit_callbacks
):
    make, name, message = HOSTILE_FILES[case]
    content = make()
    client = client_of(manager_a)

    job, page = upload_services(client, content, name, django_capture_on_commit_callbacks)

    assert job.status == ImportJobStatus.FAILED
    assert message in job.error and message in page
    assert not Service.objects.exists()
    assert not Customer.objects.exists()


@pytest.mark.parametrize(("encoding", "mark"), [("latin-1", b""), ("utf-16-le", b"\xff\xfe")])
def test_services_files_in_other_encodings_are_read(
    client_of, manager_a, encoding, mark, django_capture_on_commit_callbacks
):
    rows = [SERVICES_HEADER, ["E1", "José Conceição", "Rua Três", "7", "São João", "SP"]]
    content = mark + csv_text(rows).encode(encoding)

    job, _page = upload_services(
        client_of(manager_a), content, "services.csv", django_capture_on_commit_callbacks
    )

    assert job.status == ImportJobStatus.DONE, job.error
    service = Service.objects.get()
    assert (service.customer.name, service.city) == ("José Conceição", "São João")


# Formulas in exported cells -----------------------------------------------------------------------

FORMULAS = [
    '=HYPERLINK("http://evil.example","x")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]


@pytest.mark.parametrize("text", FORMULAS)
def test_safe_text_makes_formulas_plain_text(text):
    assert safe_text(text) == "'" + text


@pytest.mark.parametrize("text", ["Ana", "+55 11 98765-4321", "-12.5", "(11) 3333-4444", ""])
def test_safe_text_keeps_numbers_and_words(text):
    assert safe_text(text) == text


def exported_cells(client, fmt):
    response = client.get(f"{reverse('services:export')}?format={fmt}")
    assert response.status_code == 200
    content = b"".join(response.streaming_content)
    if fmt == "csv":
        rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    else:
        sheet = openpyxl.load_workbook(io.BytesIO(content)).active
        rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    return [str(cell) for row in rows[1:] for cell in row if cell is not None]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_services_export_writes_formulas_as_text(client_of, manager_a, fmt):
    account = manager_a.account
    for number, text in enumerate(FORMULAS):
        customer = CustomerFactory(account=account, name=text.strip() or "x")
        ServiceFactory(account=account, customer=customer, description=text,
                       order_number=f"{text[:1]}{number}")  # fmt: skip

    cells = exported_cells(client_of(manager_a), fmt)

    for text in FORMULAS:
        written = [cell for cell in cells if cell.lstrip("'").startswith(text.strip())]
        assert written, text
        assert all(cell.startswith("'") for cell in written), written


def test_the_rejected_rows_file_of_an_import_writes_formulas_as_text(
    client_of, manager_a, django_capture_on_commit_callbacks
):
    rows = [SERVICES_HEADER, ["=cmd|' /C calc'!A0", "@SUM(1)", "", "", "", "XX"]]
    client = client_of(manager_a)
    job, _page = upload_services(
        client, csv_text(rows).encode(), "services.csv", django_capture_on_commit_callbacks
    )
    assert job.rejected_count == 1

    response = client.get(reverse("services:import_rejected", args=[job.pk]))

    content = b"".join(response.streaming_content).decode("utf-8-sig")
    cells = [cell for row in csv.reader(io.StringIO(content)) for cell in row]
    assert "'=cmd|' /C calc'!A0" in cells
    assert not any(cell.startswith(("=", "@", "+", "-")) for cell in cells)
