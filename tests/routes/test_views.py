"""The operators' routes pages: the day's list, the builder, a route's plan (reorder, optimize,
remove, departure, cancel), the printable sheet and planning jobs; and who may see them."""

from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from accounts.models import Role
from routes import actions
from routes.models import PlanningJob, PlanningJobStatus, Route, RouteStatus
from scheduling.models import Schedule
from services.actions import Actor
from services.models import ServiceStatus
from tests.factories import (
    BranchFactory,
    CarrierFactory,
    CustomerFactory,
    DeliveryWindowFactory,
    DriverFactory,
    PackageFactory,
    PartnerFactory,
    ServiceFactory,
    UserFactory,
    VehicleFactory,
)

pytestmark = pytest.mark.django_db

DAY = date(2030, 3, 4)  # a Monday
INDEX = reverse("routes:index")
CREATE = reverse("routes:create")
HTMX = {"HX-Request": "true"}
# A line of points east of the start: the k-th is k km-ish away (0.01° of longitude).
START = (-23.55, -46.70)


def point(k):
    return START[0], START[1] + 0.01 * k


def flashed(response):
    return [str(message) for message in get_messages(response.wsgi_request)]


def url(name, route, *extra):
    return reverse(f"routes:{name}", args=[route.pk, *extra])


@pytest.fixture
def branch_a(account_a):
    return BranchFactory(account=account_a, name="Centro", lat=START[0], lng=START[1])


@pytest.fixture
def driver_a(account_a, branch_a):
    return DriverFactory(account=account_a, branch=branch_a, first_name="Ana", last_name="Lima")


def services_at(account, positions, **extra):
    extra.setdefault("deadline", None)
    return [
        ServiceFactory(
            account=account,
            lat=point(k)[0],
            lng=point(k)[1],
            customer=CustomerFactory(account=account, name=f"Customer {k}"),
            **extra,
        )
        for k in positions
    ]


def build(account, driver, services, day=DAY):
    return actions.route_create(
        account=account,
        actor=Actor.system(),
        driver=driver,
        vehicle=driver.vehicle,
        day=day,
        services=services,
        branch=driver.branch,
    )


@pytest.fixture
def zigzag(account_a, driver_a):
    """A route whose order goes back and forth along a line: 4, 1, 3, 2, 5."""
    return build(account_a, driver_a, services_at(account_a, [4, 1, 3, 2, 5]))


def stop_order(route):
    return list(route.stops.order_by("sequence").values_list("service__customer__name", flat=True))


# Who sees the section ---------------------------------------------------------------------------


def every_url(route, stop, job):
    return [
        ("get", INDEX),
        ("get", CREATE),
        ("get", f"{CREATE}?route={route.pk}"),
        ("get", url("detail", route)),
        ("get", url("sheet", route)),
        ("post", url("reorder", route)),
        ("post", url("optimize", route)),
        ("post", url("update_plan", route)),
        ("post", url("cancel", route)),
        ("post", url("remove_stop", route, stop.pk)),
        ("get", reverse("routes:job", args=[job.pk])),
    ]


@pytest.fixture
def job_a(account_a, zigzag):
    return PlanningJob.objects.create(
        account=account_a, date=DAY, request={"route": zigzag.pk}, status=PlanningJobStatus.DONE,
        progress=100, result={"routes": [zigzag.pk], "unassigned": []},
    )  # fmt: skip


@pytest.mark.parametrize("persona", ["manager_a", "operator_a"])
def test_every_page_works_for_managers_and_operators(client_of, request, persona, zigzag, job_a):
    client = client_of(request.getfixturevalue(persona))
    for method, address in every_url(zigzag, zigzag.stops.first(), job_a):
        if method == "get":
            assert client.get(address).status_code == 200, address
    assert "Routes" in client.get(INDEX).content.decode()


