"""The integration API's scheduling: availability and choosing a date and window, scoped to the
key's account, idempotent, and answering errors in the one error shape."""

from datetime import time, timedelta

import pytest

from accounts.apikeys import api_key_create
from scheduling.models import DeliveryWindow, Origin, Schedule, ScheduleChange, WindowBooking
from services.models import ActorType, EventKind, Service, ServiceEvent, ServiceStatus
from tests.factories import ServiceFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/services"


class Api:
    def __init__(self, client, raw_key):
        self.client = client
        self.headers = {"HTTP_AUTHORIZATION": f"Bearer {raw_key}"}

    def get(self, path):
        return self.client.get(URL + path, **self.headers)

    def post(self, path, data, key=None):
        headers = dict(self.headers)
        if key is not None:
            headers["HTTP_IDEMPOTENCY_KEY"] = key
        return self.client.post(URL + path, data, content_type="application/json", **headers)


@pytest.fixture
def api_a(client, account_a, manager_a):
    _key, raw = api_key_create(account=account_a, name="Shop ERP", created_by=manager_a)
    return Api(client, raw)


@pytest.fixture
def api_b(client, account_b):
    _key, raw = api_key_create(account=account_b, name="Rival ERP")
    return Api(client, raw)


@pytest.fixture
def windows(account_a):
    """A morning window every day of the week (capacity 2): slots whatever today is."""
    return {
        weekday: DeliveryWindow.objects.create(
            account=account_a,
            weekday=weekday,
            name="Manhã",
            start=time(8),
            end=time(12),
            capacity=2,
        )
        for weekday in range(7)
    }


@pytest.fixture
def service(account_a):
    return ServiceFactory(account=account_a)


def in_three_days(account):
    return account.today() + timedelta(days=3)


def error_of(response):
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}
    return body["error"]


def test_availability_lists_slots_with_their_window(api_a, account_a, windows, service):
    response = api_a.get(f"/{service.pk}/availability")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["schedule"] is None
    assert len(body["slots"]) >= 13  # today (maybe past its cut-off) to the 14 days' horizon
    day = in_three_days(account_a)
    window = windows[day.weekday()]
    slot = next(slot for slot in body["slots"] if slot["date"] == day.isoformat())
    assert slot == {
        "date": day.isoformat(),
        "window": {"id": window.pk, "name": "Manhã", "start": "08:00", "end": "12:00"},
        "remaining": 2,
    }


def test_another_accounts_service_is_not_found(api_b, windows, service):
    for response in (
        api_b.get(f"/{service.pk}/availability"),
        api_b.post(f"/{service.pk}/schedule", {"date": "2030-01-01", "window_id": windows[0].pk}),
    ):
        assert response.status_code == 404
        assert error_of(response)["code"] == "not_found"
    assert not Schedule.objects.exists()


def test_schedule_sets_the_date_and_window_as_the_integration(api_a, account_a, windows, service):
    day = in_three_days(account_a)
    window = windows[day.weekday()]

    response = api_a.post(
        f"/{service.pk}/schedule", {"date": day.isoformat(), "window_id": window.pk}
    )

    assert response.status_code == 200, response.json()
    assert response.json() == {
        "id": service.pk,
        "status": "pending",
        "schedule": {
            "date": day.isoformat(),
            "window": {"id": window.pk, "name": "Manhã", "start": "08:00", "end": "12:00"},
            "origin": "integration",
        },
    }
    schedule = Schedule.objects.get(service=service)
    assert (schedule.date, schedule.window, schedule.origin) == (day, window, Origin.INTEGRATION)
    assert schedule.set_by_label == "Shop ERP"
    [change] = ScheduleChange.objects.filter(service=service)
    assert (change.origin, change.label, change.to_date) == (Origin.INTEGRATION, "Shop ERP", day)
    event = ServiceEvent.objects.get(service=service, kind=EventKind.SCHEDULED)
    assert (event.actor_type, event.actor_label) == (ActorType.INTEGRATION, "Shop ERP")
    assert WindowBooking.objects.get(window=window, date=day).booked == 1
    # Availability now shows it, and one place less.
    body = api_a.get(f"/{service.pk}/availability").json()
    assert body["schedule"]["date"] == day.isoformat()
    slot = next(slot for slot in body["slots"] if slot["date"] == day.isoformat())
    assert slot["remaining"] == 1


def test_a_full_window_is_409(api_a, account_a, windows):
    day = in_three_days(account_a)
    window = windows[day.weekday()]
    window.capacity = 1
    window.save(update_fields=["capacity"])
    first, second = ServiceFactory(account=account_a), ServiceFactory(account=account_a)
    data = {"date": day.isoformat(), "window_id": window.pk}
    assert api_a.post(f"/{first.pk}/schedule", data).status_code == 200

    response = api_a.post(f"/{second.pk}/schedule", data)

    assert response.status_code == 409
    assert error_of(response)["code"] == "window_full"
    assert not Schedule.objects.filter(service=second).exists()


