"""API keys: sent as a bearer token, checked by hash, revocable, last use recorded; managed by
managers in the web admin (shown once), and printed by the demo seeding."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts import demo
from accounts.apikeys import api_key_authenticate, api_key_create, api_key_revoke, hash_key
from accounts.models import ApiKey, Role
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/services"
CHANGELIST = "admin:accounts_apikey_changelist"


def bearer(raw_key):
    return {"HTTP_AUTHORIZATION": f"Bearer {raw_key}"}


# The API ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"HTTP_AUTHORIZATION": "Bearer lm_not-a-key"},
        {"HTTP_AUTHORIZATION": "Bearer "},
        {"HTTP_AUTHORIZATION": "Basic dXNlcjpwYXNz"},
    ],
)
def test_calls_without_a_valid_key_are_401_in_the_error_shape(client, headers):
    response = client.get(URL, **headers)
    assert response.status_code == 401
    assert response.json() == {
        "error": {
            "code": "unauthenticated",
            "message": "Missing or invalid credentials.",
            "fields": {},
        }
    }


def test_a_revoked_key_is_401(client, account_a):
    api_key, raw = api_key_create(account=account_a, name="ERP")
    assert client.get(URL, **bearer(raw)).status_code == 200
    api_key_revoke(api_key=api_key)
    assert client.get(URL, **bearer(raw)).status_code == 401
    response = client.post(URL, {}, content_type="application/json", **bearer(raw))
    assert response.status_code == 401


def test_a_key_of_an_inactive_account_is_401(client, account_a):
    _key, raw = api_key_create(account=account_a, name="ERP")
    account_a.is_active = False
    account_a.save(update_fields=["is_active"])
    assert client.get(URL, **bearer(raw)).status_code == 401


def test_the_last_use_is_recorded(client, account_a):
    api_key, raw = api_key_create(account=account_a, name="ERP")
    assert api_key.last_used_at is None
    client.get(URL, **bearer(raw))
    api_key.refresh_from_db()
    assert timezone.now() - api_key.last_used_at < timedelta(seconds=10)


def test_keys_are_stored_hashed_and_shown_once(account_a, manager_a):
    api_key, raw = api_key_create(account=account_a, name="ERP", created_by=manager_a)
    assert raw.startswith(api_key.prefix)
    assert api_key.key_hash == hash_key(raw) and raw not in api_key.key_hash
    assert api_key_authenticate(raw) == api_key
    assert api_key_authenticate(raw + "x") is None


# The admin --------------------------------------------------------------------------------------


def test_a_manager_creates_a_key_and_sees_it_once(client_of, manager_a):
    client = client_of(manager_a)
    response = client.post(reverse("admin:accounts_apikey_add"), {"name": "Shop ERP"}, follow=True)
    assert response.redirect_chain == [(reverse(CHANGELIST), 302)]
    api_key = ApiKey.objects.get()
    assert (api_key.account, api_key.created_by, api_key.name) == (
        manager_a.account,
        manager_a,
        "Shop ERP",
    )
    shown = [str(message) for message in response.context["messages"]]
    [raw] = [word for text in shown for word in text.split() if word.startswith("lm_")]
    assert raw in response.content.decode()
    assert api_key_authenticate(raw) == api_key

    # From now on only the prefix is shown.
    for url in (reverse(CHANGELIST), reverse("admin:accounts_apikey_change", args=[api_key.pk])):
        page = client.get(url).content.decode()
        assert api_key.prefix in page and raw not in page
        assert api_key.key_hash not in page


def test_the_list_shows_name_prefix_creator_last_use_and_revocation(client_of, manager_a):
    api_key, _raw = api_key_create(account=manager_a.account, name="ERP", created_by=manager_a)
    response = client_of(manager_a).get(reverse(CHANGELIST))
    assert response.status_code == 200
    headers = [str(header["text"]).lower() for header in response.context["result_headers"]]
    assert headers[1:] == ["name", "prefix", "created by", "created at", "last used", "revoked"]
    assert f"{api_key.prefix}…" in response.content.decode()


def test_a_manager_revokes_keys_with_the_action(client_of, manager_a, account_a):
    kept, kept_raw = api_key_create(account=account_a, name="Kept")
    revoked, revoked_raw = api_key_create(account=account_a, name="Old")
    response = client_of(manager_a).post(
        reverse(CHANGELIST), {"action": "revoke", "_selected_action": [revoked.pk]}
    )
    assert response.status_code == 302
    revoked.refresh_from_db()
    assert revoked.revoked_at is not None
    assert api_key_authenticate(revoked_raw) is None
    assert api_key_authenticate(kept_raw) == kept


def test_an_operator_cannot_see_api_keys(client_of, operator_a):
    api_key, _raw = api_key_create(account=operator_a.account, name="ERP")
    client = client_of(operator_a)
    assert client.get(reverse(CHANGELIST)).status_code == 403
    assert client.get(reverse("admin:accounts_apikey_add")).status_code == 403
    change = client.get(reverse("admin:accounts_apikey_change", args=[api_key.pk]))
    assert change.status_code == 403
    response = client.post(reverse("admin:accounts_apikey_add"), {"name": "Mine"})
    assert response.status_code == 403
    assert ApiKey.objects.count() == 1


def test_integration_users_cannot_use_the_web_admin(client_of, account_a):
    integration = UserFactory(account=account_a, role=Role.INTEGRATION)
    response = client_of(integration).get(reverse(CHANGELIST))
    assert response.status_code == 302  # to the login page


def test_another_accounts_keys_are_invisible(client_of, manager_a, manager_b):
    theirs, _raw = api_key_create(account=manager_b.account, name="Rival ERP")
    client = client_of(manager_a)
    assert "Rival ERP" not in client.get(reverse(CHANGELIST)).content.decode()
    change = client.get(reverse("admin:accounts_apikey_change", args=[theirs.pk]))
    assert change.status_code == 404
    client.post(reverse(CHANGELIST), {"action": "revoke", "_selected_action": [theirs.pk]})
    theirs.refresh_from_db()
    assert theirs.revoked_at is None


# The demo ---------------------------------------------------------------------------------------


def test_the_demo_prints_a_working_key_and_revokes_the_previous_one(client):
    first = demo.seed()["api_key"]
    second = demo.seed()["api_key"]
    assert first != second
    assert client.get(URL, **bearer(first)).status_code == 401
    response = client.get(URL, **bearer(second))
    assert response.status_code == 200
    assert len(response.json()["results"]) > 0
    assert ApiKey.objects.filter(account__slug="demo", revoked_at__isnull=True).count() == 1
