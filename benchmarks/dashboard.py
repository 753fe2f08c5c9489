"""The operators' dashboard under a busy day: the live tracking page, its refreshes and the
services list with 300 routes, 3,000 stops and 10,000 services, against the same pages of an
empty account (goal: at most 3 times as slow, and a number of queries that does not grow).

The busy account's day is written with bulk_create, consistent as the actions would leave it:
routes planned, in progress (started) and finished; their stops done, failed, on the way, at the
door and pending, each service in the matching status (routed, in progress, done, failed); ETAs
and deadlines on the open stops (some late, some at risk), a delivery window on some; 300 drivers
with their latest position (some stale) and POSITIONS points on each started route; the rest of
the services pending. The empty account has the same users and lists (a manager, a branch, a
carrier) and no routes, drivers or services. A third, small account (SMALL_ROUTES routes of the
same kind) is only counted: "queries constant" compares it with the busy one (an empty day skips
the stops and positions queries, so it does fewer).

Each page is asked for by a manager through django.test.Client, in process, after a warm-up;
each request is timed alone and the median of REQUESTS is reported, with the query count of one
more request (CaptureQueriesContext) and the size of the answer. Refreshes of `tracking/data/`:
- quiet: `since` is the current version (nothing changed: the snapshot is still built and hashed);
- changed: one stop's status is flipped between two requests, each sending the version the one
  before answered (the answer holds that stop only); the empty account, having nothing to
  change, does the same requests, which are quiet ones;
- full: no `since` (everything, as when the page's version has left the cache).
No position arrives between refreshes, so the travelled distances come from the cache with no
positions query (a running day adds one small query of the points sent since the last refresh).
The pages are rendered without the test client's template instrumentation (which copies the
context of every template rendered, once per route row here): the timings are the view's.

By default `python -m benchmarks` makes its throw-away database in SQLite and the cache is
local memory. Realistic figures need PostgreSQL and Redis, as in production:
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench REDIS_URL=redis://127.0.0.1:6379/15 \
        python -m benchmarks dashboard
The tracking refreshes keep each user's snapshots and the routes' travelled distances in the
cache; local memory is per process and culls a third of its keys past 300 entries, which many
operators' snapshots reach, turning their refreshes into full ones. (The harness makes and drops
a database named `test_` + the URL's name: here not the test suite's `test_test`, in case it
runs.) BENCH_DASHBOARD_REQUESTS changes the number of timed requests per page (default 30).
"""

import os
import statistics
import time
from contextlib import contextmanager
from datetime import time as time_of_day
from datetime import timedelta

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from benchmarks import write_results

ROUTES = 300
STOPS_PER_ROUTE = 10
SERVICES = 10_000
POSITIONS = 20
SMALL_ROUTES = 5
CUSTOMERS = 2_000
REQUESTS = int(os.environ.get("BENCH_DASHBOARD_REQUESTS", "30"))
GOAL_RATIO = 3.0
CENTRE = (-23.55, -46.63)
TRACKING = "/routes/tracking/"
DATA = "/routes/tracking/data/"
SERVICES_LIST = "/services/"


# The accounts ---------------------------------------------------------------------------------


def _account(slug):
    """An account with a manager, a branch and a carrier: (account, manager, branch, carrier)."""
    from accounts.models import Account, Branch, Carrier, Role, User

    account = Account.objects.create(name=f"Bench {slug}", slug=f"bench-{slug}", language="en")
    manager = User.objects.create(
        email=f"manager@{slug}.bench.test", account=account, role=Role.MANAGER, first_name="Ana"
    )
    branch = Branch.objects.create(
        account=account, name="Centro", city="São Paulo", state="SP", lat=CENTRE[0], lng=CENTRE[1]
    )
    carrier = Carrier.objects.create(account=account, name="Rápido Transportes Ltda")
    return account, manager, branch, carrier