def test_a_window_not_offered_that_day_is_422_naming_date_and_window(
    api_a, account_a, windows, service
):
    day = in_three_days(account_a)
    other_day_window = windows[(day.weekday() + 1) % 7]

    response = api_a.post(
        f"/{service.pk}/schedule", {"date": day.isoformat(), "window_id": other_day_window.pk}
    )

    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "window_not_offered"
    assert set(error["fields"]) == {"date", "window_id"}
    assert all(error["fields"].values())
    assert not Schedule.objects.exists()


def test_an_unknown_or_foreign_window_is_422_naming_window_id(
    api_a, account_a, account_b, windows, service
):
    day = in_three_days(account_a)
    foreign = DeliveryWindow.objects.create(
        account=account_b, weekday=day.weekday(), name="X", start=time(8), end=time(9)
    )
    for window_id in (foreign.pk, 999_999):
        response = api_a.post(
            f"/{service.pk}/schedule", {"date": day.isoformat(), "window_id": window_id}
        )
        assert response.status_code == 422
        assert list(error_of(response)["fields"]) == ["window_id"]


def test_a_malformed_date_is_422_naming_date(api_a, windows, service):
    response = api_a.post(f"/{service.pk}/schedule", {"date": "31/12", "window_id": windows[0].pk})

    assert response.status_code == 422
    assert list(error_of(response)["fields"]) == ["date"]


def test_a_done_service_cannot_be_scheduled(api_a, account_a, windows):
    service = ServiceFactory(account=account_a, status=ServiceStatus.DONE)
    day = in_three_days(account_a)

    response = api_a.post(
        f"/{service.pk}/schedule", {"date": day.isoformat(), "window_id": windows[day.weekday()].pk}
    )

    assert response.status_code == 409
    assert error_of(response)["code"] == "not_schedulable"
    assert api_a.get(f"/{service.pk}/availability").json()["slots"] == []


def test_a_repeat_with_the_same_idempotency_key_books_once(api_a, account_a, windows, service):
    day = in_three_days(account_a)
    data = {"date": day.isoformat(), "window_id": windows[day.weekday()].pk}

    first = api_a.post(f"/{service.pk}/schedule", data, key="sched-1")
    again = api_a.post(f"/{service.pk}/schedule", data, key="sched-1")

    assert (first.status_code, again.status_code) == (200, 200)
    assert first.json() == again.json()
    assert first.json()["schedule"]["date"] == day.isoformat()
    assert ScheduleChange.objects.filter(service=service).count() == 1
    assert WindowBooking.objects.get().booked == 1
    # The same key with another body is refused.
    other = {**data, "date": (day + timedelta(days=7)).isoformat()}
    assert api_a.post(f"/{service.pk}/schedule", other, key="sched-1").status_code == 422


def test_the_endpoints_are_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert "/api/v1/services/{service_id}/availability" in paths
    assert "/api/v1/services/{service_id}/schedule" in paths
    assert "/api/v1/services/{service_id}" in paths


# The demo ---------------------------------------------------------------------------------------


def test_the_demo_seeds_windows_and_schedules_and_a_second_run_changes_nothing():
    from accounts import demo
    from accounts.models import Account
    from scheduling.models import SchedulingPolicy

    demo.seed(slug="sched-demo")
    account = Account.objects.get(slug="sched-demo")

    def counts():
        return (
            DeliveryWindow.objects.filter(account=account).count(),
            SchedulingPolicy.objects.filter(account=account).count(),
            Schedule.objects.filter(account=account).count(),
            ScheduleChange.objects.filter(account=account).count(),
            sum(WindowBooking.objects.filter(account=account).values_list("booked", flat=True)),
        )

    first = counts()
    assert first[:2] == (6 + 6 + 5, 1)
    assert set(
        DeliveryWindow.objects.filter(account=account, weekday=0).values_list(
            "name", "start", "end", "capacity"
        )
    ) == {
        ("Manhã", time(8), time(12), 20),
        ("Tarde", time(13), time(18), 20),
        ("Noite", time(18), time(21), 10),
    }
    assert not DeliveryWindow.objects.filter(account=account, weekday=6).exists()
    assert not DeliveryWindow.objects.filter(account=account, weekday=5, name="Noite").exists()
    # About half the demo's services get a window (the routes demo then routes some unscheduled).
    demo_services = Service.objects.filter(account=account, external_id__startswith="DEMO-").count()
    assert demo_services // 2 - 1 <= first[2] <= demo_services // 2 + 1
    assert set(Schedule.objects.filter(account=account).values_list("origin", flat=True)) == {
        Origin.INTEGRATION
    }
    assert first[2] == first[3] == first[4]

    demo.seed(slug="sched-demo")

    assert counts() == first
