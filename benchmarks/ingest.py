"""GPS positions through the driver API (`POST /api/driver/v1/positions`) served by gunicorn on
PostgreSQL, against psycopg's COPY of the same rows into the same table (goal: at least 0.15 of
COPY's rows per second, and at least 10,000 positions per second; nothing lost).

The account has DRIVERS drivers, each logged in once (accounts.devices.device_login: a device
token) and each on a route in progress, started an hour before its first point. gunicorn serves
the project as in production (benchmarks._wsgi: DEBUG off, a secret key, allowed hosts,
persistent connections, Redis as cache and broker) with WORKERS sync workers. A separate load
process (`python -m benchmarks.ingest load ...`, no Django loaded) has one thread per driver,
each sending that driver's batches of BATCH points in order as the phone does, with its device
token and a fresh Idempotency-Key (as the driver app sends them), over a new connection each
(sync workers close it); the bodies are built before the clock starts. The points are one a
second along a straight path at 20 km/h, so none is rejected and each is tagged with its route.
Each thread first sends one batch untimed (every worker has loaded the app and opened its
connection); then the threads send together for SECONDS (or until BATCHES batches a driver), and
positions per second = points accepted in that part / time to its last answer. The ETA
refreshes that positions queue (one per route per 30 s) go to a queue of the benchmark's own
that no worker reads, deleted afterwards: computing them is a worker's cost, not the request's.

At the end the table must hold every point the API answered as accepted, each tagged with its
route. The baseline is psycopg's COPY (write_row, rows built beforehand, one statement, committed)
into the same table, twice: before the API run with the first COPY_BATCHES batches of every
driver, after it with exactly the rows the API stored (the same drivers, times, values and
routes); the mean of the two rates is the baseline, as the machine's other work comes and goes.
The table is emptied (TRUNCATE) before each COPY and before the API run. It has its unique
(driver, recorded_at) index, two more and three foreign keys (checked at commit): on this
machine the foreign keys alone halve COPY's rate.

The CPU time of every process involved (gunicorn's workers, their PostgreSQL backends, the load
process; the COPY's process and backend) is read from /proc over the timed part: per request, and
as positions per CPU second, the same comparison less disturbed by other work on the machine.
BENCH_PROFILE=1 samples the workers with py-spy during the run (benchmarks/results/
ingest-profile.folded) and prints where the project's code spent its time.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/benchingest \
    REDIS_URL=redis://127.0.0.1:6379/9 python -m benchmarks ingest
Needs PostgreSQL and Redis (skipped without). BENCH_INGEST_WORKERS (default 3),
BENCH_INGEST_SECONDS (default 20) and BENCH_INGEST_BATCHES (default 150 per driver) change the
run.
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from http.client import HTTPConnection
from pathlib import Path

from benchmarks import write_results

DRIVERS = 50
BATCH = 100
BATCHES = int(os.environ.get("BENCH_INGEST_BATCHES", "150"))
SECONDS = float(os.environ.get("BENCH_INGEST_SECONDS", "20"))
WORKERS = int(os.environ.get("BENCH_INGEST_WORKERS", "3"))
STOPS_PER_ROUTE = 4
# The baseline measured before the API run copies this many batches of each driver.
COPY_BATCHES = 20
GOAL_RATIO = 0.15
GOAL_PER_S = 10_000
CENTRE = (-23.55, -46.63)
# 20 km/h: 5.6 m a second, about 0.00005 degrees of latitude.
STEP_DEGREES = 0.00005
PATH = "/api/driver/v1/positions"
PASSWORD = "bench-password"
ROOT = Path(__file__).resolve().parent.parent


# The points (the load process and the COPY build the same ones) ------------------------------


def point(spec, driver, k):
    """Point k of driver number `driver`: (recorded_at, lat, lng, accuracy_m, speed_mps,
    heading_deg, battery_pct), one a second from spec["first_at"] (a POSIX time)."""
    lat0 = CENTRE[0] + (driver % 10 - 5) / 100
    lng0 = CENTRE[1] + (driver // 10 - 2.5) / 100
    recorded_at = datetime.fromtimestamp(spec["first_at"] + k, UTC)
    return (recorded_at, lat0 + STEP_DEGREES * k, lng0, 5.0, 5.6, 0.0, 90 - k // 1000)


def _body(spec, driver, batch):
    first = batch * BATCH
    points = []
    for k in range(first, first + BATCH):
        at, lat, lng, accuracy, speed, heading, battery = point(spec, driver, k)
        points.append({"recorded_at": at.isoformat(), "lat": lat, "lng": lng,
                       "accuracy_m": accuracy, "speed_mps": speed, "heading_deg": heading,
                       "battery_pct": battery})  # fmt: skip
    return json.dumps({"positions": points}).encode()


# The load process -----------------------------------------------------------------------------


def _load(spec_path, out_path):
    """In the load process: one thread per driver; writes what was sent and answered."""
    spec = json.loads(Path(spec_path).read_text())
    drivers = len(spec["tokens"])
    bodies = [[_body(spec, d, b) for b in range(spec["batches"])] for d in range(drivers)]
    lock = threading.Lock()
    warmed = threading.Barrier(drivers + 1)
    go = threading.Event()
    clock = {"started": 0.0, "last_answer": 0.0}
    statuses, latencies, sent = {}, [], [0] * drivers
    totals = {"accepted": 0, "duplicates": 0, "rejected": 0, "timed_accepted": 0}

    def post(driver, batch):
        connection = HTTPConnection(spec["host"], spec["port"], timeout=60)
        headers = {"Authorization": f"Bearer {spec['tokens'][driver]}",
                   "Content-Type": "application/json", "X-Forwarded-Proto": "https",
                   "Idempotency-Key": str(uuid.uuid4())}  # fmt: skip
        try:
            connection.request("POST", PATH, bodies[driver][batch], headers)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def count(answer, *, timed):
        with lock:
            for name in ("accepted", "duplicates", "rejected"):
                totals[name] += answer[name]
            if timed:
                totals["timed_accepted"] += answer["accepted"]

    def phone(driver):
        try:
            try:
                status, answer = post(driver, 0)  # untimed: every worker warmed up
            except OSError as error:
                status, answer = type(error).__name__, b""
            if status == 200:
                sent[driver] = 1
                count(json.loads(answer), timed=False)
            else:
                with lock:
                    statuses[f"warm-up {status}"] = statuses.get(f"warm-up {status}", 0) + 1
        finally:
            warmed.wait(timeout=300)
        go.wait(timeout=300)
        if not sent[driver]:
            return
        deadline = clock["started"] + spec["seconds"]
        for batch in range(1, spec["batches"]):
            if time.perf_counter() >= deadline:
                break
            began = time.perf_counter()
            try:
                status, answer = post(driver, batch)
            except OSError as error:  # refused, reset, timed out: counted as a failed request
                status, answer = type(error).__name__, b""
            ended = time.perf_counter()
            with lock:
                statuses[str(status)] = statuses.get(str(status), 0) + 1
                latencies.append((ended - began) * 1000)
                clock["last_answer"] = max(clock["last_answer"], ended)
            if status != 200:
                break  # the batches after it would arrive after a gap
            sent[driver] = batch + 1
            count(json.loads(answer), timed=True)

    threads = [threading.Thread(target=phone, args=(d,), daemon=True) for d in range(drivers)]
    for thread in threads:
        thread.start()
    warmed.wait(timeout=300)
    print("warmed", flush=True)
    if sys.stdin.readline().strip() != "go":
        raise SystemExit("no go")
    cpu_before = time.process_time()
    clock["started"] = time.perf_counter()
    go.set()
    for thread in threads:
        thread.join(timeout=spec["seconds"] + 120)
    latencies.sort()
    Path(out_path).write_text(
        json.dumps(
            {
                "elapsed_s": clock["last_answer"] - clock["started"],
                "cpu_s": time.process_time() - cpu_before,
                "sent_batches": sent,
                "statuses": statuses,
                **totals,
                "requests": len(latencies),
                "p50_ms": statistics.median(latencies) if latencies else None,
                "p99_ms": latencies[int(len(latencies) * 0.99)] if latencies else None,
            }
        )
    )


# The account ----------------------------------------------------------------------------------


def _setup(routes_started_at):
    """The account, its DRIVERS drivers each logged in on a device and running a route started
    at routes_started_at. Returns (account, [(driver, route id, device token)])."""
    from django.test.utils import override_settings

    from accounts.devices import device_login
    from accounts.models import Account, Branch, Customer, Driver, Vehicle, VehicleType
    from routes.actions import route_create, route_start
    from services.actions import Actor
    from services.models import Service

    account = Account.objects.create(name="Bench ingest", slug="bench-ingest", language="en")
    branch = Branch.objects.create(
        account=account, name="Centro", city="São Paulo", state="SP", lat=CENTRE[0], lng=CENTRE[1]
    )
    customer = Customer.objects.create(
        account=account, name="Cliente", city="São Paulo", state="SP"
    )
    vehicles = Vehicle.objects.bulk_create(
        Vehicle(account=account, type=VehicleType.VAN, plate=f"ING{n // 10}A{n % 10:02d}")
        for n in range(DRIVERS)
    )
    services = Service.objects.bulk_create(
        Service(
            account=account,
            customer=customer,
            branch=branch,
            order_number=f"ING-{n:05d}",
            street="Rua Augusta",
            number=str(n),
            city="São Paulo",
            state="SP",
            lat=CENTRE[0] + (n % 17 - 8) / 200,
            lng=CENTRE[1] + (n % 13 - 6) / 200,
        )
        for n in range(DRIVERS * STOPS_PER_ROUTE)
    )
    drivers = []
    # The password only gets the device token: a fast hasher saves a second per driver.
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        for n in range(DRIVERS):
            driver = Driver(account=account, first_name=f"Driver{n:02d}", last_name="Silva",
                            username=f"driver{n}", branch=branch, vehicle=vehicles[n])  # fmt: skip
            driver.set_password(PASSWORD)
            driver.save()
            route = route_create(
                account=account,
                actor=Actor.system(),
                driver=driver,
                vehicle=driver.vehicle,
                day=account.today(),
                services=services[n * STOPS_PER_ROUTE : (n + 1) * STOPS_PER_ROUTE],
            )
            route_start(route=route, actor=Actor.for_driver(driver), recorded_at=routes_started_at)
            _device, token = device_login(
                login=f"{account.slug}.{driver.username}",
                password=PASSWORD,
                device_id=f"phone-{n}",
                device_name="Bench phone",
                address="127.0.0.1",
            )
            drivers.append((driver, route.pk, token))
    return account, drivers


# The measures ---------------------------------------------------------------------------------


def _empty_table():
    from django.db import connection

    from routes.models import Position

    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {connection.ops.quote_name(Position._meta.db_table)}")


def _api_run(server, spec, folder):
    """Runs the load process against the server: its figures (see _load), with the CPU used
    by gunicorn, PostgreSQL and the load itself while the clock ran."""
    from benchmarks import _server

    spec_path, out_path = Path(folder) / "spec.json", Path(folder) / "load.json"
    spec_path.write_text(json.dumps({**spec, "host": "127.0.0.1", "port": server.port}))
    load = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.ingest", "load", str(spec_path), str(out_path)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        # The load process says when it has warmed up, then waits for "go".
        ready = load.stdout.readline().strip()
        if ready != "warmed":
            raise RuntimeError(f"the load process did not warm up: {ready!r}\n{server.log()}")
        meter = _server.CpuMeter({
            "gunicorn": lambda: _server.children(server.process.pid),
            "postgres": _server.postgres_backends(),
        })  # fmt: skip
        meter.start()
        with _server.Profile(server.process.pid, "ingest-profile", seconds=SECONDS):
            load.stdin.write("go\n")
            load.stdin.flush()
            load.wait(timeout=SECONDS + 300)
        cpu = meter.stop()
    finally:
        if load.poll() is None:
            load.kill()
            load.wait()
    if load.returncode != 0:
        raise RuntimeError(f"the load process failed ({load.returncode})")
    figures = json.loads(out_path.read_text())
    cpu["cpu_s"]["load"] = round(figures["cpu_s"], 2)
    return figures, cpu


def _copy_rows(spec, account, drivers, sent_batches, received_at):
    """The rows the API stored, in the table's column order of the COPY."""
    rows = []
    for number, ((driver, route_id, _token), batches) in enumerate(
        zip(drivers, sent_batches, strict=True)
    ):
        for k in range(batches * BATCH):
            at, lat, lng, accuracy, speed, heading, battery = point(spec, number, k)
            rows.append((account.pk, driver.pk, received_at, route_id, at, lat, lng, accuracy,
                         speed, heading, battery))  # fmt: skip
    return rows