def _busy_day(account, branch, carrier, *, routes, services, now):
    """Writes `routes` routes of today with their stops, drivers and positions, and `services`
    services in all (those not on a route pending). Returns the id of a stop on the way."""
    from accounts.models import Customer, Driver, Vehicle, VehicleType
    from routes.models import Position, Route, Stop, StopStatus
    from scheduling.models import DeliveryWindow, Origin, Schedule
    from services.models import Service, ServiceStatus

    today = account.today()
    window = DeliveryWindow.objects.create(
        account=account, weekday=today.weekday(), name="Day", start=_clock(8), end=_clock(18)
    )
    vehicles = Vehicle.objects.bulk_create(
        Vehicle(account=account, type=VehicleType.VAN, plate=f"BEN{n // 100 % 10}A{n % 100:02d}")
        for n in range(routes)
    )
    customers = Customer.objects.bulk_create(
        Customer(account=account, name=f"Cliente {n}", city="São Paulo", state="SP")
        for n in range(CUSTOMERS)
    )
    plans = [_route_plan(n, now) for n in range(routes)]
    drivers = Driver.objects.bulk_create(
        Driver(
            account=account,
            first_name=f"Driver{n:03d}",
            last_name="Silva",
            username=f"driver{n}",
            email=f"driver{n}@drivers.bench.test",
            branch=branch,
            carrier=carrier,
            vehicle=vehicles[n],
            battery_pct=20 + n % 80,
            last_lat=plan["last_point"][0] if plan["last_at"] else None,
            last_lng=plan["last_point"][1] if plan["last_at"] else None,
            last_position_at=plan["last_at"],
            last_seen_at=plan["last_at"],
        )
        for n, plan in enumerate(plans)
    )
    route_rows = Route.objects.bulk_create(
        Route(
            account=account,
            driver=drivers[n],
            vehicle=vehicles[n],
            branch=branch,
            carrier=carrier,
            date=today,
            status=plan["status"],
            departure_time=_clock(7, 10 * (n % 12)),
            planned_distance_m=40_000 + 100 * n,
            planned_duration_s=8 * 3600,
            started_at=plan["started_at"],
            finished_at=plan["finished_at"],
        )
        for n, plan in enumerate(plans)
    )

    service_rows, stop_rows = [], []
    for route, plan in zip(route_rows, plans, strict=True):
        for sequence, stop in enumerate(plan["stops"], start=1):
            service_rows.append(
                Service(
                    account=account,
                    customer=customers[len(service_rows) % CUSTOMERS],
                    branch=branch,
                    carrier=carrier,
                    status=stop["service_status"],
                    order_number=f"PED-{len(service_rows):05d}",
                    street="Rua Augusta",
                    number=str(sequence),
                    city="São Paulo",
                    state="SP",
                    lat=plan["points"][0][0] + 0.002 * sequence,
                    lng=plan["points"][0][1] + 0.003 * sequence,
                    deadline=stop["deadline"],
                    attempt_count=1 if stop["status"] == StopStatus.FAILED else 0,
                )
            )
            stop_rows.append(
                Stop(account=account, route=route, sequence=sequence, **stop["fields"])
            )
    for number in range(len(service_rows), services):
        service_rows.append(
            Service(
                account=account,
                customer=customers[number % CUSTOMERS],
                branch=branch,
                status=ServiceStatus.PENDING,
                order_number=f"PED-{number:05d}",
                street="Rua Augusta",
                number=str(number % 3000),
                city="São Paulo",
                state="SP",
                lat=CENTRE[0] - number % 100 / 1000,
                lng=CENTRE[1] - number % 97 / 1000,
                deadline=now + timedelta(days=1 + number % 5),
            )
        )
    service_rows = Service.objects.bulk_create(service_rows, batch_size=2000)
    for stop, service in zip(stop_rows, service_rows[: len(stop_rows)], strict=True):
        stop.service = service
    stop_rows = Stop.objects.bulk_create(stop_rows, batch_size=2000)
    # One stop in five was booked into a window: its due time is the window's end.
    origin = Origin.INTEGRATION
    Schedule.objects.bulk_create(
        Schedule(account=account, service=stop.service, date=today, window=window, origin=origin)
        for stop in stop_rows[::5]
    )
    Position.objects.bulk_create(
        (
            Position(
                account=account,
                driver=drivers[n],
                route=route,
                recorded_at=plan["last_at"] - timedelta(minutes=POSITIONS - 1 - k),
                lat=lat,
                lng=lng,
                battery_pct=drivers[n].battery_pct,
            )
            for n, (route, plan) in enumerate(zip(route_rows, plans, strict=True))
            if plan["started_at"]
            for k, (lat, lng) in enumerate(plan["points"])
        ),
        batch_size=2000,
    )
    return next(stop.pk for stop in stop_rows if stop.status == StopStatus.IN_PROGRESS)


