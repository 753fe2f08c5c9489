"""CSRF: every view of the URL map is protected, except the endpoints that never use the session
cookie (the token-authenticated APIs, signature-checked provider webhooks, key-authenticated
tracker endpoints); and those APIs really do ignore the session."""

import pytest
from django.conf import settings
from django.test import Client

from tests.security import world
from tests.security.test_tenancy_walk import fill
from tests.security.urlmap import unique_leaves

# Where csrf_exempt views may live, and why each is safe without a CSRF token.
CSRF_EXEMPT_PREFIXES = {
    # django-ninja APIs: bearer tokens (API keys, driver device tokens), never the session
    # cookie (test_the_apis_ignore_the_session_cookie below).
    "api/": "token-authenticated APIs",
    # Twilio status callbacks and Anymail tracking webhooks: signature / basic-auth checked.
    "hooks/": "provider webhooks, signature-checked",
    # Tracker apps (OsmAnd protocol): authenticated by the tracker's key.
    "gps/": "tracker endpoints, key-authenticated",
}
# API operations that take no credentials at all: the documents and the driver's login.
PUBLIC_API = {
    "api/v1/docs",
    "api/v1/openapi.json",
    "api/v1/",
    "api/driver/v1/docs",
    "api/driver/v1/openapi.json",
    "api/driver/v1/",
    "api/driver/v1/auth/token",
}


def test_the_csrf_middleware_is_on():
    assert "django.middleware.csrf.CsrfViewMiddleware" in settings.MIDDLEWARE


def test_no_view_is_csrf_exempt_outside_the_listed_endpoints():
    exempt = [
        f"/{leaf.template} ({leaf.view})"
        for leaf in unique_leaves()
        if getattr(leaf.callback, "csrf_exempt", False)
        and not leaf.template.startswith(tuple(CSRF_EXEMPT_PREFIXES))
    ]
    assert not exempt, "csrf_exempt views outside CSRF_EXEMPT_PREFIXES:\n" + "\n".join(exempt)


@pytest.mark.django_db
def test_every_form_post_without_a_token_is_refused():
    """A logged-in manager's POST without the CSRF token is a 403 on every protected URL (the
    middleware decides before the view, so the URL's own objects do not matter)."""
    own = world.build("own", "Own")
    client = Client(enforce_csrf_checks=True)
    client.force_login(own.users["manager"])
    accepted = []
    for leaf in unique_leaves():
        if leaf.template.startswith(tuple(CSRF_EXEMPT_PREFIXES)):
            continue
        values, _attacks = fill(leaf, own)
        url = leaf.url(values)
        response = client.post(url)
        if response.status_code != 403:
            accepted.append(f"POST {url} ({leaf.view}): {response.status_code}")
    assert not accepted, "\n".join(accepted)


@pytest.mark.django_db
def test_the_apis_ignore_the_session_cookie():
    """Logged into the web as a manager, with no token: every API operation but the public ones
    answers 401, so a forged cross-site request carrying the cookie can do nothing."""
    own = world.build("own", "Own")
    client = Client(enforce_csrf_checks=True)
    client.force_login(own.users["manager"])
    wrong = []
    for leaf in unique_leaves():
        if not leaf.is_api or leaf.template in PUBLIC_API:
            continue
        values, _attacks = fill(leaf, own)
        url = leaf.url(values)
        for response in (
            client.get(url),
            client.post(url, "{}", content_type="application/json"),
        ):
            if response.status_code not in {401, 405}:
                wrong.append(f"{response.request['REQUEST_METHOD']} {url}: {response.status_code}")
    assert not wrong, "\n".join(wrong)
