"""Splitting the builder's selection among several drivers: a planning job that creates one route
per driver, and what is refused."""

from datetime import date, time

import pytest
from django.urls import reverse

from accounts.models import Role
from routes.models import PlanningJob, PlanningJobStatus, Route
from services.models import ServiceStatus
from tests.factories import (
    BranchFactory,
    DriverFactory,
    ServiceFactory,
    UserFactory,
    VehicleFactory,
)

pytestmark = pytest.mark.django_db

DAY = date(2030, 3, 4)
SPLIT = reverse("routes:split")
START = (-23.55, -46.70)


@pytest.fixture
def branch_a(account_a):
    return BranchFactory(account=account_a, lat=START[0], lng=START[1])


def crew(account, branch, capacity_kg=100):
    vehicle = VehicleFactory(account=account, capacity_kg=capacity_kg)
    return DriverFactory(account=account, branch=branch, vehicle=vehicle), vehicle


def pending(account, count, **extra):
    return [
        ServiceFactory(
            account=account,
            lat=START[0] + 0.002 * (k % 3),
            lng=START[1] + 0.01 * k,
            deadline=None,
            weight_kg=10,
            **extra,
        )
        for k in range(count)
    ]


@pytest.fixture
def post(django_capture_on_commit_callbacks):
    """Posts a split; the job, handed to the worker after commit, runs in-process as in
    `make run`."""

    def send(client, services, crews, **extra):
        with django_capture_on_commit_callbacks(execute=True):
            return _post(client, services, crews, **extra)

    return send


def _post(client, services, crews, **extra):
    data = {
        "services": [service.pk for service in services],
        "date": DAY.isoformat(),
        "departure_time": "07:15",
        "crew": [driver.pk for driver, _vehicle in crews],
        **{f"vehicle_{driver.pk}": vehicle.pk for driver, vehicle in crews},
        **extra,
    }
    return client.post(SPLIT, data)


def test_the_builder_offers_the_active_drivers_to_split_among(
    post, client_of, operator_a, account_a
):
    ana, _ = crew(account_a, None)
    DriverFactory(account=account_a, is_active=False, first_name="Gone")

    response = client_of(operator_a).get(reverse("routes:create"), {"date": DAY})

    html = response.content.decode()
    assert 'data-testid="split"' in html
    assert f'name="crew" value="{ana.pk}"' in html
    assert "Gone" not in html


def test_splitting_creates_one_route_per_driver_within_capacity(
    post, client_of, operator_a, account_a, branch_a
):
    services = pending(account_a, 6)
    crews = [crew(account_a, branch_a, capacity_kg=30) for _ in range(2)]

    response = post(client_of(operator_a), services, crews)

    job = PlanningJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("routes:job", args=[job.pk])
    assert job.status == PlanningJobStatus.DONE  # tasks run in-process here
    routes = Route.objects.filter(pk__in=job.result["routes"])
    assert {(r.driver_id, r.vehicle_id) for r in routes} == {(d.pk, v.pk) for d, v in crews}
    assert {r.departure_time for r in routes} == {time(7, 15)}
    assert sorted(r.stops.count() for r in routes) == [3, 3]
    assert all(s.status == ServiceStatus.ROUTED for s in ServiceFactory._meta.model.objects.all())
    page = client_of(operator_a).get(response["Location"]).content.decode()
    for route in routes:
        assert reverse("routes:detail", args=[route.pk]) in page


def test_a_vehicle_other_than_the_usual_one_can_be_chosen(post, client_of, operator_a, account_a):
    services = pending(account_a, 2)
    driver, _ = crew(account_a, None)
    van = VehicleFactory(account=account_a)

    post(client_of(operator_a), services, [(driver, van)])

    assert Route.objects.get().vehicle == van


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("nobody", "Tick the drivers"),
        ("same vehicle", "is chosen twice"),
        ("inactive vehicle", "Choose a vehicle"),
        ("past date", "today or a later date"),
    ],
)
def test_refusals_are_explained_and_create_nothing(
    post, client_of, operator_a, account_a, case, message
):
    services = pending(account_a, 2)
    first, second = crew(account_a, None), crew(account_a, None)
    crews, extra = [first, second], {}
    if case == "nobody":
        crews = []
    elif case == "same vehicle":
        crews = [first, (second[0], first[1])]
    elif case == "inactive vehicle":
        first[1].is_active = False
        first[1].save()
    elif case == "past date":
        extra = {"date": "2020-01-01"}

    response = post(client_of(operator_a), services, crews, **extra)

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not PlanningJob.objects.exists() and not Route.objects.exists()
    # The selection is kept for the next try.
    assert f'value="{services[0].pk}"' in response.content.decode()


def test_another_accounts_drivers_and_services_cannot_be_used(
    post, client_of, operator_a, account_a, account_b
):
    own = pending(account_a, 1)
    foreign_services = pending(account_b, 1)
    foreign_crew = crew(account_b, None)

    refused_driver = post(client_of(operator_a), own, [foreign_crew])
    refused_services = post(client_of(operator_a), foreign_services, [crew(account_a, None)])

    assert "no longer available" in refused_driver.content.decode()
    assert "no longer available" in refused_services.content.decode()
    assert not PlanningJob.objects.exists()
    foreign_services[0].refresh_from_db()
    assert foreign_services[0].status == ServiceStatus.PENDING


def test_a_branch_users_split_starts_at_their_branch_and_only_they_see_the_job(
    post, client_of, account_a, branch_a
):
    other_branch = BranchFactory(account=account_a)
    mine = UserFactory(account=account_a, role=Role.OPERATOR, branch=branch_a)
    theirs = UserFactory(account=account_a, role=Role.OPERATOR, branch=other_branch)
    services = pending(account_a, 2, branch=branch_a)
    driver, vehicle = crew(account_a, branch_a)

    post(client_of(mine), services, [(driver, vehicle)])

    job = PlanningJob.objects.get()
    assert job.branch == branch_a
    assert Route.objects.get().branch == branch_a
    job_url = reverse("routes:job", args=[job.pk])
    assert client_of(mine).get(job_url).status_code == 200
    assert client_of(theirs).get(job_url).status_code == 404


def test_people_outside_the_routes_section_cannot_split(client_of, account_a):
    call_centre = UserFactory(account=account_a, role=Role.CALL_CENTRE)
    response = client_of(call_centre).post(SPLIT, {})
    assert response.status_code == 404