def _route_plan(n, now):
    """Route n's status, times, path and stops: one in ten planned, one in ten finished, the
    others in progress with n % 9 stops behind them; one driver in seven stale."""
    from routes.models import RouteStatus

    status = {0: RouteStatus.PLANNED, 1: RouteStatus.FINISHED}.get(n % 10, RouteStatus.IN_PROGRESS)
    start = (CENTRE[0] + (n % 20 - 10) / 100, CENTRE[1] + (n // 20 - 7) / 100)
    points = [(start[0] + 0.0005 * k, start[1] + 0.0007 * k) for k in range(POSITIONS)]
    plan = {"status": status, "points": points, "last_point": points[-1]}
    if status == RouteStatus.PLANNED:
        plan.update(started_at=None, finished_at=None, last_at=None)
        behind = 0
    elif status == RouteStatus.FINISHED:
        finished = now - timedelta(minutes=30 + n % 60)
        plan.update(started_at=finished - timedelta(hours=6), finished_at=finished,
                    last_at=finished)  # fmt: skip
        behind = STOPS_PER_ROUTE
    else:
        stale = n % 7 == 0
        last_at = now - (timedelta(minutes=12 + n % 20) if stale else timedelta(seconds=n % 40))
        plan.update(started_at=now - timedelta(minutes=60 + 2 * n % 180), finished_at=None,
                    last_at=last_at)  # fmt: skip
        behind = n % 9
    plan["stops"] = [_stop_plan(n, k, behind, plan, now) for k in range(STOPS_PER_ROUTE)]
    return plan


def _stop_plan(n, k, behind, plan, now):
    """Stop k (from 0) of route n: done or failed when behind the driver, on the way or at the
    door for the next one while the route runs, pending after; the stop's fields and its
    service's status and deadline."""
    from routes.models import StopStatus
    from services.models import ServiceStatus

    started_at = plan["started_at"] or now + timedelta(hours=1)
    planned = started_at + timedelta(minutes=20 + 25 * k)
    fields = {"planned_arrival": planned}
    if k < behind:
        failed = (n + k) % 8 == 0
        arrived = planned + timedelta(minutes=(n + k) % 15)
        status = StopStatus.FAILED if failed else StopStatus.DONE
        fields.update(started_at=arrived - timedelta(minutes=12), arrived_at=arrived,
                      left_at=arrived + timedelta(minutes=4))  # fmt: skip
        service_status = ServiceStatus.FAILED if failed else ServiceStatus.DONE
        deadline = planned + timedelta(hours=2) if k % 3 else None
    else:
        if k == behind and plan["finished_at"] is None and plan["started_at"]:
            status = StopStatus.ARRIVED if n % 2 else StopStatus.IN_PROGRESS
            service_status = ServiceStatus.IN_PROGRESS
            fields.update(started_at=now - timedelta(minutes=8))
            if status == StopStatus.ARRIVED:
                fields.update(arrived_at=now - timedelta(minutes=1))
        else:
            status, service_status = StopStatus.PENDING, ServiceStatus.ROUTED
        eta = now + timedelta(minutes=5 + 22 * (k - behind))
        fields.update(eta=eta, eta_earliest=eta - timedelta(minutes=6),
                      eta_latest=eta + timedelta(minutes=12),
                      eta_computed_at=now - timedelta(minutes=1))  # fmt: skip
        # Some due well after the ETA, some within its window's latest end, some before it.
        deadline = eta + timedelta(minutes=(-15, 8, 45, 90)[(n + k) % 4]) if k % 3 else None
    fields["status"] = status
    return {"status": status, "service_status": service_status, "deadline": deadline,
            "fields": fields}  # fmt: skip


def _clock(hour, minute=0):
    return time_of_day(hour + minute // 60, minute % 60)


# Measuring ------------------------------------------------------------------------------------


@contextmanager
def _uninstrumented_templates():
    """Templates render as in production: the test environment wraps every render to copy its
    context for the test client, which costs as much as the page itself with a row per route."""
    from django.template import Template

    instrumented = Template._render
    Template._render = getattr(Template, "_original_render", instrumented)
    try:
        yield
    finally:
        Template._render = instrumented


def _get(client, url, params=None):
    response = client.get(url, params or {})
    assert response.status_code == 200, (url, response.status_code)
    return response


def _timed(client, url, params=None, *, before=None, after=None):
    """Milliseconds per request for REQUESTS requests (median and 90th percentile), the queries
    and bytes of one more. `before` is called before each request and `params` (a dict, or a
    function giving it) is read then; `after` gets each response. None of them is timed."""
    times = []
    for _ in range(REQUESTS + 2):
        if before:
            before()
        query = params() if callable(params) else params
        if len(times) == REQUESTS + 1:  # the last one is counted, not timed
            with CaptureQueriesContext(connection) as captured:
                response = _get(client, url, query)
        else:
            started = time.perf_counter()
            response = _get(client, url, query)
            times.append((time.perf_counter() - started) * 1000)
        if after:
            after(response)
    times = times[1:]  # the first warms what the requests before it did not
    return {
        "median_ms": round(statistics.median(times), 2),
        "p90_ms": round(statistics.quantiles(times, n=10)[-1], 2),
        "requests_per_s": round(1000 / statistics.median(times), 1),
        "queries": len(captured),
        "bytes": len(response.content),
    }


def _measure_account(client, change_stop=None):
    """Every measured page of one logged-in client: {name: figures}."""
    from routes.models import Stop, StopStatus

    figures = {}
    _get(client, TRACKING)  # the session's first request does a little more
    figures["tracking page"] = _timed(client, TRACKING)

    current = {"version": _get(client, DATA).json()["version"]}
    figures["refresh, quiet"] = _timed(client, DATA, {"since": current["version"]})

    flip = {StopStatus.IN_PROGRESS: StopStatus.ARRIVED, StopStatus.ARRIVED: StopStatus.IN_PROGRESS}
    answers = []

    def change():
        if change_stop is not None:
            status = Stop.objects.values_list("status", flat=True).get(pk=change_stop)
            Stop.objects.filter(pk=change_stop).update(status=flip[status])

    def remember(response):
        # Each changed refresh sends the version the one before it answered.
        answers.append(response.json())
        current["version"] = answers[-1]["version"]

    figures["refresh, one stop changed"] = _timed(
        client, DATA, lambda: {"since": current["version"]}, before=change, after=remember
    )
    if change_stop is not None:
        # Each answered the changes only: that one stop.
        assert all(not a["full"] and len(a["stops"]) == 1 for a in answers), answers[-1]

    figures["refresh, full"] = _timed(client, DATA)
    figures["services list"] = _timed(client, SERVICES_LIST)
    return figures


def _client(user):
    client = Client()
    client.force_login(user)
    return client


def run():
    from django.core.cache import caches
    from django.db import transaction

    from routes.models import Position, Stop

    started = time.perf_counter()
    now = timezone.now()
    with transaction.atomic():
        busy, busy_manager, *busy_lists = _account("busy")
        change_stop = _busy_day(busy, *busy_lists, routes=ROUTES, services=SERVICES, now=now)
        _empty, empty_manager, *_lists = _account("empty")
        small, small_manager, *small_lists = _account("small")
        _busy_day(small, *small_lists, routes=SMALL_ROUTES, services=SMALL_ROUTES * 20, now=now)
    if connection.vendor == "postgresql":
        # Autovacuum analyzes tables after loads like this one; until it has, the planner has no
        # statistics and sorts the whole services table for the list's first page (30 ms, not 1).
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    set_up_s = time.perf_counter() - started
    stops = Stop.objects.filter(account=busy).count()
    positions = Position.objects.filter(account=busy).count()
    cache_name = type(caches["default"]).__name__
    print(
        f"dashboard: {ROUTES} routes, {stops} stops, {SERVICES} services, {positions} positions "
        f"written in {set_up_s:.0f} s ({connection.vendor}, {cache_name}); "
        f"median of {REQUESTS} requests"
    )

    with _uninstrumented_templates():
        busy_figures = _measure_account(_client(busy_manager), change_stop)
        empty_figures = _measure_account(_client(empty_manager))
        small_figures = _measure_account(_client(small_manager))

    results = {
        "database": connection.vendor,
        "cache": cache_name,
        "routes": ROUTES,
        "stops": stops,
        "services": SERVICES,
        "positions": positions,
        "requests": REQUESTS,
        "goal": f"busy <= {GOAL_RATIO:g} x the empty account's median; queries as a "
        f"{SMALL_ROUTES}-route day's",
        "pages": {},
    }
    print(
        f"  {'':<26} {'busy ms':>8} {'empty ms':>9} {'ratio':>6} {'busy req/s':>10} "
        f"{'queries busy/empty/small':>24} {'busy KB':>8}  goal"
    )
    for name, mine in busy_figures.items():
        empty, small = empty_figures[name], small_figures[name]
        ratio = mine["median_ms"] / empty["median_ms"]
        constant = mine["queries"] == small["queries"]
        met = ratio <= GOAL_RATIO and constant
        results["pages"][name] = {
            "busy": mine,
            "empty": empty,
            "small_queries": small["queries"],
            "ratio": round(ratio, 2),
            "queries_constant": constant,
            "met": met,
        }
        queries = f"{mine['queries']}/{empty['queries']}/{small['queries']}"
        print(
            f"  {name:<26} {mine['median_ms']:8.1f} {empty['median_ms']:9.1f} {ratio:6.2f} "
            f"{mine['requests_per_s']:10.0f} {queries:>24} {mine['bytes'] / 1024:8.1f}  "
            f"{'met' if met else 'NOT met'}"
        )
    results["met"] = all(page["met"] for page in results["pages"].values())
    print(
        f"  goal: <= {GOAL_RATIO:g} x the empty page, queries constant: "
        f"{'met' if results['met'] else 'NOT met'} ({time.perf_counter() - started:.0f} s in all)"
    )
    write_results("dashboard", results)
    return results
