"""A customer's own language: how codes are read, the fallback to the account's, and where it is
set (the admin, the customers import, the integration API)."""

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts import imports
from accounts.apikeys import api_key_create
from accounts.models import Customer, supported_language
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

CPF = "529.982.247-25"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("pt-br", "pt-br"),
        ("pt_BR", "pt-br"),
        ("PT-BR", "pt-br"),
        ("pt", "pt-br"),
        ("es", "es"),
        ("es-AR", "es"),
        ("en_US", "en"),
        ("EN", "en"),
        ("fr", None),
        ("klingon", None),
        ("", None),
        (None, None),
    ],
)
def test_supported_language_reads_common_spellings(text, code):
    assert supported_language(text) == code


def test_a_customer_without_a_language_follows_the_accounts(account_a):
    customer = CustomerFactory(account=account_a)
    assert customer.language == "" and customer.language_code == "en"
    account_a.language = "es"
    account_a.save(update_fields=["language"])
    customer.refresh_from_db()
    assert customer.language_code == "es"
    customer.language = "pt-br"
    assert customer.language_code == "pt-br"


# The admin ----------------------------------------------------------------------------------------


def test_the_admin_sets_a_customers_language(client_of, manager_a):
    customer = CustomerFactory(account=manager_a.account, name="Ana", kind="person")
    client = client_of(manager_a)
    url = reverse("admin:accounts_customer_change", args=[customer.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert 'name="language"' in page.content.decode()

    form = page.context["adminform"].form
    data = {
        name: "" if value is None else value
        for name, value in form.initial.items()
        if name in form.fields
    }
    data["language"] = "pt-br"
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    customer.refresh_from_db()
    assert customer.language == "pt-br"


# The customers import -----------------------------------------------------------------------------


def csv_file(rows):
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return SimpleUploadedFile("customers.csv", buffer.getvalue().encode(), "text/csv")


def test_the_import_reads_a_language_column_row_by_row(account_a):
    upload = csv_file(
        [
            ["name", "external_code", "idioma"],
            ["Ana", "C1", "pt_BR"],
            ["Bia", "C2", "es-AR"],
            ["Caio", "C3", "EN"],
            ["Duda", "C4", "Português"],
            ["Edu", "C5", ""],
            ["Fabi", "C6", "fr"],
        ]
    )
    report = imports.import_rows(account=account_a, kind="customers", uploaded_file=upload)

    assert report.ignored_columns == []
    assert [(row.key, row.action) for row in report.rows] == [
        ("Ana", "created"),
        ("Bia", "created"),
        ("Caio", "created"),
        ("Duda", "created"),
        ("Edu", "created"),
        ("Fabi", "rejected"),
    ]
    assert report.rows[-1].errors == ["idioma: Use one of en, pt-br, es."]
    languages = dict(Customer.objects.values_list("external_code", "language"))
    assert languages == {"C1": "pt-br", "C2": "es", "C3": "en", "C4": "pt-br", "C5": ""}


def test_an_import_without_the_column_keeps_the_stored_language(account_a):
    CustomerFactory(account=account_a, name="Ana", external_code="C1", language="es")
    upload = csv_file([["name", "external_code"], ["Ana Souza", "C1"]])
    report = imports.import_rows(account=account_a, kind="customers", uploaded_file=upload)
    assert [(row.action, row.changed) for row in report.rows] == [("updated", ["name"])]
    assert Customer.objects.get().language == "es"


# The integration API ------------------------------------------------------------------------------


def payload(**customer):
    return {
        "external_id": "ORD-1",
        "customer": {"name": "Maria Silva", "external_code": "C-77", **customer},
        "address": {"street": "Avenida Paulista", "city": "São Paulo"},
    }


@pytest.fixture
def api_post(client, account_a, manager_a):
    _key, raw = api_key_create(account=account_a, name="Shop ERP", created_by=manager_a)

    def post(data, path=""):
        return client.post(
            "/api/v1/services" + path,
            data,
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {raw}",
        )

    return post


def test_the_api_sets_the_customers_language(api_post):
    response = api_post(payload(language="pt_BR"))
    assert response.status_code == 201, response.json()
    assert response.json()["customer"]["language"] == "pt-br"
    assert Customer.objects.get().language == "pt-br"


def test_the_api_leaves_the_language_blank_when_not_sent(api_post):
    response = api_post(payload())
    assert response.status_code == 201, response.json()
    assert response.json()["customer"]["language"] == ""


def test_the_api_refuses_an_unknown_language_with_422(api_post):
    response = api_post(payload(language="klingon"))
    assert response.status_code == 422
    assert "customer.language" in response.json()["error"]["fields"]
    assert not Customer.objects.exists()
