"""Spreadsheet imports of customers, drivers and vehicles: what is created, updated and rejected."""

import csv
import io

import openpyxl
import pytest
from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, connection
from django.urls import reverse

from accounts import imports
from accounts.models import Customer, Driver, PartyKind, Role, Vehicle, VehicleType
from tests.factories import (
    AccountFactory,
    BranchFactory,
    CustomerFactory,
    DriverFactory,
    UserFactory,
    VehicleFactory,
)

pytestmark = pytest.mark.django_db

CPF = "529.982.247-25"
OTHER_CPF = "123.456.789-09"
CPF_WITH_LEADING_ZERO = "01234567890"
CNPJ = "11.222.333/0001-81"


def csv_file(rows, *, delimiter=",", bom=False, encoding="utf-8", name="rows.csv"):
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter).writerows(rows)
    content = buffer.getvalue().encode(encoding)
    return SimpleUploadedFile(name, (b"\xef\xbb\xbf" if bom else b"") + content, "text/csv")


def xlsx_file(rows, name="rows.xlsx"):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return SimpleUploadedFile(name, buffer.getvalue())


def run(account, kind, upload, **kwargs):
    return imports.import_rows(account=account, kind=kind, uploaded_file=upload, **kwargs)


def outcome(report):
    return [(row.number, row.action, row.key) for row in report.rows]


# Reading files ------------------------------------------------------------------------------------


def test_brazilian_excel_csv_with_semicolons_and_bom_creates_customers(account_a):
    upload = csv_file(
        [
            ["Nome", "CPF/CNPJ", "E-mail", "Telefone", "Código externo", "CEP", "Cidade", "UF"],
            ["Ana Souza", CPF, "ana@example.com", "(11) 98765-4321", "C1", "1310100", "SP", "SP"],
            ["Loja Azul", CNPJ, "", "11 3333-4444", "C2", "04538-132", "São Paulo", "São Paulo"],
        ],
        delimiter=";",
        bom=True,
    )

    report = run(account_a, "customers", upload)

    assert report.error == ""
    assert report.saved
    assert outcome(report) == [(2, "created", "Ana Souza"), (3, "created", "Loja Azul")]
    assert report.totals == {"created": 2, "updated": 0, "unchanged": 0, "rejected": 0}
    ana = Customer.objects.get(external_code="C1")
    assert ana.account == account_a
    assert (ana.kind, ana.document, ana.phone) == (
        PartyKind.PERSON,
        "52998224725",
        "+5511987654321",
    )
    assert ana.postal_code == "01310-100"  # the leading zero a spreadsheet dropped is back
    shop = Customer.objects.get(external_code="C2")
    assert (shop.kind, shop.document, shop.state) == (PartyKind.COMPANY, "11222333000181", "SP")
    assert report.rows[0].pk == ana.pk


def test_latin1_csv_is_read(account_a):
    upload = csv_file(
        [["código", "nome", "cidade"], ["C1", "José Conceição", "São João"]], encoding="latin-1"
    )

    report = run(account_a, "customers", upload)

    assert outcome(report) == [(2, "created", "José Conceição")]
    assert Customer.objects.get(external_code="C1").city == "São João"


def test_xlsx_creates_drivers_with_their_references(account_a):
    branch = BranchFactory(account=account_a, name="Centro")
    vehicle = VehicleFactory(account=account_a, plate="ABC1D23")
    header = [
        "Nome",
        "Sobrenome",
        "Usuário",
        "E-mail",
        "CPF",
        "Filial",
        "Placa",
        "Ativo",
        "Matrícula",
    ]
    # Excel keeps a CPF typed as a number without its leading zero.
    cpf = int(CPF_WITH_LEADING_ZERO)
    upload = xlsx_file(
        [
            header,
            ["Rui", "Lima", "Rui", "rui@example.com", cpf, "centro", "abc-1d23", "sim", 1001],
            ["Eva", None, "eva", "eva@example.com", None, None, None, "não", None],
        ]
    )

    report = run(account_a, "drivers", upload)

    assert outcome(report) == [(2, "created", "rui"), (3, "created", "eva")]
    rui = Driver.objects.get(username="rui")
    assert (rui.account, rui.branch, rui.vehicle) == (account_a, branch, vehicle)
    assert (rui.cpf, rui.employee_number, rui.is_active) == (CPF_WITH_LEADING_ZERO, "1001", True)
    assert Driver.objects.get(username="eva").is_active is False


