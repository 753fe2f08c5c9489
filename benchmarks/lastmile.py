"""The customers' Last Mile page (`/t/<token>`) of a stop under way, under 50 concurrent clients,
against a bare Django view behind the same server (goal: at least 0.5 of the bare view's requests
per second, and a 99th percentile of at most 100 ms).

The service is built through the actions, as in production: an agency's delivery with two
packages, scheduled in a delivery window, on a route of three stops started by its driver; the
driver is on the way to it (its stop in progress, the service in progress) and has sent a
position; the route's ETAs are computed (routes.positions.route_refresh_eta). Its page then shows
the live part (headline, ETA window, distance), the map, the driver and vehicle, the packages
and the history, and polls for its live part.

gunicorn serves the project as in production (benchmarks._wsgi: DEBUG off, a secret key, allowed
hosts, persistent connections, Redis as cache, static files collected and hashed) with WORKERS
sync workers. The baseline is `_bench/hello` (benchmarks/_urls.py: a view returning a fixed
string) in the same server, settings and middleware. wrk measures each for DURATION_S with
`--latency -c 50 -t 2` and `X-Forwarded-Proto: https` (the proxy's header; plain http is
redirected), in the order bare, page, page, bare (the machine is shared: other work comes and
goes); each figure is the mean of its two runs, p99 the worse of the two. Before timing, one
request checks that the page answers 200 with the ETA and the map.

The product keeps a copy of such a page for lastmile.views.PAGE_CACHE_S seconds, so under this
load nearly every request is answered from Redis: the figures above. A second server with the
copy turned off (BENCH_LASTMILE_PAGE_CACHE_S=0, read by benchmarks._wsgi) then measures the page
rendered on every request, as for links opened once each (reported, not the goal). Each run
also gives the CPU milliseconds per request of gunicorn's workers, their PostgreSQL backends and
wrk (from /proc).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/benchlastmile \
    REDIS_URL=redis://127.0.0.1:6379/10 python -m benchmarks lastmile
Needs PostgreSQL, Redis and wrk (`BENCH=1 bin/system-deps` installs it); skipped without them.
BENCH_LASTMILE_WORKERS (default 3) and BENCH_LASTMILE_SECONDS (default 15) change the run;
BENCH_PROFILE=1 samples the workers with py-spy while the page is rendered on every request
(benchmarks/results/lastmile-profile.folded).
"""

import os
import statistics
import tempfile
import time
from datetime import datetime, timedelta
from datetime import time as time_of_day
from pathlib import Path

from benchmarks import write_results

WORKERS = int(os.environ.get("BENCH_LASTMILE_WORKERS", "3"))
DURATION_S = int(os.environ.get("BENCH_LASTMILE_SECONDS", "15"))
CONNECTIONS = 50
GOAL_RATIO = 0.5
GOAL_P99_MS = 100
HOME = (-23.5614, -46.6559)


