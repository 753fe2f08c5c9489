"""The integration API's routes: planning a driver's route from pending services (by id or
external id, optionally optimized) and reading it back, scoped to the calling key's account,
idempotent, and answering errors in the one error shape."""

from datetime import date, datetime

import pytest
from openapi_spec_validator import validate

from accounts.apikeys import api_key_create
from routes import actions
from routes.models import Route, Stop, StopStatus
from services.actions import Actor
from services.models import Service, ServiceStatus
from tests.factories import BranchFactory, DriverFactory, ServiceFactory, VehicleFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/routes"
DAY = date(2030, 3, 4)
# Avenida Paulista and around: a few hundred metres to a few kilometres apart.
POINTS = [(-23.5614, -46.6559), (-23.5570, -46.6620), (-23.5505, -46.6333), (-23.5450, -46.6400)]


class Api:
    """The test client speaking JSON with one API key."""

    def __init__(self, client, raw_key):
        self.client = client
        self.headers = {"HTTP_AUTHORIZATION": f"Bearer {raw_key}"}

    def get(self, path=""):
        return self.client.get(URL + path, **self.headers)

    def post(self, data, key=None):
        headers = dict(self.headers)
        if key is not None:
            headers["HTTP_IDEMPOTENCY_KEY"] = key
        return self.client.post(URL, data, content_type="application/json", **headers)


@pytest.fixture
def api_a(client, account_a, manager_a):
    _key, raw = api_key_create(account=account_a, name="Shop ERP", created_by=manager_a)
    return Api(client, raw)


@pytest.fixture
def api_b(client, account_b):
    _key, raw = api_key_create(account=account_b, name="Rival ERP")
    return Api(client, raw)


@pytest.fixture
def driver(account_a):
    return DriverFactory(account=account_a, username="ana")


def located(account, points=POINTS, **fields):
    """Pending services at points (no deadline, so any date plans cleanly)."""
    return [
        ServiceFactory(account=account, lat=lat, lng=lng, deadline=None, **fields)
        for lat, lng in points
    ]


def body(driver, services=None, /, **changes):
    """A request for driver in their usual vehicle on DAY, with changes to its fields."""
    data = {"driver": driver.username, "vehicle": driver.vehicle.plate, "date": DAY.isoformat()}
    if services is not None:
        data["services"] = [service.pk for service in services]
    data.update(changes)
    return data


def fields_of(response):
    return response.json()["error"]["fields"]


# Creating ---------------------------------------------------------------------------------------


def test_a_route_is_planned_in_the_order_given(api_a, account_a, driver):
    services = located(account_a)
    plate = driver.vehicle.plate
    hyphenated = f"{plate[:3]}-{plate[3:]}".lower()
    response = api_a.post(body(driver, services, vehicle=hyphenated, departure_time="07:30"))
    assert response.status_code == 201, response.json()
    data = response.json()
    route = Route.objects.get()
    assert data["id"] == route.pk and data["status"] == "planned"
    assert data["date"] == "2030-03-04"
    assert (data["driver"], data["vehicle"], data["departure_time"]) == ("ana", plate, "07:30")
    assert [stop["service_id"] for stop in data["stops"]] == [s.pk for s in services]
    assert [stop["sequence"] for stop in data["stops"]] == [1, 2, 3, 4]
    arrivals = [datetime.fromisoformat(stop["planned_arrival"]) for stop in data["stops"]]
    assert all(arrival.utcoffset() is not None for arrival in arrivals)
    assert arrivals == sorted(arrivals) and arrivals[0].hour == 7
    assert data["stops"][0]["external_id"] == services[0].external_id
    assert data["stops"][0]["eta"] == data["stops"][0]["planned_arrival"]
    assert all(stop["status"] == "pending" and stop["warnings"] == [] for stop in data["stops"])
    assert data["planned_distance_m"] > 0 and data["planned_duration_s"] > 0
    assert data["warnings"] == []
    assert route.planned_distance_m == data["planned_distance_m"]
    assert set(Service.objects.values_list("status", flat=True)) == {ServiceStatus.ROUTED}


def test_services_can_be_named_by_external_id(api_a, account_a, driver):
    services = [
        ServiceFactory(account=account_a, external_id=f"ORD-{n}", lat=lat, lng=lng, deadline=None)
        for n, (lat, lng) in enumerate(POINTS)
    ]
    given = ["ORD-2", "ORD-0", "ORD-3", "ORD-1"]
    response = api_a.post(body(driver, external_ids=given))
    assert response.status_code == 201, response.json()
    assert [stop["external_id"] for stop in response.json()["stops"]] == given
    assert [stop["service_id"] for stop in response.json()["stops"]] == [
        services[int(external_id[-1])].pk for external_id in given
    ]