@pytest.mark.parametrize("role", [Role.CARRIER, Role.PARTNER, Role.CALL_CENTRE])
def test_roles_without_the_section_get_a_404(client_of, account_a, role, zigzag, job_a):
    user = UserFactory(
        account=account_a,
        role=role,
        partner=PartnerFactory(account=account_a) if role == Role.PARTNER else None,
        carrier=CarrierFactory(account=account_a) if role == Role.CARRIER else None,
    )
    client = client_of(user)
    for method, address in every_url(zigzag, zigzag.stops.first(), job_a):
        assert getattr(client, method)(address).status_code == 404, address
    zigzag.refresh_from_db()
    assert zigzag.status == RouteStatus.PLANNED


def test_anonymous_users_are_sent_to_log_in(client, zigzag):
    for address in (INDEX, CREATE, url("detail", zigzag), url("sheet", zigzag)):
        response = client.get(address)
        assert response.status_code == 302
        assert "/login/" in response["Location"]


def test_an_outsider_gets_404_on_every_route_page_and_changes_nothing(
    client_of, manager_b, zigzag, job_a
):
    client = client_of(manager_b)
    order, distance = stop_order(zigzag), zigzag.planned_distance_m
    stop = zigzag.stops.first()
    for method, address in every_url(zigzag, stop, job_a)[2:]:
        data = {"stop": [stop.pk], "departure_time": "10:00"} if method == "post" else None
        assert getattr(client, method)(address, data).status_code == 404, address
    zigzag.refresh_from_db()
    assert zigzag.status == RouteStatus.PLANNED
    assert (stop_order(zigzag), zigzag.planned_distance_m) == (order, distance)
    assert zigzag.departure_time == time(8, 0)


def route_data(driver, services, day=DAY, **extra):
    return {
        "date": day.isoformat(),
        "driver": driver.pk,
        "vehicle": driver.vehicle_id,
        "departure_time": "08:30",
        "services": [service.pk for service in services],
        **extra,
    }


def test_an_outsider_cannot_route_another_accounts_services(client_of, manager_b, account_a):
    theirs = ServiceFactory(account=account_a)
    own_driver = DriverFactory(account=manager_b.account)
    response = client_of(manager_b).post(CREATE, route_data(own_driver, [theirs]))
    assert response.status_code == 200
    assert "no longer available" in response.content.decode()
    assert not Route.objects.exists()
    theirs.refresh_from_db()
    assert theirs.status == ServiceStatus.PENDING


def test_an_outsider_cannot_use_another_accounts_driver(client_of, manager_b, driver_a):
    own = ServiceFactory(account=manager_b.account)
    response = client_of(manager_b).post(CREATE, route_data(driver_a, [own]))
    assert response.status_code == 200
    assert response.context["form"].errors["driver"]
    assert response.context["form"].errors["vehicle"]
    assert not Route.objects.exists()


def test_a_branch_user_sees_only_their_branch_routes(client_of, account_a, driver_a, branch_a):
    other_branch = BranchFactory(account=account_a, name="Norte")
    other_driver = DriverFactory(account=account_a, branch=other_branch)
    ours = build(account_a, driver_a, [ServiceFactory(account=account_a, branch=branch_a)])
    theirs = build(account_a, other_driver, [ServiceFactory(account=account_a)])
    user = UserFactory(account=account_a, role=Role.OPERATOR, branch=branch_a)
    client = client_of(user)
    response = client.get(f"{INDEX}?date={DAY}")
    assert [route.pk for route in response.context["routes"]] == [ours.pk]
    assert client.get(url("detail", theirs)).status_code == 404
    assert client.get(url("sheet", theirs)).status_code == 404
    # Their drivers are not offered either.
    response = client.get(CREATE)
    assert list(response.context["form"].fields["driver"].queryset) == [driver_a]


# The day's list ---------------------------------------------------------------------------------


def test_the_day_lists_its_routes_with_counts_distance_and_duration(
    client_of, operator_a, zigzag, driver_a
):
    Route.objects.filter(pk=zigzag.pk).update(planned_distance_m=12_345, planned_duration_s=7500)
    build(operator_a.account, DriverFactory(account=operator_a.account), [], day=date(2030, 3, 5))
    response = client_of(operator_a).get(f"{INDEX}?date={DAY}")
    html = response.content.decode()
    assert [route.pk for route in response.context["routes"]] == [zigzag.pk]
    row = html[html.index(f'data-route="{zigzag.pk}"') :]
    assert "Ana Lima" in row and driver_a.vehicle.plate in row
    assert "0/0/5" in row.replace('<span class="text-success">', "").replace(
        '<span class="text-danger">', ""
    ).replace("</span>", "")
    assert "12.3 km" in row and "2:05" in row and "08:00" in row
    assert f"?date={date(2030, 3, 3)}" in html and f"?date={date(2030, 3, 5)}" in html