def _setup():
    """The service whose stop is under way; returns its token."""
    from django.utils import timezone

    from accounts.models import Account, Branch, Customer, Driver, Vehicle, VehicleType
    from lastmile.selectors import lastmile_page
    from routes.actions import route_create, route_start, stop_change_status
    from routes.models import StopStatus
    from routes.positions import route_refresh_eta
    from scheduling.actions import service_schedule
    from scheduling.models import DeliveryWindow
    from services.actions import Actor, service_create
    from services.models import ServiceStatus
    from tests.lastmile.fakes import agency_with_templates

    account = Account.objects.create(name="Bench Last Mile", slug="bench-lastmile", language="en")
    branch = Branch.objects.create(account=account, name="Centro", city="São Paulo", state="SP",
                                   lat=-23.55, lng=-46.63)  # fmt: skip
    agency = agency_with_templates(account, all_on=False, name="Acme Express")
    vehicle = Vehicle.objects.create(account=account, type=VehicleType.VAN, plate="BEN1A23")
    driver = Driver.objects.create(account=account, first_name="Ana", last_name="Lima",
                                   username="ana", branch=branch, vehicle=vehicle)  # fmt: skip
    today = account.today()
    window = DeliveryWindow.objects.create(
        account=account, weekday=today.weekday(), name="Day", start=time_of_day(0),
        end=time_of_day(23, 59),
    )  # fmt: skip
    system = Actor.system()
    services = []
    for number, point in enumerate([(-23.5570, -46.6400), HOME, (-23.5702, -46.6621)]):
        customer = Customer.objects.create(account=account, name=f"Cliente {number}",
                                           phone=f"+55119999900{number:02d}", city="São Paulo",
                                           state="SP")  # fmt: skip
        service = service_create(
            account=account,
            actor=system,
            values={
                "customer": customer,
                "agency": agency,
                "branch": branch,
                "order_number": f"PED-{1000 + number}",
                "street": "Rua Augusta",
                "number": str(1500 + number),
                "city": "São Paulo",
                "state": "SP",
                "lat": point[0],
                "lng": point[1],
            },
            packages=[
                {"barcode": f"78910001001{number}3", "description": "Caixa de livros"},
                {"barcode": f"78910001002{number}3", "description": "Envelope"},
            ],
        )
        # Booked two days ago at midnight, well before the window's cut-off (12 hours before
        # today's midnight; "yesterday at this hour" passed it in the afternoon).
        booked = datetime.combine(today - timedelta(days=2), time_of_day(0), tzinfo=account.tzinfo)
        service_schedule(service=service, day=today, window=window, actor=system, now=booked)
        services.append(service)
    route = route_create(account=account, actor=system, driver=driver, vehicle=vehicle,
                         day=today, services=services)  # fmt: skip
    route = route_start(route=route, actor=Actor.for_driver(driver))
    first, ours = route.stops.order_by("sequence")[:2]
    as_driver = Actor.for_driver(driver)
    stop_change_status(stop=first, to_status=StopStatus.IN_PROGRESS, actor=as_driver)
    stop_change_status(stop=first, to_status=StopStatus.ARRIVED, actor=as_driver)
    stop_change_status(stop=first, to_status=StopStatus.DONE, actor=as_driver)
    stop_change_status(stop=ours, to_status=StopStatus.IN_PROGRESS, actor=as_driver)
    driver.last_lat, driver.last_lng = -23.5600, -46.6450
    driver.last_position_at = timezone.now()
    driver.save(update_fields=["last_lat", "last_lng", "last_position_at"])
    route.refresh_from_db()
    route_refresh_eta(route)

    service = services[1]
    service.refresh_from_db()
    assert service.status == ServiceStatus.IN_PROGRESS, service.status
    page = lastmile_page(service)
    assert page.live.map and page.live.eta and page.driver, page.live
    return service.tracking_token


def _check_page(url):
    from benchmarks import _server

    status, body = _server.get(url)
    text = body.decode()
    assert status == 200, (status, text[:2000])
    for expected in ('data-testid="eta"', 'id="lm-map"', 'data-testid="driver"', "PED-1001"):
        assert expected in text, expected
    return len(body)


def _runs(server, url_of, order):
    """wrk on each URL in `order` ("bare" or "page"): {name: [figures, ...]}, each with the CPU
    milliseconds per request of gunicorn's workers, their PostgreSQL backends and wrk."""
    from benchmarks import _server

    figures = {}
    for name in order:
        meter = _server.CpuMeter({
            "gunicorn": lambda: _server.children(server.process.pid),
            "postgres": _server.postgres_backends(),
        })  # fmt: skip
        meter.start()
        result = _server.wrk(url_of[name], connections=CONNECTIONS, threads=2,
                             duration_s=DURATION_S)  # fmt: skip
        cpu = meter.stop()["cpu_s"]
        cpu["wrk"] = result.pop("wrk_cpu_s")
        result["cpu_ms_per_request"] = {
            group: round(seconds * 1000 / max(result["requests"], 1), 3)
            for group, seconds in cpu.items()
        }
        result["machine_busy_s"] = cpu["machine"]
        per_request = result["cpu_ms_per_request"]
        print(f"  {name:<5} {result['requests_per_s']:8.0f} req/s  p50 {result['p50_ms']:6.1f} ms"
              f"  p99 {result['p99_ms']:6.1f} ms  errors {result['errors']}  CPU per request: "
              f"gunicorn {per_request['gunicorn']:.2f} ms, PostgreSQL "
              f"{per_request['postgres']:.2f} ms, wrk {per_request['wrk']:.2f} ms")  # fmt: skip
        figures.setdefault(name, []).append(result)
    return figures