def test_the_route_starts_at_the_branch_named(api_a, account_a, driver):
    branch = BranchFactory(account=account_a, name="São Paulo - Centro", prefix="SP-01")
    response = api_a.post(body(driver, located(account_a), branch="sp-01"))
    assert response.status_code == 201, response.json()
    route = Route.objects.get()
    assert route.branch == branch and route.start_lat == branch.lat


def test_an_unknown_branch_is_422(api_a, account_a, driver):
    response = api_a.post(body(driver, located(account_a), branch="Nowhere"))
    assert response.status_code == 422
    assert list(fields_of(response)) == ["branch"]
    assert not Route.objects.exists()


def test_optimize_puts_a_zig_zag_in_a_shorter_order(api_a, account_a, driver):
    # Along one street, visited west, east, west, east...: the optimizer sweeps instead.
    zig_zag = [(-23.55, -46.60), (-23.55, -46.70), (-23.55, -46.61), (-23.55, -46.69),
               (-23.55, -46.62), (-23.55, -46.68)]  # fmt: skip
    given = api_a.post(body(driver, located(account_a, zig_zag)))
    second = DriverFactory(account=account_a, username="bruno")
    services = located(account_a, zig_zag)
    optimized = api_a.post(body(second, services, optimize=True))
    assert given.status_code == optimized.status_code == 201, optimized.json()
    order = [stop["service_id"] for stop in optimized.json()["stops"]]
    assert sorted(order) == sorted(s.pk for s in services)
    assert order != [s.pk for s in services]
    assert optimized.json()["planned_distance_m"] < given.json()["planned_distance_m"]
    assert [stop["sequence"] for stop in optimized.json()["stops"]] == [1, 2, 3, 4, 5, 6]


# Refusals ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["unknown", "inactive", "another account's"])
def test_a_driver_that_cannot_drive_is_422(api_a, account_a, account_b, driver, which):
    if which == "inactive":
        DriverFactory(account=account_a, username="carla", is_active=False)
    if which == "another account's":
        DriverFactory(account=account_b, username="carla")
    response = api_a.post(body(driver, located(account_a), driver="carla"))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid"
    assert fields_of(response) == {"driver": ["No active driver with this username."]}
    assert not Route.objects.exists()
    assert set(Service.objects.values_list("status", flat=True)) == {ServiceStatus.PENDING}


@pytest.mark.parametrize("plate", ["ZZZ9Z99", "not a plate", "OTH1A23"])
def test_an_unknown_or_malformed_plate_is_422(api_a, account_a, account_b, driver, plate):
    VehicleFactory(account=account_b, plate="OTH1A23")
    response = api_a.post(body(driver, located(account_a), vehicle=plate))
    assert response.status_code == 422
    assert list(fields_of(response)) == ["vehicle"]
    assert not Route.objects.exists()


def test_an_unknown_service_id_is_404(api_a, account_a, driver):
    services = located(account_a)
    missing = Service.objects.order_by("-pk").first().pk + 1000
    response = api_a.post(body(driver, services, services=[services[0].pk, missing]))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert fields_of(response) == {"services": [str(missing)]}
    assert not Route.objects.exists()


def test_an_unknown_external_id_is_404(api_a, account_a, driver):
    ServiceFactory(account=account_a, external_id="ORD-1")
    response = api_a.post(body(driver, external_ids=["ORD-1", "ORD-404"]))
    assert response.status_code == 404
    assert fields_of(response) == {"external_ids": ["ORD-404"]}