def test_the_day_filters_by_status_and_driver(client_of, manager_a, zigzag, account_a):
    other = build(account_a, DriverFactory(account=account_a), [ServiceFactory(account=account_a)])
    actions.route_cancel(route=other, actor=Actor.system())
    client = client_of(manager_a)

    def listed(query):
        return [r.pk for r in client.get(f"{INDEX}?date={DAY}&{query}").context["routes"]]

    assert listed("status=cancelled") == [other.pk]
    assert listed(f"driver={zigzag.driver_id}") == [zigzag.pk]
    assert sorted(listed("")) == sorted([zigzag.pk, other.pk])


def test_an_empty_day_invites_to_build_a_route(client_of, operator_a):
    ServiceFactory(account=operator_a.account)
    response = client_of(operator_a).get(f"{INDEX}?date={DAY}")
    html = response.content.decode()
    assert 'data-testid="empty-state"' in html
    assert "1 service is waiting to be routed." in html
    assert f"{CREATE}?date={DAY}" in html


# The builder ------------------------------------------------------------------------------------


def candidates(response):
    return sorted(service.customer.name for service in response.context["candidates"])


def test_the_date_rule_lists_scheduled_services_and_open_deadlines(client_of, operator_a):
    account = operator_a.account
    window = DeliveryWindowFactory(account=account, weekday=DAY.weekday())

    def service(name, **extra):
        customer = CustomerFactory(account=account, name=name)
        return ServiceFactory(account=account, customer=customer, **extra)

    for name, day in (("SCHEDULED", DAY), ("OTHER-DAY", date(2030, 3, 11))):
        Schedule.objects.create(
            account=account, service=service(name), date=day, window=window, origin="back_office"
        )
    service("LATER", deadline=datetime(2030, 3, 6, 12, tzinfo=UTC))
    service("SAME-DAY", deadline=datetime(2030, 3, 4, 20, tzinfo=UTC))
    service("OVERDUE", deadline=datetime(2030, 3, 3, 12, tzinfo=UTC))
    service("NO-DEADLINE", deadline=None)
    service("ROUTED", status=ServiceStatus.ROUTED)
    response = client_of(operator_a).get(f"{CREATE}?date={DAY}")
    assert candidates(response) == ["LATER", "NO-DEADLINE", "SAME-DAY", "SCHEDULED"]
    assert "scheduled for this date" in response.content.decode()


def test_the_area_keeps_only_services_inside_it(client_of, operator_a):
    services_at(operator_a.account, [1, 5])
    client = client_of(operator_a)
    south, west = START[0] - 0.01, START[1]
    north, east = START[0] + 0.01, point(2)[1]
    response = client.get(f"{CREATE}?date={DAY}&area={south},{west},{north},{east}")
    assert candidates(response) == ["Customer 1"]
    assert response.context["area"] == (south, west, north, east)


@pytest.mark.parametrize(
    "area", ["nonsense", "1,2,3", "-23.5,-46.7,-23.6,-46.6", "nan,1,2,3", "-91,0,0,1", "a,b,c,d"]
)
def test_a_malformed_area_is_an_error_message_not_a_failure(client_of, operator_a, area):
    services_at(operator_a.account, [1, 5])
    response = client_of(operator_a).get(f"{CREATE}?date={DAY}", {"area": area}, headers=HTMX)
    assert response.status_code == 200
    assert "The map area could not be read" in response.content.decode()
    assert candidates(response) == ["Customer 1", "Customer 5"]