def test_row_numbers_are_the_spreadsheets_blank_rows_included(account_a):
    upload = xlsx_file([[], ["placa", "tipo"], ["ABC1234", "carro"], [], ["XYZ9876", "van"]])

    report = run(account_a, "vehicles", upload)

    assert outcome(report) == [(3, "created", "ABC1234"), (5, "created", "XYZ9876")]


def test_a_csv_that_names_its_delimiter_as_excel_does(account_a):
    upload = SimpleUploadedFile("v.csv", b"sep=;\r\nplaca;tipo\r\nABC1234;van\r\n")

    report = run(account_a, "vehicles", upload)

    assert outcome(report) == [(2, "created", "ABC1234")]


def test_unknown_columns_are_reported_as_ignored(account_a):
    upload = csv_file([["code", "name", "favourite colour"], ["C1", "Ana", "blue"]])

    report = run(account_a, "customers", upload)

    assert report.ignored_columns == ["favourite colour"]
    assert report.totals["created"] == 1


# Updates ------------------------------------------------------------------------------------------


def test_customer_matched_by_external_code_is_updated_and_keeps_what_the_file_lacks(account_a):
    stored = CustomerFactory(
        account=account_a,
        external_code="C1",
        name="Ana",
        email="ana@example.com",
        phone="",
        city="Santos",
    )
    upload = csv_file([["external_code", "phone", "city"], ["C1", "+55 11 98765-4321", ""]])

    report = run(account_a, "customers", upload)

    assert outcome(report) == [(2, "updated", "Ana")]
    assert report.rows[0].changed == ["phone"]
    stored.refresh_from_db()
    assert (stored.phone, stored.email, stored.city) == (
        "+5511987654321",
        "ana@example.com",
        "Santos",
    )
    assert Customer.objects.count() == 1


def test_customer_matched_by_document_and_importing_again_changes_nothing(account_a):
    stored = CustomerFactory(account=account_a, document="52998224725", name="Ana", phone="")
    upload = csv_file([["cpf", "nome"], [CPF, "Ana Maria"]])

    first = run(account_a, "customers", upload)
    second = run(account_a, "customers", upload)

    assert outcome(first) == [(2, "updated", "Ana Maria")]
    assert outcome(second) == [(2, "unchanged", "Ana Maria")]
    stored.refresh_from_db()
    assert stored.name == "Ana Maria"
    assert Customer.objects.count() == 1


def test_customer_added_by_hand_gets_the_code_of_its_first_import(account_a):
    stored = CustomerFactory(account=account_a, document="52998224725", external_code="", phone="")

    report = run(account_a, "customers", csv_file([["code", "document"], ["C9", CPF]]))

    assert report.rows[0].action == "updated"
    stored.refresh_from_db()
    assert stored.external_code == "C9"


def test_vehicle_matched_by_plate_however_it_is_typed(account_a):
    driver = DriverFactory(account=account_a, username="rui")
    stored = VehicleFactory(account=account_a, plate="ABC1D23", type=VehicleType.CAR)
    upload = csv_file(
        [
            ["Placa", "Tipo", "Capacidade (kg)", "Capacidade (m³)", "Motorista"],
            ["abc-1d23", "Caminhão", "1.500,5", "12,25", "Rui"],
            ["XYZ9876", "moto", "", "", ""],
        ],
        delimiter=";",
    )

    report = run(account_a, "vehicles", upload)

    assert outcome(report) == [(2, "updated", "ABC1D23"), (3, "created", "XYZ9876")]
    stored.refresh_from_db()
    assert stored.type == VehicleType.TRUCK
    assert (str(stored.capacity_kg), str(stored.capacity_m3)) == ("1500.50", "12.250")
    assert stored.default_driver == driver
    assert Vehicle.objects.get(plate="XYZ9876").type == VehicleType.MOTORBIKE


