"""Credentials are stored hashed: the raw driver device token, integration API key, tracker key and
passwords appear nowhere in the database, in any table, after they were issued and used."""

import pytest
from django.db import connection

from accounts.apikeys import api_key_authenticate, api_key_create
from accounts.devices import device_authenticate, device_login
from tests.factories import PASSWORD, DriverFactory, UserFactory

pytestmark = pytest.mark.django_db


def database_text():
    """Every value of every table, as one string."""
    parts = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            parts += [repr(row) for row in cursor.fetchall()]
    return "\n".join(parts)


def test_no_raw_credential_is_in_any_table(client, account_a):
    driver = DriverFactory(account=account_a)
    _device, device_token = device_login(login=driver.login, password=PASSWORD, device_id="phone-1")
    assert device_authenticate(device_token) is not None
    _api_key, api_key = api_key_create(account=account_a, name="ERP")
    assert api_key_authenticate(api_key) is not None
    # The driver API's login and a call with the token, as the phone makes them.
    response = client.post(
        "/api/driver/v1/auth/token",
        {"username": driver.login, "password": PASSWORD, "device_id": "phone-2"},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    api_token = response.json()["token"]
    headers = {"HTTP_AUTHORIZATION": f"Bearer {api_token}"}
    assert client.get("/api/driver/v1/me", **headers).status_code == 200
    user_password = "A-l0ng-and-unusual-passphrase"
    UserFactory(account=account_a, password=user_password)
    secrets = {
        "device token": device_token,
        "device token from the API": api_token,
        "API key": api_key,
        "user password": user_password,
        "driver password": PASSWORD,
    }
    secrets |= tracker_key(driver)

    stored = database_text()

    assert not [name for name, raw in secrets.items() if raw in stored]


def tracker_key(driver):
    """The tracker key (accounts.trackers), where that feature exists."""
    try:
        from accounts.trackers import tracker_authenticate, tracker_key_generate
    except ImportError:
        return {}
    _device, raw_key = tracker_key_generate(driver=driver)
    assert tracker_authenticate(raw_key) is not None
    return {"tracker key": raw_key}
