"""Every URL of the URL map, filled with another account's ids, requested by every role of one
account (and by that account's API key and driver device): never the other account's data.

The URL map is read from Django's resolver (tests/security/urlmap.py), so a new view is walked
without being listed here. A URL parameter the walker does not know fails the mapping test until
someone says below which object it names, or (for parameters that name no tenant object) adds it
to NON_TENANT_PARAMS with a reason.
"""

from datetime import date
from urllib.parse import urlsplit

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import Resolver404, resolve
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.models import ImportJob, Role
from lastmile.models import OutboxMessage
from reports.models import ExportJob
from routes.models import Conversation, PlanningJob, Route, Stop
from scheduling.models import DeliveryWindow
from services.models import Service
from tests.security import world
from tests.security.urlmap import unique_leaves

# Parameters that name another account's object, whatever the view.
PARAM_MODELS = {
    "service_id": Service,
    "route_id": Route,
    "stop_id": Stop,
    "stop_pk": Stop,
    "message_id": OutboxMessage,
}

# `pk` names a different model in each module (or view): the most specific entry wins.
PK_MODELS = {
    "services.views": Service,
    "services.import_views": ImportJob,
    "routes.views": Route,
    "routes.views.job": PlanningJob,
    "routes.chat_views": Conversation,
    "scheduling.views.window": DeliveryWindow,
    "scheduling.views.service": Service,
    "reports.export_views": ExportJob,
}

# Parameters that name no tenant object, with the value the walker uses. Keep this short: every
# entry is a parameter the tenancy check cannot attack.
NON_TENANT_PARAMS = {
    # Report exports: the file format (csv|xlsx) of the user's own data.
    "fmt": "csv",
    # A day in the scheduling window page, next to the window's pk (which is attacked).
    "day": date(2030, 1, 7).isoformat(),
    # The admin's app index (lists model names, no rows) and its catch-all for unknown paths.
    "app_label": "accounts",
    "url": "no-such-page/",
    # Anymail's provider name in its tracking webhook (the webhook checks its own secret).
    "esp": "postmark",
    # The report whose rows are exported (the user's own scope is exported).
    "report": "deliveries",
    # Media served by the development server only (DEBUG).
    "path": "no-such-file.png",
}

# Secrets in the URL (bearer capabilities): another account's *real* secret is meant to work, so
# the walker sends a forged one, which must be refused like an unknown id.
SECRET_PARAMS = {
    # The Last Mile page's tracking token (lastmile.urls).
    "token": "forged-token-0000000000000000000000",
}

# Views whose refusal is a page that names nothing (status 200): the password reset link with
# another user's id and a forged token says "invalid link".
REFUSED_WITH_A_PAGE = {"django.contrib.auth.views.PasswordResetConfirmView"}

DENIED = {401, 403, 404, 405}
LOGIN_PATHS = ("/login/", "/admin/login/")


class Unmapped(Exception):
    pass


def pk_model(leaf):
    view = leaf.view
    while view:
        if view in PK_MODELS:
            return PK_MODELS[view]
        view = view.rpartition(".")[0]
    raise Unmapped(f"`pk` of {leaf.view}: add its model to PK_MODELS")


def fill(leaf, victim):
    """(values, attacks_tenant) for the leaf's parameters, or raises Unmapped."""
    values, attacks = {}, False
    params = set(leaf.params)
    if "content_type_id" in params:  # the admin's "view on site" redirect
        service = victim[Service]
        values["content_type_id"] = ContentType.objects.get_for_model(Service).pk
        values["object_id"] = service.pk
        params -= {"content_type_id", "object_id"}
        attacks = True
    if {"uidb64", "token"} <= params:  # password reset link for another account's user
        values["uidb64"] = urlsafe_base64_encode(force_bytes(victim.users[Role.MANAGER].pk))
        values["token"] = "cx5x9b-0123456789abcdef0123456789abcdef"
        params -= {"uidb64", "token"}
        attacks = True
    for param in sorted(params):
        if param == "object_id":
            model_admin = leaf.model_admin
            if model_admin is None:
                raise Unmapped(f"`object_id` of {leaf.view} is not a ModelAdmin's")
            model = model_admin.model
            if model not in victim.objects:
                raise Unmapped(f"no {model.__name__} row in tests/security/world.py")
            values[param] = victim[model].pk
            attacks = True
        elif param == "pk":
            values[param] = victim[pk_model(leaf)].pk
            attacks = True
        elif param in PARAM_MODELS:
            values[param] = victim[PARAM_MODELS[param]].pk
            attacks = True
        elif param in SECRET_PARAMS:
            values[param] = SECRET_PARAMS[param]
            attacks = True
        elif param in NON_TENANT_PARAMS:
            values[param] = NON_TENANT_PARAMS[param]
        else:
            raise Unmapped(
                f"parameter `{param}` of /{leaf.template} ({leaf.view}): map it to the object "
                "it names in tests/security/test_tenancy_walk.py"
            )
    return values, attacks