def test_driver_matched_by_external_code_then_by_username(account_a):
    by_code = DriverFactory(account=account_a, username="ana", external_code="D1")
    by_username = DriverFactory(account=account_a, username="rui", phone="")
    upload = csv_file(
        [
            ["external_code", "username", "phone"],
            ["D1", "ana.new", ""],
            ["", "RUI", "11987654321"],
        ]
    )

    report = run(account_a, "drivers", upload)

    assert [row.action for row in report.rows] == ["rejected", "updated"]
    # A username has no dots: the form's own rule, reported on the row.
    assert report.rows[0].errors[0].startswith("username: ")
    by_code.refresh_from_db()
    assert by_code.username == "ana"
    by_username.refresh_from_db()
    assert by_username.phone == "+5511987654321"
    assert by_username.password  # columns the import does not know stay as they were


# Rejected rows ------------------------------------------------------------------------------------


def test_invalid_cpf_and_phone_are_rejected_with_the_reason_and_valid_rows_saved(account_a):
    upload = csv_file(
        [
            ["code", "name", "CPF", "telefone"],
            ["C1", "Ana", CPF, "11987654321"],
            ["C2", "Bia", "529.982.247-24", "11987654321"],
            ["C3", "Caio", OTHER_CPF, "12345"],
        ]
    )

    report = run(account_a, "customers", upload)

    assert [row.action for row in report.rows] == ["created", "rejected", "rejected"]
    assert report.rows[1].errors == ["CPF: This CPF is not valid (check digits do not match)."]
    assert len(report.rows[2].errors) == 1
    assert report.rows[2].errors[0].startswith("telefone: This phone number is not valid")
    assert list(Customer.objects.values_list("external_code", flat=True)) == ["C1"]


def test_a_repeated_external_code_rejects_the_second_row(account_a):
    upload = csv_file([["code", "name"], ["C1", "Ana"], ["C2", "Bia"], ["C1", "Ana again"]])

    report = run(account_a, "customers", upload)

    assert [row.action for row in report.rows] == ["created", "created", "rejected"]
    assert report.rows[2].errors == ["code: repeats row 2."]
    assert Customer.objects.get(external_code="C1").name == "Ana"


def test_a_repeated_username_among_new_drivers_is_rejected(account_a):
    upload = csv_file(
        [
            ["username", "first_name", "email"],
            ["ana", "Ana", "a@example.com"],
            ["ANA", "Bia", "b@example.com"],
        ]
    )

    report = run(account_a, "drivers", upload)

    assert [row.action for row in report.rows] == ["created", "rejected"]
    assert report.rows[1].errors == ["username: repeats row 2."]


def test_references_to_another_accounts_rows_are_rejected_by_name(account_a, account_b):
    BranchFactory(account=account_b, name="Rival Centro")
    VehicleFactory(account=account_b, plate="RIV1A23")
    upload = csv_file(
        [
            ["username", "first_name", "email", "branch", "vehicle"],
            ["ana", "Ana", "ana@example.com", "Rival Centro", "RIV1A23"],
        ]
    )

    report = run(account_a, "drivers", upload)

    assert report.rows[0].action == "rejected"
    assert report.rows[0].errors == [
        "branch: No branch named “Rival Centro” in this account.",
        "vehicle: No vehicle with plate “RIV1A23” in this account.",
    ]
    assert not Driver.objects.exists()


def test_a_new_row_missing_required_fields_says_which(account_a):
    report = run(account_a, "drivers", csv_file([["username"], ["ana"]]))

    assert report.rows[0].action == "rejected"
    assert "First name: This field is required." in report.rows[0].errors
    assert "E-mail: This field is required." in report.rows[0].errors


def test_a_stored_value_todays_rules_refuse_is_named_as_such(account_a):
    CustomerFactory(account=account_a, external_code="C1", phone="+551100000001")

    report = run(account_a, "customers", csv_file([["code", "name"], ["C1", "Ana"]]))

    assert report.rows[0].action == "rejected"
    assert report.rows[0].errors[0].startswith("Phone (the stored value): This phone number is")


