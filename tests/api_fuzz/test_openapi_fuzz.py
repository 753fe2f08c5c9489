"""The integration API (/api/v1/) and the driver API (/api/driver/v1/) fuzzed from their OpenAPI
documents with schemathesis, in-process against the WSGI application and pytest-django's database.

Every operation gets valid and invalid requests (a bounded, derandomized number), sent with a
real API key or the device token of a driver whose route is under way today. Whatever is sent,
the answer must not be a 5xx, and its status code, content type and body must be the ones the
document declares (errors included, in the one error shape).

For a deeper run: API_FUZZ_EXAMPLES=300 API_FUZZ_COVERAGE=1 pytest tests/api_fuzz
"""

import io
import json
import os
from datetime import timedelta

import hypothesis
import pytest
import schemathesis
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.utils import timezone
from hypothesis import HealthCheck
from PIL import Image
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.apikeys import api_key_create
from accounts.devices import device_login
from routes import actions as route_actions
from routes.models import StopStatus
from services.actions import Actor
from tests.factories import (
    PASSWORD,
    BranchFactory,
    ChatTicketTypeFactory,
    DeliveryWindowFactory,
    DriverFactory,
    FailureReasonFactory,
    PackageFactory,
    ServiceFactory,
)
from tracking.api import driver_api, integration_api
from tracking.wsgi import application

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "20"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Valid and invalid data from the schema. No stateful phase (the documents have no links), and
# the coverage phase (every boundary value of every field, and unexpected methods) only on
# request: it sends a few hundred requests per operation.
CONFIG = schemathesis.Config.from_dict(
    {
        "generation": {"mode": "all", "deterministic": True, "database": "none"},
        "phases": {
            "examples": {"enabled": True},
            "coverage": {"enabled": bool(os.environ.get("API_FUZZ_COVERAGE"))},
            "fuzzing": {"enabled": True},
            "stateful": {"enabled": False},
        },
    }
)
SETTINGS = hypothesis.settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    # The fixtures are set up once per operation on purpose: the examples share its database.
    suppress_health_check=list(HealthCheck),
)


def _document(api):
    # What /openapi.json serves, as JSON (dates and enums as strings).
    return json.loads(json.dumps(api.get_openapi_schema(), default=str))


def _schema(api):
    schema = schemathesis.openapi.from_dict(_document(api), config=CONFIG)
    schema.app = application
    return schema


integration_schema = _schema(integration_api)
driver_schema = _schema(driver_api)


@pytest.mark.parametrize(
    ("url", "api"),
    [("/api/v1/openapi.json", integration_api), ("/api/driver/v1/openapi.json", driver_api)],
)
def test_the_documents_fuzzed_are_the_ones_served(client, url, api):
    response = client.get(url)
    assert response.status_code == 200
    assert response.json() == _document(api)