def test_the_weight_and_window_filters(client_of, operator_a):
    account = operator_a.account
    morning = DeliveryWindowFactory(account=account, weekday=DAY.weekday(), name="Morning")
    afternoon = DeliveryWindowFactory(
        account=account, weekday=DAY.weekday(), name="Afternoon", start=time(13), end=time(17)
    )
    for name, kg, window in (("LIGHT", 2, morning), ("HEAVY", 80, morning), ("LATE", 1, afternoon)):
        service = ServiceFactory(
            account=account, weight_kg=kg, customer=CustomerFactory(account=account, name=name)
        )
        Schedule.objects.create(
            account=account, service=service, date=DAY, window=window, origin="back_office"
        )
    client = client_of(operator_a)
    assert candidates(client.get(f"{CREATE}?date={DAY}&max_kg=10")) == ["LATE", "LIGHT"]
    assert candidates(client.get(f"{CREATE}?date={DAY}&window={morning.pk}")) == ["HEAVY", "LIGHT"]
    # A window of another weekday is ignored (the date changed), not an error.
    response = client.get(f"{CREATE}?date=2030-03-05&window={morning.pk}")
    assert response.status_code == 200 and not response.context["filters_form"].errors
    # The partial answers htmx with the list, and the window choices of the date.
    partial = client.get(f"{CREATE}?date={DAY}&q=heavy", headers=HTMX)
    assert candidates(partial) == ["HEAVY"]
    assert 'id="window-filter" hx-swap-oob="true"' in partial.content.decode()
    assert "<html" not in partial.content.decode()


def test_the_due_by_filter_keeps_services_due_that_day_or_earlier(client_of, operator_a):
    account = operator_a.account
    sp = account.tzinfo
    for name, deadline in (
        ("EARLY", datetime(2030, 3, 4, 9, 0, tzinfo=sp)),
        ("LAST MINUTE", datetime(2030, 3, 5, 23, 59, tzinfo=sp)),
        ("LATER", datetime(2030, 3, 6, 0, 0, tzinfo=sp)),
        ("OPEN", None),
    ):
        ServiceFactory(
            account=account, deadline=deadline, customer=CustomerFactory(account=account, name=name)
        )
    client = client_of(operator_a)
    assert candidates(client.get(f"{CREATE}?date={DAY}")) == [
        "EARLY", "LAST MINUTE", "LATER", "OPEN"
    ]  # fmt: skip
    assert candidates(client.get(f"{CREATE}?date={DAY}&deadline_by=2030-03-05")) == [
        "EARLY", "LAST MINUTE"
    ]  # fmt: skip


def test_candidates_show_their_markers_data_and_the_driver_s_usual_vehicle(
    client_of, operator_a, driver_a
):
    (service,) = services_at(operator_a.account, [1])
    html = client_of(operator_a).get(f"{CREATE}?date={DAY}").content.decode()
    assert f'data-candidate="{service.pk}"' in html
    assert f'data-lat="{service.lat}"' in html and f'data-lng="{service.lng}"' in html
    assert f'data-vehicle="{driver_a.vehicle_id}"' in html
    assert 'form="route-form"' in html


def test_creating_a_route_routes_the_services_in_the_listed_order(
    client_of, operator_a, driver_a, branch_a
):
    services = services_at(operator_a.account, [3, 1, 2])
    response = client_of(operator_a).post(
        CREATE, route_data(driver_a, services, filters=f"date={DAY}")
    )
    route = Route.objects.get()
    assert response.status_code == 302
    assert response["Location"] == url("detail", route)
    assert stop_order(route) == ["Customer 3", "Customer 1", "Customer 2"]
    assert (route.driver, route.vehicle, route.date) == (driver_a, driver_a.vehicle, DAY)
    assert route.departure_time == time(8, 30)
    assert route.branch == branch_a  # the driver's, as none was chosen
    assert route.planned_distance_m > 0
    assert route.created_by == operator_a
    for service in services:
        service.refresh_from_db()
        assert service.status == ServiceStatus.ROUTED
    assert flashed(response) == ["Route created with 3 stops."]