def test_a_document_shared_by_several_customers_needs_a_code(account_a):
    CustomerFactory.create_batch(2, account=account_a, document="52998224725", phone="")

    report = run(account_a, "customers", csv_file([["document", "name"], [CPF, "Ana"]]))

    assert report.rows[0].errors == [
        "document: 2 customers have this document: add an external code column to say which one."
    ]


def test_columns_for_the_same_field_must_agree(account_a):
    upload = csv_file(
        [["code", "name", "CPF", "CNPJ"], ["C1", "Ana", CPF, CNPJ], ["C2", "Loja", "", CNPJ]]
    )

    report = run(account_a, "customers", upload)

    assert report.rows[0].errors == ["CPF: The columns “CPF” and “CNPJ” disagree."]
    assert report.rows[1].action == "created"


def test_a_customer_without_code_or_document_is_rejected(account_a):
    report = run(account_a, "customers", csv_file([["code", "name"], ["", "Ana"]]))

    assert report.rows[0].action == "rejected"
    assert "external code or a document" in report.rows[0].errors[0]


def test_yes_or_no_columns_refuse_other_words(account_a):
    report = run(
        account_a, "vehicles", csv_file([["plate", "type", "active"], ["ABC1234", "van", "maybe"]])
    )

    assert report.rows[0].errors == ["active: Use yes or no."]


# Malformed files ----------------------------------------------------------------------------------


def garbage():
    return bytes(range(256)) * 40


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (garbage(), "not a CSV or XLSX"),
        (b"", "empty"),
        (b"\xef\xbb\xbf\r\n\r\n", "empty"),
        (b"name;code\r\n", "no rows"),
        (b"nome;e-mail\r\nAna;ana@example.com\r\n", "needs a column"),
        (b"\xd0\xcf\x11\xe0" + bytes(100), ".xls"),
        (b"PK\x03\x04 not really a zip", "not a valid XLSX"),
    ],
    ids=["garbage", "empty", "blank", "header-only", "no-key-column", "xls", "broken-xlsx"],
)
def test_a_malformed_file_writes_nothing_and_says_why(account_a, content, message):
    CustomerFactory(account=account_a, external_code="C1", name="Kept")

    report = run(account_a, "customers", SimpleUploadedFile("upload.csv", content))

    assert message in report.error
    assert report.rows == []
    assert not report.saved
    assert list(Customer.objects.values_list("name", flat=True)) == ["Kept"]


def test_a_file_over_the_row_limit_writes_nothing(account_a):
    rows = [["code", "name"]] + [[f"C{n}", f"Name {n}"] for n in range(imports.MAX_ROWS + 1)]

    report = run(account_a, "customers", csv_file(rows))

    assert "more than 10,000 rows" in report.error
    assert not Customer.objects.exists()


def test_a_file_over_the_size_limit_writes_nothing(account_a):
    content = b"code,name\r\nC1,Ana\r\n" + b" " * imports.MAX_FILE_BYTES

    report = run(account_a, "customers", SimpleUploadedFile("big.csv", content))

    assert "larger than 10 MB" in report.error
    assert not Customer.objects.exists()


def test_dry_run_reports_without_writing(account_a):
    stored = CustomerFactory(account=account_a, external_code="C1", name="Ana", phone="")
    upload = csv_file([["code", "name"], ["C1", "Ana Maria"], ["C2", "Bia"], ["C3", ""]])

    report = run(account_a, "customers", upload, dry_run=True)

    assert [row.action for row in report.rows] == ["updated", "created", "rejected"]
    assert report.dry_run and not report.saved
    stored.refresh_from_db()
    assert stored.name == "Ana"
    assert Customer.objects.count() == 1


