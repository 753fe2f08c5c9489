"""The web admin: each user sees only their account's rows and changes what their role allows."""

import pytest
from django.core import mail
from django.urls import reverse

from accounts.models import Branch, Driver, Role, User
from tests.factories import (
    BranchFactory,
    UserFactory,
    VehicleFactory,
)

pytestmark = pytest.mark.django_db


def changelist(model):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def change(obj):
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


def test_manager_adds_a_branch_in_own_account(client_of, manager_a):
    response = client_of(manager_a).post(
        reverse("admin:accounts_branch_add"),
        {"name": "Centro", "kind": "company", "country": "BR", "is_active": "on"},
    )
    assert response.status_code == 302
    assert Branch.objects.get(name="Centro").account == manager_a.account


def test_manager_cannot_attach_another_accounts_vehicle_to_a_driver(
    client_of, manager_a, manager_b
):
    foreign_vehicle = VehicleFactory(account=manager_b.account)
    response = client_of(manager_a).post(
        reverse("admin:accounts_driver_add"),
        {
            "first_name": "Zé",
            "username": "ze",
            "email": "ze@acme.test",
            "vehicle": foreign_vehicle.pk,
            "is_active": "on",
        },
    )
    assert response.status_code == 200
    assert "vehicle" in response.context["adminform"].form.errors
    assert not Driver.objects.filter(username="ze").exists()


def test_driver_password_is_set_from_the_admin_and_stored_hashed(client_of, manager_a):
    client_of(manager_a).post(
        reverse("admin:accounts_driver_add"),
        {
            "first_name": "Zé",
            "username": "ze",
            "email": "ze@acme.test",
            "new_password": "s3cret-pass",
            "is_active": "on",
        },
    )
    driver = Driver.objects.get(username="ze")
    assert driver.password != "s3cret-pass"
    assert driver.check_password("s3cret-pass")


def test_operator_views_settings_but_cannot_change_them(client_of, operator_a):
    branch = BranchFactory(account=operator_a.account)
    client = client_of(operator_a)
    assert client.get(changelist(Branch)).status_code == 200
    assert client.get(reverse("admin:accounts_branch_add")).status_code == 403
    response = client.post(change(branch), {"name": "Renamed", "is_active": "on"})
    assert response.status_code == 403
    branch.refresh_from_db()
    assert branch.name != "Renamed"


def test_operator_cannot_manage_users(client_of, operator_a):
    assert client_of(operator_a).get(changelist(User)).status_code == 403


@pytest.mark.parametrize("role", [Role.PARTNER, Role.CALL_CENTRE])
def test_roles_without_settings_do_not_enter_the_admin(client_of, account_a, role):
    user = UserFactory(account=account_a, role=role)
    response = client_of(user).get(reverse("admin:index"), follow=True)
    assert response.redirect_chain[-1][0].startswith(reverse("login"))
    assert "cannot open that page" in response.content.decode()


def test_manager_invites_a_user_who_gets_a_link_to_set_a_password(
    client_of, manager_a, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_of(manager_a).post(
            reverse("admin:accounts_user_add"),
            {
                "email": "New.Person@Acme.test",
                "first_name": "New",
                "role": Role.OPERATOR,
                "is_active": "on",
            },
        )
    assert response.status_code == 302
    user = User.objects.get(email="new.person@acme.test")
    assert user.account == manager_a.account
    assert not user.has_usable_password()
    assert not user.is_superuser
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["new.person@acme.test"]
    assert "/password-reset/" in mail.outbox[0].body


def test_manager_cannot_demote_or_deactivate_themselves(client_of, manager_a):
    client_of(manager_a).post(
        change(manager_a), {"email": manager_a.email, "role": Role.OPERATOR, "first_name": "X"}
    )
    manager_a.refresh_from_db()
    assert manager_a.role == Role.MANAGER
    assert manager_a.is_active


def test_manager_changes_own_account_language_but_not_its_slug(client_of, manager_a):
    account = manager_a.account
    response = client_of(manager_a).post(
        change(account),
        {
            "name": "Acme Brasil",
            "time_zone": "America/Manaus",
            "language": "es",
            "country": "BR",
            "slug": "stolen",
            "max_attempts": 3,
            "position_interval_s": 15,
            "tracking_link_days": 7,
            "arriving_distance_m": 500,
            "arriving_minutes": 5,
            "signature_required": "on",
        },
    )
    assert response.status_code == 302
    account.refresh_from_db()
    # What the driver app is told to do is the account's to set.
    assert (account.position_interval_s, account.signature_required) == (15, True)
    assert (account.name, account.time_zone, account.language, account.slug) == (
        "Acme Brasil",
        "America/Manaus",
        "es",
        "acme",
    )


def test_manager_sends_password_reset_links_only_within_own_account(
    client_of, manager_a, manager_b, django_capture_on_commit_callbacks
):
    colleague = UserFactory(account=manager_a.account)
    with django_capture_on_commit_callbacks(execute=True):
        client_of(manager_a).post(
            changelist(User),
            {"action": "send_password_reset", "_selected_action": [colleague.pk, manager_b.pk]},
        )
    assert [message.to for message in mail.outbox] == [[colleague.email]]


def test_admin_is_themed_as_the_web_admin(client_of, manager_a):
    response = client_of(manager_a).get(reverse("admin:index"))
    body = response.content.decode()
    assert "Web admin" in body
    assert manager_a.account.name in body
    assert "css/admin.css" in body


def test_a_new_account_created_in_the_admin_starts_with_its_defaults(client):
    from accounts.models import Account, FailureReason, Holiday

    root = User.objects.create_superuser("root@platform.test", "pw")
    client.force_login(root)
    response = client.post(
        reverse("admin:accounts_account_add"),
        {
            "name": "Nova Entregas",
            "slug": "nova",
            "time_zone": "America/Sao_Paulo",
            "language": "pt-br",
            "country": "BR",
            "max_attempts": 3,
            "position_interval_s": 30,
            "tracking_link_days": 7,
            "arriving_distance_m": 500,
            "arriving_minutes": 5,
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    account = Account.objects.get(slug="nova")
    assert Holiday.objects.filter(account=account, date__month=9, date__day=7).count() == 2
    assert FailureReason.objects.filter(account=account, customer_fault=True).exists()