def test_an_itinerant_route_has_its_last_day(client_of, operator_a, driver_a):
    services = services_at(operator_a.account, [1])
    client = client_of(operator_a)

    refused = client.post(CREATE, {**route_data(driver_a, services), "end_date": "2030-03-03"})
    assert "cannot be before the route" in refused.content.decode()
    assert not Route.objects.exists()

    client.post(CREATE, {**route_data(driver_a, services), "end_date": "2030-03-07"})
    assert Route.objects.get().end_date == date(2030, 3, 7)


def test_a_route_without_services_is_refused(client_of, operator_a, driver_a):
    response = client_of(operator_a).post(CREATE, route_data(driver_a, []))
    assert response.status_code == 200
    assert "Select at least one service." in response.content.decode()
    assert not Route.objects.exists()


def test_a_service_no_longer_pending_is_refused_with_its_reason(client_of, operator_a, driver_a):
    pending, taken = services_at(operator_a.account, [1, 2])
    build(operator_a.account, DriverFactory(account=operator_a.account), [taken])
    response = client_of(operator_a).post(
        CREATE, route_data(driver_a, [pending, taken], filters=f"date={DAY}&max_kg=5")
    )
    assert response.status_code == 200
    assert "is routed, not pending: it cannot be routed." in response.content.decode()
    assert Route.objects.count() == 1
    pending.refresh_from_db()
    assert pending.status == ServiceStatus.PENDING
    # The page comes back with the same filters and the same selection.
    assert response.context["filters_form"].data["max_kg"] == "5"
    assert response.context["selected_ids"] == [pending.pk, taken.pk]
    assert [service.pk for service in response.context["carried"]] == [taken.pk]


def test_a_past_date_is_refused(client_of, operator_a, driver_a):
    services = services_at(operator_a.account, [1])
    response = client_of(operator_a).post(
        CREATE, route_data(driver_a, services, day=date(2020, 1, 1))
    )
    assert response.status_code == 200
    assert "today or a later date" in response.content.decode()
    assert not Route.objects.exists()


def test_adding_stops_to_a_planned_route(client_of, operator_a, zigzag):
    new = services_at(operator_a.account, [6, 7])
    client = client_of(operator_a)
    page = client.get(f"{CREATE}?route={zigzag.pk}")
    assert "Add stops to Ana Lima" in page.content.decode()
    assert page.context["day"] == DAY
    response = client.post(
        f"{CREATE}?route={zigzag.pk}", {"services": [s.pk for s in new], "filters": ""}
    )
    assert response.status_code == 302
    assert stop_order(zigzag)[-2:] == ["Customer 6", "Customer 7"]
    assert flashed(response) == ["2 stops added to the route."]


def test_adding_stops_to_a_started_route_says_why_not(client_of, operator_a, zigzag, driver_a):
    actions.route_start(route=zigzag, actor=Actor.for_driver(driver_a))
    response = client_of(operator_a).get(f"{CREATE}?route={zigzag.pk}")
    assert response.status_code == 302
    assert flashed(response) == ["This route is in progress: only planned routes can be changed."]


# A route's page ---------------------------------------------------------------------------------


def test_the_route_page_shows_the_plan(client_of, operator_a, account_a, driver_a):
    window = DeliveryWindowFactory(
        account=account_a, weekday=DAY.weekday(), start=time(7), end=time(7, 5)
    )
    late, fine = services_at(account_a, [3, 1])
    nowhere = ServiceFactory(account=account_a, lat=None, lng=None)
    Schedule.objects.create(
        account=account_a, service=late, date=DAY, window=window, origin="back_office"
    )
    PackageFactory(service=fine, barcode="7890001112223")
    route = build(account_a, driver_a, [late, fine, nowhere])
    response = client_of(operator_a).get(url("detail", route))
    html = response.content.decode()
    assert response.status_code == 200
    plan = response.context["plan"]
    assert f'data-distance-m="{plan.distance_m}"' in html
    assert "Window missed" in html and "Arrives after the window closes." in html
    assert "No coordinates" in html
    assert 'data-testid="drag-handle"' in html and 'name="up"' in html
    assert 'id="route-map-data"' in html
    assert len(response.context["map_data"]["stops"]) == 2