@pytest.fixture(autouse=True)
def _in_process(settings, tmp_path):
    """Requests go straight to the WSGI application, which closes the database connection at the
    start and end of each request (Django's test client disconnects that itself); on PostgreSQL
    that would end the test's transaction. The cache is this module's own: the login throttle
    must not count the fuzzer's failures in a Redis that other tests share."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "localhost"]  # schemathesis's Host
    settings.MEDIA_ROOT = tmp_path
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "api-fuzz",
        }
    }
    cache.clear()
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _pick(value, candidates):
    """Most generated values name nothing; swap some for one of candidates, chosen from the
    generated value itself so the run stays deterministic, so that requests reach real objects
    in every state."""
    seed = value if isinstance(value, int) and not isinstance(value, bool) else len(repr(value))
    index = seed % (len(candidates) + 1)
    return candidates[index] if index < len(candidates) else value


def _aim(case, aims):
    """aims: {location: {name: candidates}} for "path", "query" and "body" of this operation."""
    for location, container in (
        ("path", case.path_parameters),
        ("query", case.query),
        ("body", case.body),
    ):
        if not isinstance(container, dict):
            continue
        for name, candidates in aims.get(location, {}).items():
            if name in container:
                container[name] = _pick(container[name], candidates)


def _idempotency_key(case):
    """Some writes carry an Idempotency-Key from a small set, so that replays (same body) and
    reuses (another body) happen too."""
    if case.method.upper() == "GET":
        return {}
    seed = len(repr(case.body))
    return {"Idempotency-Key": f"fuzz-{seed % 4}"} if seed % 5 == 0 else {}


def _png():
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "white").save(buffer, "PNG")
    return buffer.getvalue()


# The integration API ----------------------------------------------------------------------------


@pytest.fixture
def integration(account_a, manager_a):
    """An API key of account A, with a branch, a driver, windows on every weekday, pending
    services with packages and a planned route."""
    BranchFactory(account=account_a, name="São Paulo - Centro", prefix="SP-01")
    driver = DriverFactory(account=account_a, username="ana")
    windows = [DeliveryWindowFactory(account=account_a, weekday=day) for day in range(7)]
    services = [ServiceFactory(account=account_a, external_id=f"ORD-{n}") for n in range(4)]
    for service in services:
        PackageFactory(service=service)
    routed = ServiceFactory(account=account_a, external_id="ORD-R")
    route = route_actions.route_create(
        account=account_a,
        actor=Actor.system(),
        driver=driver,
        vehicle=driver.vehicle,
        day=account_a.today(),
        services=[routed],
    )
    _key, raw = api_key_create(account=account_a, name="Shop ERP", created_by=manager_a)
    pending = [service.pk for service in services]
    today = account_a.today()
    return {
        "headers": {"Authorization": f"Bearer {raw}"},
        "aims": {
            "path": {"service_id": [*pending, routed.pk], "route_id": [route.pk]},
            "query": {"external_id": ["ORD-0", "ORD-R"]},
            "body": {
                # POST routes
                "driver": ["ana"],
                "vehicle": [driver.vehicle.plate],
                "services": [pending[:2], pending[2:], [routed.pk]],
                "external_ids": [["ORD-0", "ORD-1"], ["ORD-R"]],
                "branch": ["SP-01"],
                # POST services/{id}/schedule
                "window_id": [window.pk for window in windows],
                "date": [(today + timedelta(days=n)).isoformat() for n in range(1, 4)],
                # POST services, PATCH services/{id}
                "external_id": ["ORD-0", "ORD-NEW"],
            },
        },
    }


@integration_schema.parametrize()
@SETTINGS
def test_integration_api(case, integration):
    aims = integration["aims"]
    if case.path == "/api/v1/services" and case.method.upper() == "POST":
        # Here `services` is the bulk list, not a route's service ids.
        aims = {**aims, "body": {"external_id": aims["body"]["external_id"]}}
    _aim(case, aims)
    body, seed = case.body, len(repr(case.body))
    stopless = isinstance(body, dict) and not {"services", "external_ids"} & body.keys()
    if case.path == "/api/v1/routes" and stopless and seed % 2:
        # Both are optional in the document and one is required: add it to half of them.
        candidates = aims["body"]["services"]
        body["services"] = candidates[seed // 2 % len(candidates)]
    headers = {**integration["headers"], **_idempotency_key(case)}
    case.call_and_validate(headers=headers, checks=CHECKS)


# The driver API ---------------------------------------------------------------------------------


@pytest.fixture
def driver_app(account_a):
    """The device token of a driver whose route of today is under way, its stops in every state
    a phone meets (on the way, arrived, paused, pending), and a second route not started yet."""
    driver = DriverFactory(account=account_a, username="ana")
    now = timezone.now().replace(microsecond=0) - timedelta(hours=1)
    # Phone times after the steps below, and one before them (a late step).
    times = [(now + timedelta(minutes=n)).isoformat() for n in (10, 30, -120)]

    def route(count):
        services = [ServiceFactory(account=account_a) for _ in range(count)]
        for service in services:
            PackageFactory(service=service)
        return route_actions.route_create(
            account=account_a,
            actor=Actor.system(),
            driver=driver,
            vehicle=driver.vehicle,
            day=account_a.today(),
            services=services,
        )

    current, planned = route(4), route(1)
    route_actions.route_start(route=current, actor=Actor.system(), recorded_at=now)
    stops = list(current.stops.order_by("sequence"))
    moves = [
        [StopStatus.IN_PROGRESS],
        [StopStatus.IN_PROGRESS, StopStatus.ARRIVED],
        [StopStatus.IN_PROGRESS, StopStatus.PAUSED],
        [],
    ]
    for stop, statuses in zip(stops, moves, strict=True):
        for minutes, status in enumerate(statuses, start=1):
            route_actions.stop_change_status(
                stop=stop,
                to_status=status,
                actor=Actor.system(),
                recorded_at=now + timedelta(minutes=minutes),
            )
    reasons = [
        FailureReasonFactory(account=account_a),
        FailureReasonFactory(account=account_a, requires_description=True, opens_chat=True),
    ]
    ChatTicketTypeFactory(account=account_a)
    _device, token = device_login(login=driver.login, password=PASSWORD, device_id="phone-1")
    stop_ids = [stop.pk for stop in stops]
    barcodes = [package.barcode for stop in stops for package in stop.service.packages.all()]
    return {
        "headers": {"Authorization": f"Bearer {token}"},
        "aims": {
            "path": {"route_id": [current.pk, planned.pk], "stop_id": stop_ids},
            "query": {"route": [current.pk]},
            "body": {
                "route": [current.pk],
                "stop": stop_ids,
                "reason_id": [reason.pk for reason in reasons],
                "barcodes": [barcodes[:1], barcodes[1:2]],
                "username": [driver.login],
                "password": [PASSWORD],
                "file": [_png()],
                "recorded_at": times,
            },
        },
    }


@driver_schema.parametrize()
@SETTINGS
def test_driver_api(case, driver_app):
    _aim(case, driver_app["aims"])
    headers = {**driver_app["headers"], **_idempotency_key(case)}
    case.call_and_validate(headers=headers, checks=CHECKS)