def test_a_clash_while_saving_leaves_none_of_the_valid_rows(account_a):
    """The valid rows are saved in one transaction: a failure on the second saves not even the
    first (the clash stands for another request saving the same code at the same moment)."""
    upload = csv_file([["code", "name"], ["C1", "Ana"], ["C2", "Bia"], ["C3", "Caio"]])
    inserts = []

    def clash_on_second_insert(execute, sql, params, many, context):
        if sql.startswith('INSERT INTO "accounts_customer"'):
            inserts.append(params)
            if len(inserts) == 2:
                raise IntegrityError("UNIQUE constraint failed: customer_unique_external_code")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(clash_on_second_insert):
        report = run(account_a, "customers", upload)

    assert len(inserts) == 2
    assert "nothing was imported" in report.error
    assert not report.saved
    assert all(row.pk is None for row in report.rows)
    assert not Customer.objects.exists()


@pytest.mark.parametrize("kind", sorted(imports.IMPORTERS))
def test_the_template_imports_cleanly(account_a, kind):
    content = imports.template_csv(kind).encode()

    report = run(account_a, kind, SimpleUploadedFile("template.csv", content), dry_run=True)

    assert report.error == ""
    assert report.ignored_columns == []
    assert [(row.action, row.errors) for row in report.rows] == [("created", [])]


# Tenancy ------------------------------------------------------------------------------------------


def test_an_import_in_b_with_codes_of_a_creates_rows_in_b_only(account_a, account_b):
    ana_a = CustomerFactory(
        account=account_a, external_code="C1", name="Ana of A", email="a@a.test"
    )
    DriverFactory(
        account=account_a, username="rui", external_code="D1", first_name="Rui of A", vehicle=None
    )
    VehicleFactory(account=account_a, plate="ABC1D23", type=VehicleType.CAR)

    customers = run(account_b, "customers", csv_file([["code", "name"], ["C1", "Ana of B"]]))
    drivers = run(
        account_b,
        "drivers",
        csv_file(
            [["code", "username", "first_name", "email"], ["D1", "rui", "Rui of B", "r@b.test"]]
        ),
    )
    vehicles = run(account_b, "vehicles", csv_file([["plate", "type"], ["ABC1D23", "van"]]))

    assert [row.action for row in customers.rows + drivers.rows + vehicles.rows] == ["created"] * 3
    ana_a.refresh_from_db()
    assert (ana_a.name, ana_a.email) == ("Ana of A", "a@a.test")
    assert Driver.objects.get(account=account_a).first_name == "Rui of A"
    assert Vehicle.objects.get(account=account_a).type == VehicleType.CAR
    assert Customer.objects.get(account=account_b).name == "Ana of B"
    assert Vehicle.objects.get(account=account_b).type == VehicleType.VAN


# The admin pages ----------------------------------------------------------------------------------


def import_url(model, name="import"):
    return reverse(f"admin:accounts_{model._meta.model_name}_{name}")


def changelist(model):
    return reverse(f"admin:accounts_{model._meta.model_name}_changelist")


def test_manager_uploads_customers_and_reads_the_report(client_of, manager_a):
    client = client_of(manager_a)
    assert import_url(Customer) in client.get(changelist(Customer)).content.decode()
    page = client.get(import_url(Customer))
    assert page.status_code == 200
    upload = csv_file(
        [["Código", "Nome", "CPF"], ["C1", "Ana", CPF], ["C2", "Bia", "111"]], delimiter=";"
    )

    response = client.post(import_url(Customer), {"file": upload})

    assert response.status_code == 200
    report = response.context["report"]
    assert [row.action for row in report.rows] == ["created", "rejected"]
    html = response.content.decode()
    assert "A CPF has 11 digits." in html
    ana = Customer.objects.get(external_code="C1")
    assert ana.account == manager_a.account
    assert reverse("admin:accounts_customer_change", args=[ana.pk]) in html
    entry = LogEntry.objects.get(object_id=str(ana.pk))
    assert (entry.user, entry.action_flag) == (manager_a, ADDITION)


def test_updates_are_recorded_in_the_history_with_the_changed_fields(client_of, manager_a):
    stored = CustomerFactory(account=manager_a.account, external_code="C1", name="Ana", phone="")
    upload = csv_file([["code", "name"], ["C1", "Ana Maria"]])

    client_of(manager_a).post(import_url(Customer), {"file": upload})

    entry = LogEntry.objects.get(object_id=str(stored.pk))
    assert entry.action_flag == CHANGE
    assert entry.get_change_message() == "Changed Name."