def test_another_accounts_service_is_404_and_left_alone(api_a, account_a, account_b, driver):
    theirs = ServiceFactory(account=account_b, external_id="ORD-1")
    mine = located(account_a)
    response = api_a.post(body(driver, [*mine, theirs]))
    assert response.status_code == 404
    assert fields_of(response) == {"services": [str(theirs.pk)]}
    assert api_a.post(body(driver, external_ids=["ORD-1"])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == ServiceStatus.PENDING and not theirs.events.exists()
    assert not Route.objects.exists() and not Stop.objects.exists()


def test_a_service_that_is_not_pending_is_409_and_nothing_is_created(api_a, account_a, driver):
    pending = located(account_a)
    done = ServiceFactory(account=account_a, status=ServiceStatus.DONE, order_number="ORD-DONE")
    response = api_a.post(body(driver, [*pending, done]))
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "service_not_pending" and "ORD-DONE" in error["message"]
    assert error["fields"] == {"services": [str(done.pk)]}
    assert not Route.objects.exists() and not Stop.objects.exists()
    statuses = Service.objects.filter(pk__in=[s.pk for s in pending]).values_list("status")
    assert set(statuses) == {(ServiceStatus.PENDING,)}


def test_a_service_not_pending_is_named_by_its_external_id_when_sent_so(api_a, account_a, driver):
    ServiceFactory(account=account_a, external_id="ORD-1", status=ServiceStatus.ROUTED)
    response = api_a.post(body(driver, external_ids=["ORD-1"]))
    assert response.status_code == 409
    assert fields_of(response) == {"external_ids": ["ORD-1"]}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"services": "twice"}, "services"),
        ({"external_ids": ["ORD-1", "ORD-1"]}, "external_ids"),
        ({"services": []}, "services"),
        ({"services": list(range(1, 502))}, "services"),
        ({"services": [0]}, "services.0"),
        ({"departure_time": "25:00"}, "departure_time"),
        ({"date": "2030-02-30"}, "date"),
        ({"date": "0001-01-01"}, "date"),
    ],
)
def test_malformed_bodies_are_422_naming_the_field(api_a, account_a, driver, changes, field):
    services = located(account_a, POINTS[:2])
    if changes.get("services") == "twice":
        changes = {"services": [services[0].pk, services[1].pk, services[0].pk]}
    response = api_a.post(body(driver, services, **changes))
    assert response.status_code == 422, response.json()
    assert field in fields_of(response)
    assert not Route.objects.exists()


@pytest.mark.parametrize("both", [True, False])
def test_exactly_one_of_services_and_external_ids(api_a, account_a, driver, both):
    services = located(account_a, POINTS[:1])
    data = body(driver, services, external_ids=["ORD-1"]) if both else body(driver)
    response = api_a.post(data)
    assert response.status_code == 422
    assert set(fields_of(response)) == {"services", "external_ids"}
    assert not Route.objects.exists()


def test_a_replay_with_the_same_idempotency_key_creates_one_route(api_a, account_a, driver):
    data = body(driver, located(account_a))
    first = api_a.post(data, key="route-1")
    again = api_a.post(data, key="route-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert Route.objects.count() == 1 and Stop.objects.count() == len(POINTS)
    # Without the key the same body is a new request: the services are no longer pending.
    assert api_a.post(data).status_code == 409


# Reading ----------------------------------------------------------------------------------------


def test_reading_a_route_shows_live_statuses(
    api_a, account_a, driver, django_assert_max_num_queries
):
    created = api_a.post(body(driver, located(account_a))).json()
    assert api_a.get(f"/{created['id']}").json() == created
    route = Route.objects.get()
    actions.route_start(route=route, actor=Actor.for_driver(driver))
    first = route.stops.get(sequence=1)
    actions.stop_change_status(stop=first, to_status=StopStatus.IN_PROGRESS, actor=Actor.system())
    with django_assert_max_num_queries(4):  # the key, its last use, the route, its stops
        response = api_a.get(f"/{route.pk}")
    assert response.status_code == 200
    data = response.json()
    assert data["status"] == "in_progress"
    assert [stop["status"] for stop in data["stops"]] == ["in_progress"] + ["pending"] * 3
    assert set(data) == set(created)
    assert set(data["stops"][0]) == set(created["stops"][0])


def test_another_accounts_route_is_404(api_a, api_b, account_a, driver):
    created = api_a.post(body(driver, located(account_a))).json()
    response = api_b.get(f"/{created['id']}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert api_a.get("/999999").status_code == 404


def test_without_a_key_it_is_401(client, account_a, driver):
    services = located(account_a)
    response = client.post(URL, body(driver, services), content_type="application/json")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"
    assert client.get(f"{URL}/1").status_code == 401
    assert not Route.objects.exists()


def test_the_endpoints_are_in_the_openapi_document(client):
    document = client.get("/api/v1/openapi.json").json()
    validate(document)
    assert {"/api/v1/routes", "/api/v1/routes/{route_id}"} <= set(document["paths"])
