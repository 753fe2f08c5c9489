"""Drivers' app credentials: set, reset, and revoked with their devices when deactivated."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from accounts.models import DriverDevice
from tests.factories import DriverFactory, UserFactory

pytestmark = pytest.mark.django_db


def device(driver, name="Moto G"):
    return DriverDevice.objects.create(
        driver=driver, device_id=f"{name}-id", name=name, token_hash=f"hash-{name}-{driver.pk}"
    )


def change_data(driver, **extra):
    """The driver's change form as the browser posts it, with the (read-only) devices inline."""
    devices = list(driver.devices.all())
    data = {
        "first_name": driver.first_name,
        "username": driver.username,
        "email": driver.email,
        "is_active": "on",
        "devices-TOTAL_FORMS": str(len(devices)),
        "devices-INITIAL_FORMS": str(len(devices)),
        **extra,
    }
    for index, row in enumerate(devices):
        data[f"devices-{index}-id"] = str(row.pk)
        data[f"devices-{index}-driver"] = str(driver.pk)
    return data


def test_deactivating_a_driver_in_the_admin_revokes_their_devices(client_of, manager_a):
    driver = DriverFactory(account=manager_a.account)
    phone, tablet = device(driver, "phone"), device(driver, "tablet")
    other = device(DriverFactory(account=manager_a.account), "other")
    data = change_data(driver)
    del data["is_active"]
    url = reverse("admin:accounts_driver_change", args=[driver.pk])
    response = client_of(manager_a).post(url, data)
    assert response.status_code == 302
    driver.refresh_from_db()
    assert not driver.is_active
    for revoked in (phone, tablet):
        revoked.refresh_from_db()
        assert revoked.revoked_at is not None
    other.refresh_from_db()
    assert other.revoked_at is None


def test_reset_password_action_shows_a_new_password_once(client_of, manager_a):
    driver = DriverFactory(account=manager_a.account)
    phone = device(driver)
    response = client_of(manager_a).post(
        reverse("admin:accounts_driver_changelist"),
        {"action": "reset_password", "_selected_action": [driver.pk]},
        follow=True,
    )
    text = " ".join(str(message) for message in get_messages(response.wsgi_request))
    text = text or response.content.decode()
    password = text.split(f"{driver.login}: ")[1].split(" ")[0]
    driver.refresh_from_db()
    assert driver.check_password(password)
    phone.refresh_from_db()
    assert phone.revoked_at is not None


def test_setting_a_new_password_logs_the_driver_out(client_of, manager_a):
    driver = DriverFactory(account=manager_a.account)
    phone = device(driver)
    client_of(manager_a).post(
        reverse("admin:accounts_driver_change", args=[driver.pk]),
        change_data(driver, new_password="another-secret"),
    )
    driver.refresh_from_db()
    assert driver.check_password("another-secret")
    phone.refresh_from_db()
    assert phone.revoked_at is not None


def test_operators_cannot_reset_driver_passwords(client_of, operator_a):
    driver = DriverFactory(account=operator_a.account)
    old_hash = driver.password
    client_of(operator_a).post(
        reverse("admin:accounts_driver_changelist"),
        {"action": "reset_password", "_selected_action": [driver.pk]},
    )
    driver.refresh_from_db()
    assert driver.password == old_hash


def test_the_user_list_shows_who_is_online(client_of, manager_a):
    online = UserFactory(account=manager_a.account, last_seen_at=timezone.now())
    offline = UserFactory(
        account=manager_a.account, last_seen_at=timezone.now() - timezone.timedelta(hours=2)
    )
    client = client_of(manager_a)
    response = client.get(reverse("admin:accounts_user_changelist") + "?online=1")
    shown = {user.pk for user in response.context["cl"].result_list}
    assert online.pk in shown
    assert offline.pk not in shown