def _summary(runs):
    return {
        "requests_per_s": round(statistics.mean(r["requests_per_s"] for r in runs), 1),
        "p50_ms": round(statistics.mean(r["p50_ms"] for r in runs), 2),
        "p99_ms": max(r["p99_ms"] for r in runs),
        "errors": sum(r["errors"] for r in runs),
        "runs": runs,
    }


def _serve(token, folder, *, page_cache_s, order, profile=None):
    """gunicorn with the page's copy kept page_cache_s seconds: wrk's figures for each name of
    `order` ("bare", "page"), and the page's size."""
    from benchmarks import _server

    env = _server.production_env(BENCH_LASTMILE_PAGE_CACHE_S=str(page_cache_s))
    log_path = Path(folder) / f"server-{page_cache_s}.log"
    with _server.Gunicorn(workers=WORKERS, env=env, log_path=log_path) as server:
        url_of = {"bare": f"{server.url}/_bench/hello", "page": f"{server.url}/t/{token}"}
        page_bytes = _check_page(url_of["page"])
        if profile:
            with _server.Profile(server.process.pid, profile, seconds=len(order) * DURATION_S):
                runs = _runs(server, url_of, order)
        else:
            runs = _runs(server, url_of, order)
        if any(r["errors"] for figures in runs.values() for r in figures):
            print(server.log())
    return runs, page_bytes


def run():
    from django.test.utils import override_settings

    from benchmarks import _server
    from lastmile import views

    reason = _server.unavailable() or _server.wrk_missing()
    if reason:
        print(f"lastmile: {reason}; skipped")
        return None
    started = time.perf_counter()
    quiet_sends = override_settings(
        SMS_BACKEND="tracking.lib.sms.LocmemBackend",
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
    )
    with _server.quiet("celery.app.trace"), quiet_sends:
        token = _setup()
    _server.collectstatic()
    print(f"lastmile: a stop under way, set up in {time.perf_counter() - started:.0f} s; "
          f"gunicorn with {WORKERS} sync workers, wrk -c {CONNECTIONS} -t 2 -d {DURATION_S}s "
          f"per run")  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        print(f"  the product as configured (the page's copy kept {views.PAGE_CACHE_S} s):")
        runs, page_bytes = _serve(
            token, folder, page_cache_s=views.PAGE_CACHE_S, order=["bare", "page", "page", "bare"]
        )
        print("  the page rendered on every request (PAGE_CACHE_S = 0):")
        uncached_runs, _bytes = _serve(
            token, folder, page_cache_s=0, order=["page"], profile="lastmile-profile"
        )
    bare, page = _summary(runs["bare"]), _summary(runs["page"])
    uncached = _summary(uncached_runs["page"])
    ratio = page["requests_per_s"] / bare["requests_per_s"]
    met = ratio >= GOAL_RATIO and page["p99_ms"] <= GOAL_P99_MS and not page["errors"]
    results = {
        "workers": WORKERS,
        "connections": CONNECTIONS,
        "duration_s": DURATION_S,
        "page_bytes": page_bytes,
        "page_cache_s": views.PAGE_CACHE_S,
        "bare": bare,
        "page": page,
        "page_uncached": uncached,
        "ratio": round(ratio, 3),
        "uncached_ratio": round(uncached["requests_per_s"] / bare["requests_per_s"], 3),
        "goal": f"page >= {GOAL_RATIO:g} x the bare view's requests/s, p99 <= {GOAL_P99_MS} ms",
        "met": met,
    }
    print(f"  page {page['requests_per_s']:.0f} req/s, bare view {bare['requests_per_s']:.0f}: "
          f"ratio {ratio:.2f} (goal >= {GOAL_RATIO:g}); page p99 {page['p99_ms']:.0f} ms (goal <= "
          f"{GOAL_P99_MS}); errors {page['errors'] + bare['errors']}: "
          f"{'met' if met else 'NOT met'}; rendered every time: "
          f"{uncached['requests_per_s']:.0f} req/s, p99 {uncached['p99_ms']:.0f} ms "
          f"({time.perf_counter() - started:.0f} s in all)")  # fmt: skip
    write_results("lastmile", results)
    return results