def test_reordering_changes_sequences_and_the_distance(client_of, operator_a, zigzag):
    stops = {
        s.service.customer.name: s.pk for s in zigzag.stops.select_related("service__customer")
    }
    before = zigzag.planned_distance_m
    order = [stops[f"Customer {k}"] for k in (1, 2, 3, 4, 5)]
    response = client_of(operator_a).post(url("reorder", zigzag), {"stop": order}, headers=HTMX)
    assert response.status_code == 200
    zigzag.refresh_from_db()
    assert stop_order(zigzag) == [f"Customer {k}" for k in (1, 2, 3, 4, 5)]
    assert zigzag.planned_distance_m < before
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="route-plan"')
    assert f'data-distance-m="{zigzag.planned_distance_m}"' in html


def test_arrow_buttons_move_one_stop(client_of, operator_a, zigzag):
    first = zigzag.stops.order_by("sequence").first()
    client = client_of(operator_a)
    response = client.post(url("reorder", zigzag), {"down": first.pk})
    assert response.status_code == 302
    assert stop_order(zigzag)[:2] == ["Customer 1", "Customer 4"]
    client.post(url("reorder", zigzag), {"up": first.pk})
    assert stop_order(zigzag)[:2] == ["Customer 4", "Customer 1"]


def test_a_bad_order_is_a_message(client_of, operator_a, zigzag):
    before = stop_order(zigzag)
    client = client_of(operator_a)
    for data in ({"stop": ["x"]}, {"stop": [zigzag.stops.first().pk]}, {}):
        response = client.post(url("reorder", zigzag), data, headers=HTMX)
        assert response.status_code == 200
        assert 'role="alert"' in response.content.decode()
    assert stop_order(zigzag) == before


def test_removing_a_stop(client_of, operator_a, zigzag):
    stop = zigzag.stops.order_by("sequence").first()
    response = client_of(operator_a).post(url("remove_stop", zigzag, stop.pk), headers=HTMX)
    assert response.status_code == 200
    assert stop_order(zigzag) == ["Customer 1", "Customer 3", "Customer 2", "Customer 5"]
    stop.service.refresh_from_db()
    assert stop.service.status == ServiceStatus.PENDING
    assert "is pending again" in response.content.decode()


def test_optimizing_a_small_route_shortens_it_in_the_request(client_of, operator_a, zigzag):
    before = zigzag.planned_distance_m
    response = client_of(operator_a).post(url("optimize", zigzag), headers=HTMX)
    assert response.status_code == 200
    zigzag.refresh_from_db()
    assert zigzag.planned_distance_m < before
    assert stop_order(zigzag) == [f"Customer {k}" for k in (1, 2, 3, 4, 5)]
    html = response.content.decode()
    assert "Optimized: " in html and " km → " in html
    assert f'data-distance-m="{zigzag.planned_distance_m}"' in html
    assert not PlanningJob.objects.exists()