def _copy(rows):
    """One psycopg COPY of the rows (committed): (seconds, CPU seconds of this process and of
    its PostgreSQL backend)."""
    from django.db import connection

    from benchmarks import _server
    from routes.models import Position
    from routes.positions import BATCH_COLUMNS, POINT_COLUMNS

    quote = connection.ops.quote_name
    columns = ", ".join(quote(column) for column in BATCH_COLUMNS + POINT_COLUMNS)
    sql = f"COPY {quote(Position._meta.db_table)} ({columns}) FROM STDIN"
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    meter = _server.CpuMeter({"python": lambda: [os.getpid()], "postgres": lambda: [backend]})
    meter.start()
    began = time.perf_counter()
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)
    seconds = time.perf_counter() - began
    cpu = meter.stop()["cpu_s"]
    return seconds, cpu["python"] + cpu["postgres"]


def run():
    from django.db import connection
    from django.utils import timezone

    from benchmarks import _server
    from routes.models import Position

    reason = _server.unavailable()
    if reason:
        print(f"ingest: {reason}; skipped")
        return None
    started = time.perf_counter()
    # The points end ten minutes ago (one a second), the routes started an hour before them.
    first_at = timezone.now() - timedelta(seconds=BATCHES * BATCH, minutes=10)
    with _server.quiet("celery.app.trace"):
        account, drivers = _setup(first_at - timedelta(hours=1))
    spec = {"first_at": first_at.timestamp(), "batches": BATCHES, "seconds": SECONDS,
            "tokens": [token for _driver, _route, token in drivers]}  # fmt: skip
    print(f"ingest: {DRIVERS} drivers on routes in progress, set up in "
          f"{time.perf_counter() - started:.0f} s; gunicorn with {WORKERS} sync workers, "
          f"batches of {BATCH}, {SECONDS:g} s")  # fmt: skip

    # The baseline before: the first COPY_BATCHES batches of every driver.
    _empty_table()
    before_rows = _copy_rows(spec, account, drivers, [COPY_BATCHES] * DRIVERS, timezone.now())
    before_s, before_cpu_s = _copy(before_rows)

    queue = f"bench-ingest-{uuid.uuid4().hex[:8]}"
    _empty_table()
    with tempfile.TemporaryDirectory() as folder:
        env = _server.production_env(BENCH_CELERY_QUEUE=queue)
        try:
            log_path = Path(folder) / "server.log"
            with _server.Gunicorn(workers=WORKERS, env=env, log_path=log_path) as server:
                load, cpu = _api_run(server, spec, folder)
        finally:
            _server.drop_queues(queue)
    sent = sum(load["sent_batches"]) * BATCH
    stored = Position.objects.filter(account=account).count()
    untagged = Position.objects.filter(account=account, route__isnull=True).count()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_size_pretty(pg_total_relation_size('routes_position'))")
        table_size = cursor.fetchone()[0]
    api_per_s = load["timed_accepted"] / load["elapsed_s"]
    failed = sum(n for status, n in load["statuses"].items() if status != "200")
    lost = sent - stored

    # The baseline after: exactly the rows the API stored.
    _empty_table()
    rows = _copy_rows(spec, account, drivers, load["sent_batches"], timezone.now())
    after_s, after_cpu_s = _copy(rows)
    copied = Position.objects.filter(account=account).count()
    assert copied == len(rows), (copied, len(rows))
    copy_rates = [len(before_rows) / before_s, len(rows) / after_s]
    copy_per_s = statistics.mean(copy_rates)
    ratio = api_per_s / copy_per_s
    # The same comparison in rows per CPU second (every process of each side), which other
    # work on the machine disturbs much less than rows per second.
    api_cpu_s = sum(seconds for name, seconds in cpu["cpu_s"].items() if name != "machine")
    api_per_cpu_s = load["timed_accepted"] / api_cpu_s
    copy_per_cpu_s = (len(before_rows) + len(rows)) / (before_cpu_s + after_cpu_s)

    met = ratio >= GOAL_RATIO and api_per_s >= GOAL_PER_S and lost == 0 and failed == 0
    results = {
        "drivers": DRIVERS,
        "batch": BATCH,
        "workers": WORKERS,
        "seconds": round(load["elapsed_s"], 2),
        "requests": load["requests"],
        "positions_sent": sent,
        "positions_stored": stored,
        "lost": lost,
        "untagged": untagged,
        "failed_requests": failed,
        "statuses": load["statuses"],
        "duplicates": load["duplicates"],
        "rejected": load["rejected"],
        "api_positions_per_s": round(api_per_s),
        "api_requests_per_s": round(load["requests"] / load["elapsed_s"], 1),
        "request_p50_ms": round(load["p50_ms"], 1),
        "request_p99_ms": round(load["p99_ms"], 1),
        "cpu": cpu,
        "cpu_ms_per_request": {
            name: round(seconds * 1000 / load["requests"], 2)
            for name, seconds in cpu["cpu_s"].items()
            if name != "machine"
        },
        "copy_rows_per_s": [round(rate) for rate in copy_rates],
        "copy_rows": [len(before_rows), len(rows)],
        "baseline_rows_per_s": round(copy_per_s),
        "table_size": table_size,
        "ratio": round(ratio, 3),
        "api_positions_per_cpu_s": round(api_per_cpu_s),
        "copy_rows_per_cpu_s": round(copy_per_cpu_s),
        "cpu_ratio": round(api_per_cpu_s / copy_per_cpu_s, 3),
        "goal": f">= {GOAL_RATIO:g} x COPY and >= {GOAL_PER_S:,} positions/s, nothing lost",
        "met": met,
    }
    print(f"  API:  {api_per_s:10,.0f} positions/s  ({results['api_requests_per_s']:.0f} "
          f"requests/s of {BATCH}, p50 {load['p50_ms']:.0f} ms, p99 {load['p99_ms']:.0f} ms, "
          f"{load['requests']} requests in {load['elapsed_s']:.1f} s)")  # fmt: skip
    per_request = results["cpu_ms_per_request"]
    print(f"        CPU per request: gunicorn {per_request['gunicorn']:.1f} ms, PostgreSQL "
          f"{per_request['postgres']:.1f} ms, load {per_request['load']:.1f} ms; the machine "
          f"was busy {cpu['cpu_s']['machine']:.0f} of {cpu['cores'] * cpu['wall_s']:.0f} "
          f"CPU seconds")  # fmt: skip
    print(
        f"  COPY: {copy_per_s:10,.0f} rows/s       (before {copy_rates[0]:,.0f} with "
        f"{len(before_rows):,} rows, after {copy_rates[1]:,.0f} with {len(rows):,})"
    )
    print(
        f"  per CPU second: API {api_per_cpu_s:,.0f} positions, COPY {copy_per_cpu_s:,.0f} "
        f"rows: {results['cpu_ratio']:.3f}"
    )
    print(f"  ratio {ratio:.3f} (goal >= {GOAL_RATIO:g}), {api_per_s:,.0f}/s (goal >= "
          f"{GOAL_PER_S:,}); sent {sent:,}, stored {stored:,}, lost {lost}, untagged "
          f"{untagged}, failed requests {failed}: {'met' if met else 'NOT met'} "
          f"({time.perf_counter() - started:.0f} s in all)")  # fmt: skip
    write_results("ingest", results)
    return results


if __name__ == "__main__" and sys.argv[1:2] == ["load"]:
    _load(sys.argv[2], sys.argv[3])
