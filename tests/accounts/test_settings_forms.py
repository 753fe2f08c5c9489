"""Validation a Brazilian operator expects on the account settings."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from accounts.models import PartyKind, Role
from accounts.settings_forms import (
    BranchForm,
    CustomerForm,
    DriverForm,
    PartnerForm,
    UserForm,
    VehicleForm,
)
from tests import factories as f
from tracking.lib import br

pytestmark = pytest.mark.django_db

VALID_CPF = "529.982.247-25"
VALID_CNPJ = "11.222.333/0001-81"


def customer(account, **data):
    return CustomerForm(data={"kind": PartyKind.PERSON, "name": "Ana", **data}, account=account)


@pytest.mark.parametrize(
    ("value", "stored"), [(VALID_CPF, "52998224725"), ("52998224725", "52998224725")]
)
def test_valid_cpf_is_stored_as_digits(account_a, value, stored):
    form = customer(account_a, document=value)
    assert form.is_valid(), form.errors
    assert form.save().document == stored


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("529.982.247-24", "check digits"),
        ("111.111.111-11", "check digits"),
        ("1234", "11 digits"),
    ],
)
def test_invalid_cpf_is_refused(account_a, value, message):
    form = customer(account_a, document=value)
    assert not form.is_valid()
    assert message in str(form.errors["document"])


def test_company_needs_a_valid_cnpj(account_a):
    assert CustomerForm(
        data={"kind": PartyKind.COMPANY, "name": "ACME", "document": VALID_CNPJ}, account=account_a
    ).is_valid()
    form = CustomerForm(
        data={"kind": PartyKind.COMPANY, "name": "ACME", "document": "11.222.333/0001-82"},
        account=account_a,
    )
    assert not form.is_valid()
    assert "check digits" in str(form.errors["document"])
    # A CPF is not a company's document.
    form = CustomerForm(
        data={"kind": PartyKind.COMPANY, "name": "ACME", "document": VALID_CPF}, account=account_a
    )
    assert "14 digits" in str(form.errors["document"])


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("(11) 98765-4321", "+5511987654321"),
        ("11 98765 4321", "+5511987654321"),
        ("+55 21 2345-6789", "+552123456789"),
    ],
)
def test_phones_are_normalised_to_e164(account_a, typed, stored):
    form = customer(account_a, phone=typed)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["phone"] == stored


@pytest.mark.parametrize("typed", ["123", "(11) 1234", "not a phone"])
def test_invalid_phones_are_refused(account_a, typed):
    form = customer(account_a, phone=typed)
    assert not form.is_valid()
    assert "phone" in form.errors


def test_postal_code_and_state_are_normalised(account_a):
    form = customer(account_a, postal_code="01310100", state="SP")
    assert form.is_valid(), form.errors
    assert form.cleaned_data["postal_code"] == "01310-100"
    assert not customer(account_a, postal_code="0131").is_valid()
    assert not customer(account_a, state="XX").is_valid()


def test_external_code_is_unique_per_account(account_a, account_b):
    f.CustomerFactory(account=account_a, external_code="C-1")
    form = customer(account_a, external_code="C-1")
    assert not form.is_valid()
    assert "already has this external code" in str(form.errors["external_code"])
    # Another account may use the same code.
    assert customer(account_b, external_code="C-1").is_valid()
    # Editing the row that has it is fine.
    existing = f.CustomerFactory(account=account_a, external_code="C-2")
    form = CustomerForm(
        data={"kind": PartyKind.PERSON, "name": "New name", "external_code": "C-2"},
        instance=existing,
    )
    assert form.is_valid(), form.errors


def test_branch_and_partner_documents_are_checked(account_a):
    form = BranchForm(
        data={"name": "Centro", "kind": PartyKind.COMPANY, "document": "123", "country": "BR"},
        account=account_a,
    )
    assert "document" in form.errors
    assert PartnerForm(data={"name": "P", "document": VALID_CNPJ}, account=account_a).is_valid()
    assert not PartnerForm(data={"name": "P", "document": "1"}, account=account_a).is_valid()


@pytest.mark.parametrize(
    ("typed", "stored"), [("abc-1234", "ABC1234"), ("ABC1D23", "ABC1D23"), ("abc 1d23", "ABC1D23")]
)
def test_plates_are_normalised(account_a, typed, stored):
    form = VehicleForm(data={"type": "car", "plate": typed}, account=account_a)
    assert form.is_valid(), form.errors
    assert form.save().plate == stored


def test_plates_are_unique_per_account(account_a, account_b):
    f.VehicleFactory(account=account_a, plate="ABC1234")
    form = VehicleForm(data={"type": "car", "plate": "abc-1234"}, account=account_a)
    assert not form.is_valid()
    assert "plate" in form.errors
    assert VehicleForm(data={"type": "van", "plate": "ABC1234"}, account=account_b).is_valid()
    assert not VehicleForm(data={"type": "car", "plate": "AB12345"}, account=account_a).is_valid()


def driver_data(**extra):
    return {
        "first_name": "Ana",
        "username": "ana",
        "email": "ana@example.com",
        "is_active": "on",
        **extra,
    }


def test_driver_username_is_unique_per_account_and_login_has_the_prefix(account_a, account_b):
    form = DriverForm(data=driver_data(new_password="s3cret-pass"), account=account_a)
    assert form.is_valid(), form.errors
    driver = form.save()
    assert driver.login == "acme.ana"
    assert driver.check_password("s3cret-pass")
    assert not DriverForm(data=driver_data(), account=account_a).is_valid()
    assert DriverForm(data=driver_data(), account=account_b).is_valid()


def test_driver_needs_an_email_a_valid_cpf_and_a_clean_username(account_a):
    form = DriverForm(
        data=driver_data(email="", cpf="123.456.789-00", username="Ana Souza"), account=account_a
    )
    assert not form.is_valid()
    assert {"email", "cpf", "username"} <= set(form.errors)


def png(width, height, mode="RGB"):
    buffer = io.BytesIO()
    Image.new(mode, (width, height), "red").save(buffer, format="PNG")
    return SimpleUploadedFile("photo.png", buffer.getvalue(), content_type="image/png")


def test_driver_photo_is_resized(account_a, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    form = DriverForm(data=driver_data(), files={"photo": png(3000, 2000)}, account=account_a)
    assert form.is_valid(), form.errors
    driver = form.save()
    with Image.open(driver.photo.path) as image:
        assert max(image.size) == 480
        assert image.format == "JPEG"


def test_a_file_that_is_not_an_image_is_refused(account_a):
    fake = SimpleUploadedFile("photo.png", b"<?php echo 1; ?>", content_type="image/png")
    form = DriverForm(data=driver_data(), files={"photo": fake}, account=account_a)
    assert not form.is_valid()
    assert "photo" in form.errors


def user_data(**extra):
    return {"email": "someone@acme.test", "role": Role.OPERATOR, "is_active": "on", **extra}


def test_partner_and_carrier_users_need_their_scope(account_a):
    form = UserForm(data=user_data(role=Role.PARTNER), account=account_a)
    assert "partner" in form.errors
    partner = f.PartnerFactory(account=account_a)
    assert UserForm(
        data=user_data(role=Role.PARTNER, partner=partner.pk), account=account_a
    ).is_valid()
    carrier = f.CarrierFactory(account=account_a)
    form = UserForm(data=user_data(role=Role.OPERATOR, carrier=carrier.pk), account=account_a)
    assert "carrier" in form.errors


def test_call_centre_chat_scope(account_a):
    carrier = f.CarrierFactory(account=account_a)
    form = UserForm(
        data=user_data(role=Role.CALL_CENTRE, chat_carriers=[carrier.pk], chat_states=["SP", "RJ"]),
        account=account_a,
    )
    assert form.is_valid(), form.errors
    user = form.save()
    assert user.chat_states == ["SP", "RJ"]
    assert list(user.chat_carriers.all()) == [carrier]
    bad = UserForm(data=user_data(role=Role.CALL_CENTRE, chat_states=["ZZ"]), account=account_a)
    assert "chat_states" in bad.errors


def test_user_online_means_seen_in_the_last_five_minutes(manager_a):
    from datetime import timedelta

    from django.utils import timezone

    manager_a.last_seen_at = timezone.now() - timedelta(minutes=4)
    assert manager_a.is_online
    manager_a.last_seen_at = timezone.now() - timedelta(minutes=6)
    assert not manager_a.is_online


def test_br_helpers_format_documents():
    assert br.format_document("52998224725") == VALID_CPF
    assert br.format_document("11222333000181") == VALID_CNPJ