def test_optimizing_a_large_route_goes_through_a_planning_job(
    client_of, operator_a, zigzag, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr("routes.jobs.LARGE_ROUTE_STOPS", 3)
    before = zigzag.planned_distance_m
    client = client_of(operator_a)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url("optimize", zigzag), headers=HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    job = PlanningJob.objects.get()
    assert job.request == {"route": zigzag.pk}
    assert 'data-testid="planning-job"' in html
    assert f"{reverse('routes:job', args=[job.pk])}?route={zigzag.pk}" in html  # it polls
    assert 'role="progressbar"' in html
    job.refresh_from_db()
    assert job.status == PlanningJobStatus.DONE and job.progress == 100
    zigzag.refresh_from_db()
    assert zigzag.planned_distance_m < before
    # The route's page polls until the job ends, then reloads the route.
    polled = client.get(f"{reverse('routes:job', args=[job.pk])}?route={zigzag.pk}", headers=HTMX)
    assert polled["HX-Redirect"] == url("detail", zigzag)
    page = client.get(reverse("routes:job", args=[job.pk])).content.decode()
    assert "Done" in page and url("detail", zigzag) in page


def test_a_running_job_shows_on_the_route_page(client_of, operator_a, zigzag):
    job = PlanningJob.objects.create(
        account=zigzag.account, date=DAY, request={"route": zigzag.pk},
        status=PlanningJobStatus.RUNNING, progress=40,
    )  # fmt: skip
    html = client_of(operator_a).get(url("detail", zigzag)).content.decode()
    assert f'id="planning-job-{job.pk}"' in html
    assert 'aria-valuenow="40"' in html and 'hx-trigger="every 1s"' in html


def test_optimizing_again_while_a_job_runs_shows_that_job(client_of, operator_a, zigzag):
    job = PlanningJob.objects.create(
        account=zigzag.account, date=DAY, request={"route": zigzag.pk},
        status=PlanningJobStatus.QUEUED,
    )  # fmt: skip
    response = client_of(operator_a).post(url("optimize", zigzag), headers=HTMX)
    html = response.content.decode()
    assert "already being optimized" in html and f'id="planning-job-{job.pk}"' in html
    assert PlanningJob.objects.count() == 1


def test_setting_the_departure_moves_the_arrivals(client_of, operator_a, zigzag):
    first = zigzag.stops.order_by("sequence").first()
    response = client_of(operator_a).post(
        url("update_plan", zigzag), {"departure_time": "10:15"}, headers=HTMX
    )
    assert response.status_code == 200
    zigzag.refresh_from_db()
    first_after = zigzag.stops.get(pk=first.pk)
    assert zigzag.departure_time == time(10, 15)
    assert (first_after.planned_arrival - first.planned_arrival).total_seconds() == 135 * 60
    assert "Departure set to 10:15." in response.content.decode()
    bad = client_of(operator_a).post(url("update_plan", zigzag), {"departure_time": "later"})
    assert bad.status_code == 302 and "Enter a departure time" in flashed(bad)[0]


def test_cancelling_a_route(client_of, operator_a, zigzag):
    response = client_of(operator_a).post(url("cancel", zigzag))
    assert response.status_code == 302
    zigzag.refresh_from_db()
    assert zigzag.status == RouteStatus.CANCELLED
    assert flashed(response) == ["Route cancelled: its services are pending again."]


def test_a_started_route_is_read_only_and_edits_say_why(client_of, operator_a, zigzag, driver_a):
    actions.route_start(route=zigzag, actor=Actor.for_driver(driver_a))
    order, distance = stop_order(zigzag), zigzag.planned_distance_m
    stops = list(zigzag.stops.order_by("-sequence").values_list("pk", flat=True))
    client = client_of(operator_a)
    message = "This route is in progress: only planned routes can be changed."
    for address, data in (
        (url("reorder", zigzag), {"stop": stops}),
        (url("remove_stop", zigzag, stops[0]), {}),
        (url("optimize", zigzag), {}),
        (url("update_plan", zigzag), {"departure_time": "11:00"}),
    ):
        response = client.post(address, data, headers=HTMX)
        assert response.status_code == 200, address
        assert message in response.content.decode(), address
    zigzag.refresh_from_db()
    assert (stop_order(zigzag), zigzag.planned_distance_m) == (order, distance)
    assert zigzag.departure_time == time(8, 0) and zigzag.stops.count() == 5
    assert not PlanningJob.objects.exists()
    html = client.get(url("detail", zigzag)).content.decode()
    assert message in html
    assert 'data-testid="drag-handle"' not in html and 'data-testid="optimize"' not in html
    assert 'data-testid="remove-stop"' not in html and "data-editable" not in html


def test_the_sheet_lists_every_stop(client_of, operator_a, account_a, driver_a):
    services = services_at(account_a, [2, 1, 3])
    PackageFactory(service=services[0], barcode="BOX-0001")
    PackageFactory(service=services[0], barcode="BOX-0002")
    services[1].invoice_number = "NF-77"
    services[1].save()
    route = build(account_a, driver_a, services)
    response = client_of(operator_a).get(url("sheet", route))
    html = response.content.decode()
    assert response.status_code == 200
    assert html.count('data-testid="sheet-stop"') == 3
    positions = [html.index(f"Customer {k}") for k in (2, 1, 3)]
    assert positions == sorted(positions)
    assert "BOX-0001" in html and "BOX-0002" in html and "NF-77" in html
    assert "Received by / signature" in html and "data-print" in html
    assert "Acme Entregas" in html and "Centro" in html
    assert 'id="main-nav"' not in html


# Session, user, route, its stops with their services (and, for the sheet, their packages), and
# the route's running job: the same for 3 stops as for 30.
@pytest.mark.parametrize("size", [3, 30])
@pytest.mark.parametrize("name", ["detail", "sheet"])
def test_the_route_pages_do_not_query_per_stop(
    client_of, operator_a, account_a, driver_a, django_assert_max_num_queries, name, size
):
    services = [ServiceFactory(account=account_a) for _ in range(size)]
    for service in services:
        PackageFactory(service=service)
    route = build(account_a, driver_a, services)
    client = client_of(operator_a)
    client.get(url(name, route))  # a session's first request records when the user was last seen
    with django_assert_max_num_queries(6):
        assert client.get(url(name, route)).status_code == 200


def test_another_accounts_job_is_not_found(client_of, manager_b, job_a):
    assert client_of(manager_b).get(reverse("routes:job", args=[job_a.pk])).status_code == 404


def test_the_driver_s_vehicle_and_a_vehicle_of_another_kind(client_of, operator_a, driver_a):
    # Any active vehicle of the account can be chosen, not only the driver's usual one.
    van = VehicleFactory(account=operator_a.account, plate="VAN1A23", capacity_kg=500)
    services = services_at(operator_a.account, [1])
    data = route_data(driver_a, services, vehicle=van.pk)
    assert client_of(operator_a).post(CREATE, data).status_code == 302
    assert Route.objects.get().vehicle == van


def test_a_running_route_shows_where_the_driver_went_and_is_and_refreshes_itself(
    client_of, operator_a, zigzag, driver_a
):
    from routes.models import Position

    client = client_of(operator_a)
    planned = client.get(url("detail", zigzag))
    assert planned.context["map_data"]["track"] == []
    assert "every 20s" not in planned.content.decode()

    actions.route_start(route=zigzag, actor=Actor.for_driver(driver_a))
    base = datetime(2030, 3, 4, 11, 0, tzinfo=UTC)
    for minute in (2, 0, 1):  # received out of order
        Position.objects.create(
            account=zigzag.account,
            driver=driver_a,
            route=zigzag,
            recorded_at=base.replace(minute=minute),
            lat=START[0],
            lng=START[1] + 0.001 * minute,
        )
    driver_a.last_lat, driver_a.last_lng = START[0], START[1] + 0.002
    driver_a.last_position_at = base.replace(minute=2)
    driver_a.save()

    running = client.get(url("detail", zigzag))

    data = running.context["map_data"]
    assert data["track"] == [[START[0], START[1] + 0.001 * m] for m in (0, 1, 2)]
    assert (data["driver"]["lat"], data["driver"]["lng"]) == (START[0], START[1] + 0.002)
    assert 'hx-trigger="every 20s"' in running.content.decode()
    polled = client.get(url("detail", zigzag), headers=HTMX)
    assert "<html" not in polled.content.decode() and "route-map-data" in polled.content.decode()


def test_a_long_track_is_thinned_but_keeps_its_ends(account_a, zigzag, driver_a):
    from routes import selectors
    from routes.models import Position

    base = datetime(2030, 3, 4, 8, 0, tzinfo=UTC)
    Position.objects.bulk_create(
        Position(
            account=account_a,
            driver=driver_a,
            route=zigzag,
            recorded_at=base + timedelta(seconds=10 * k),
            lat=START[0],
            lng=START[1] + 1e-5 * k,
        )
        for k in range(selectors.TRACK_POINTS * 2 + 1)
    )
    track = selectors.route_track(zigzag)
    assert len(track) <= selectors.TRACK_POINTS + 1
    assert track[0] == [START[0], START[1]]
    assert track[-1] == [START[0], START[1] + 1e-5 * selectors.TRACK_POINTS * 2]