def test_check_only_in_the_admin_writes_nothing(client_of, manager_a):
    upload = csv_file([["plate", "type"], ["ABC1D23", "van"]])

    response = client_of(manager_a).post(import_url(Vehicle), {"file": upload, "dry_run": "on"})

    assert response.status_code == 200
    assert [row.action for row in response.context["report"].rows] == ["created"]
    assert "nothing was saved" in response.content.decode()
    assert not Vehicle.objects.exists()
    assert not LogEntry.objects.exists()


def test_a_malformed_upload_is_a_message_not_an_error_page(client_of, manager_a):
    upload = SimpleUploadedFile("photo.csv", garbage())

    response = client_of(manager_a).post(import_url(Driver), {"file": upload})

    assert response.status_code == 200
    assert "not a CSV or XLSX" in response.content.decode()
    assert not Driver.objects.exists()


def test_the_template_downloads_as_csv(client_of, manager_a):
    response = client_of(manager_a).get(import_url(Vehicle, "import_template"))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "vehicles-template.csv" in response["Content-Disposition"]
    assert response.content.decode("utf-8-sig").startswith("plate,type,")


def test_operator_imports_customers_but_not_drivers_or_vehicles(client_of, operator_a):
    client = client_of(operator_a)
    assert client.get(import_url(Customer)).status_code == 200
    for model in (Driver, Vehicle):
        upload = csv_file([["plate", "username"], ["ABC1D23", "ana"]])
        assert client.get(import_url(model)).status_code == 403
        assert client.post(import_url(model), {"file": upload}).status_code == 403
        assert client.get(import_url(model, "import_template")).status_code == 403
        assert import_url(model) not in client.get(changelist(model)).content.decode()
    assert not Vehicle.objects.exists() and not Driver.objects.exists()


@pytest.mark.parametrize("role", [Role.PARTNER, Role.CALL_CENTRE])
def test_roles_without_the_admin_cannot_reach_the_import(client_of, account_a, role):
    user = UserFactory(account=account_a, role=role)

    response = client_of(user).get(import_url(Customer))

    assert response.status_code == 302  # to the login, as every admin page


def test_anonymous_is_sent_to_log_in(client):
    response = client.get(import_url(Customer))

    assert response.status_code == 302
    assert not Customer.objects.exists()


def test_manager_of_b_imports_into_b_and_never_touches_a(client_of, manager_a, manager_b):
    ana = CustomerFactory(account=manager_a.account, external_code="C1", name="Ana of A")
    upload = csv_file([["code", "name"], ["C1", "Ana of B"]])

    response = client_of(manager_b).post(import_url(Customer), {"file": upload})

    assert [row.action for row in response.context["report"].rows] == ["created"]
    ana.refresh_from_db()
    assert ana.name == "Ana of A"
    assert Customer.objects.get(account=manager_b.account).name == "Ana of B"
    assert "Ana of A" not in response.content.decode()


def test_platform_administrator_chooses_the_account(client_of, account_a):
    admin = UserFactory(account=None, is_superuser=True, role=Role.MANAGER, email="root@x.test")
    client = client_of(admin)
    upload = csv_file([["code", "name"], ["C1", "Ana"]])

    refused = client.post(import_url(Customer), {"file": upload})
    assert refused.status_code == 200
    assert "account" in refused.context["form"].errors
    assert not Customer.objects.exists()

    upload.seek(0)
    response = client.post(import_url(Customer), {"file": upload, "account": account_a.pk})
    assert [row.action for row in response.context["report"].rows] == ["created"]
    assert Customer.objects.get().account == account_a


def test_the_account_field_is_only_for_platform_administrators(client_of, manager_a):
    other = AccountFactory(slug="other")
    upload = csv_file([["code", "name"], ["C1", "Ana"]])

    client_of(manager_a).post(import_url(Customer), {"file": upload, "account": other.pk})

    assert Customer.objects.get().account == manager_a.account