def test_every_url_parameter_is_mapped(db):
    """Fails for a new view whose URL parameter the walker does not know."""
    victim = world.build("victim", world.MARK)
    problems = []
    for leaf in unique_leaves():
        try:
            values, _attacks = fill(leaf, victim)
        except Unmapped as problem:
            problems.append(str(problem))
            continue
        url = leaf.url(values)
        try:
            match = resolve(url)
        except Resolver404:
            problems.append(f"{url} built for {leaf.view} does not resolve")
            continue
        if match.func is not leaf.callback:
            problems.append(f"{url} built for {leaf.view} resolves to another view")
    assert not problems, "\n".join(problems)


# The walk ---------------------------------------------------------------------------------------


def body_of(response):
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return response.content


def is_redirect(response):
    return response.status_code in {301, 302, 303, 307, 308}


def is_login_redirect(response):
    return is_redirect(response) and urlsplit(response["Location"]).path.startswith(LOGIN_PATHS)


def is_login(response):
    if is_login_redirect(response):
        return True
    return response.status_code == 200 and response.wsgi_request.path.startswith(LOGIN_PATHS)


def snapshot(victim):
    """The victim's rows as stored, and how many rows each of its models has in its account."""
    rows = {}
    for model, obj in victim.objects.items():
        rows[model.__name__] = list(model._default_manager.filter(pk=obj.pk).values())
        if any(field.name == "account" for field in model._meta.get_fields()):
            count = model._default_manager.filter(account=victim.account).count()
            rows[f"{model.__name__} count"] = count
    return rows


class Walker:
    def __init__(self, client, victim, login=None, headers=None):
        self.client = client
        self.victim = victim
        self.login = login
        self.headers = headers or {}
        self.failures = []
        self.requests = 0
        self.logged_in = False

    def request(self, method, url, api=False):
        if self.login is not None and (method == "POST" or not self.logged_in):
            self.client.force_login(self.login)  # again: a POST may have logged out
            self.logged_in = True
        if method == "GET":
            response = self.client.get(url, **self.headers)
        elif api:  # an empty JSON object: the APIs refuse a body that is not JSON before anything
            response = self.client.post(url, "{}", content_type="application/json", **self.headers)
        else:
            response = self.client.post(url, **self.headers)
        chain = [response]
        while is_redirect(response) and len(chain) < 5:
            if is_login_redirect(response):
                break  # a refusal: the login page itself shows nothing of anyone
            response = self.client.get(response["Location"], **self.headers)
            chain.append(response)
        self.requests += len(chain)
        for hop in chain:
            if world.MARK.encode() in body_of(hop):
                self.failures.append(
                    f"{method} {url}: the other account's data ({hop.status_code})"
                )
        return response

    def walk(self, leaves):
        for leaf in leaves:
            values, attacks = fill(leaf, self.victim)
            url = leaf.url(values)
            methods = ["GET", "POST"] if attacks else ["GET"]
            for method in methods:
                try:
                    response = self.request(method, url, api=leaf.is_api)
                except Exception as error:  # a 500: the test client re-raises the view's error
                    self.failures.append(f"{method} {url}: {type(error).__name__}: {error}")
                    continue
                # The health check answers 503 when a dependency is down (no worker runs during
                # the tests once a broker is configured): its documented answer, not an error.
                health = url == "/healthz" and response.status_code == 503
                if response.status_code >= 500 and not health:
                    self.failures.append(f"{method} {url}: {response.status_code}")
                elif attacks and not self.refused(leaf, response):
                    self.failures.append(
                        f"{method} {url} ({leaf.view}): {response.status_code}, not refused"
                    )

    def refused(self, leaf, response):
        status = response.status_code
        if status in DENIED or is_login(response):
            return True
        if leaf.is_api and status == 422:  # the body is checked before the object is looked up
            return True
        return status == 200 and leaf.view in REFUSED_WITH_A_PAGE


@pytest.fixture
def worlds(db):
    attacker = world.build("attacker", "Ours")
    victim = world.build("victim", world.MARK)
    return attacker, victim


def check(walker, victim, before):
    assert walker.requests > 0
    assert not walker.failures, "\n".join(walker.failures)
    assert snapshot(victim) == before, "a request changed the other account's rows"


@pytest.mark.parametrize("role", [*world.PERSONA_ROLES, None], ids=lambda role: role or "anonymous")
def test_no_role_reaches_another_accounts_objects(client, worlds, role):
    attacker, victim = worlds
    before = snapshot(victim)
    user = attacker.users[role] if role else None
    walker = Walker(client, victim, login=user)
    walker.walk(unique_leaves())
    check(walker, victim, before)


@pytest.mark.parametrize("caller", ["api_key", "device_token"])
def test_api_callers_never_reach_another_accounts_objects(client, worlds, caller):
    attacker, victim = worlds
    before = snapshot(victim)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {getattr(attacker, caller)}"}
    walker = Walker(client, victim, headers=headers)
    walker.walk([leaf for leaf in unique_leaves() if leaf.is_api])
    check(walker, victim, before)
