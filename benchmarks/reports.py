"""The reports over 1,000,000 services and their events, against the plain SQL aggregate each one
stands on (goal: at most 3 times as slow), and the peak memory of a 1,000,000-row export (goal: at
most 200 MB).

The account's history is written with INSERT ... SELECT over generate_series (PostgreSQL only):
SERVICES services over DAYS days in 5 branches, 10 carriers and 20 partners; most done (some
late, some at the second attempt), some failed, returned, cancelled and still open; a created and
a status event each; a schedule each (3 windows, 3 origins); one stop each for those that went
out, on the day's route of one of 300 drivers (routes started and finished); one SMS or e-mail
each; a rating on a tenth of the done ones. The period asked for covers all of it.

Each report is its selector (reports.deliveries.delivery_report, ...) called as a manager,
against the hand-written SQL that computes the same numbers in one statement (GROUPING SETS where
the report has several tables): the report's totals are checked equal to the SQL's before
timing. Timings are the median of RUNS after a warm-up run.

The export is the deliveries report's "every service" CSV and XLSX written to a temporary file by
a fresh child process (`python -m benchmarks.reports export ...`), whose peak resident memory
(VmHWM) is read by the parent; the child's memory with Django loaded and nothing exported is
reported too.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench python -m benchmarks reports
BENCH_REPORTS_SERVICES changes the number of services (default 1,000,000); BENCH_REPORTS_XLSX=0
skips the XLSX export (openpyxl writes about 10,000 rows a second here).
"""

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from benchmarks import write_results

SERVICES = int(os.environ.get("BENCH_REPORTS_SERVICES", "1000000"))
EXPORT_XLSX = os.environ.get("BENCH_REPORTS_XLSX", "1") != "0"
DAYS = 90
DRIVERS = 300
RUNS = 5
GOAL_RATIO = 3.0
GOAL_EXPORT_MB = 200
FIRST_DAY = date(2026, 6, 1)
TZ = "America/Sao_Paulo"
ROOT = Path(__file__).resolve().parent.parent


# The data ---------------------------------------------------------------------------------------


def _setup():
    """The account, its settings and its history; returns (account, manager)."""
    from accounts.models import (
        Account,
        Branch,
        Carrier,
        Driver,
        FailureReason,
        Partner,
        Role,
        User,
        Vehicle,
        VehicleType,
    )
    from scheduling.models import DeliveryWindow

    account = Account.objects.create(
        name="Bench reports", slug="bench-reports", language="en", time_zone=TZ
    )
    manager = User.objects.create(
        email="manager@reports.bench.test", account=account, role=Role.MANAGER
    )
    branches = [Branch.objects.create(account=account, name=f"Branch {n}") for n in range(5)]
    carriers = [Carrier.objects.create(account=account, name=f"Carrier {n}") for n in range(10)]
    partners = [Partner.objects.create(account=account, name=f"Partner {n}") for n in range(20)]
    reasons = [
        FailureReason.objects.create(account=account, description=f"Reason {n}") for n in range(5)
    ]
    windows = [
        DeliveryWindow.objects.create(
            account=account, name=name, weekday=0, start=f"{start}:00", end=f"{end}:00"
        )
        for name, start, end in (("Morning", 8, 12), ("Afternoon", 13, 18), ("Evening", 18, 21))
    ]
    drivers = Driver.objects.bulk_create(
        Driver(
            account=account,
            first_name=f"Driver{n}",
            last_name="Bench",
            username=f"driver{n}",
            carrier=carriers[n % len(carriers)],
        )
        for n in range(DRIVERS)
    )
    vehicles = Vehicle.objects.bulk_create(
        Vehicle(account=account, type=VehicleType.VAN, plate=f"BEN{n // 100 % 10}A{n % 100:02d}")
        for n in range(DRIVERS)
    )
    ids = {
        "account": account.pk,
        "branches": [b.pk for b in branches],
        "carriers": [c.pk for c in carriers],
        "partners": [p.pk for p in partners],
        "reasons": [r.pk for r in reasons],
        "windows": [w.pk for w in windows],
        "drivers": [d.pk for d in drivers],
        "vehicles": [v.pk for v in vehicles],
    }
    _history(ids)
    return account, manager


def _array(values):
    return "ARRAY[" + ",".join(str(v) for v in values) + "]::bigint[]"


def _history(ids):
    from django.db import connection

    start = datetime(FIRST_DAY.year, FIRST_DAY.month, FIRST_DAY.day, 11, tzinfo=ZoneInfo("UTC"))
    a = ids["account"]
    steps = [
        (
            "customers",
            f"""
            INSERT INTO accounts_customer (account_id, kind, name, trade_name, document, email,
                phone, external_code, street, number, complement, district, city, state,
                postal_code, country, language, created_at)
            SELECT {a}, 'person', 'Customer ' || n, '', '', '', '', '', 'Rua ' || n, '1', '',
                '', 'São Paulo', 'SP', '', 'BR', '', now()
            FROM generate_series(1, 20000) n""",
        ),
        (
            "services",
            f"""
            WITH c AS (SELECT min(id) AS first FROM accounts_customer WHERE account_id = {a})
            INSERT INTO services_service (account_id, customer_id, type, status, external_id,
                order_number, invoice_number, invoice_series, description, service_time_min,
                attempt_count, tracking_token, street, number, complement, district, city,
                state, postal_code, country, branch_id, carrier_id, partner_id, deadline,
                created_at, finished_at, updated_at)
            SELECT {a}, c.first + n % 20000, 'delivery', s.status, '', 'B' || n, '', '', '', 5,
                CASE WHEN n % 10 = 0 THEN 1 ELSE 0 END, md5('bench' || n), 'Rua', '1', '', '',
                'São Paulo', 'SP', '', 'BR',
                ({_array(ids["branches"])})[1 + n % 5],
                ({_array(ids["carriers"])})[1 + n % 10],
                CASE WHEN n % 20 = 19 THEN NULL ELSE ({_array(ids["partners"])})[1 + n % 20] END,
                CASE WHEN n % 7 = 0 THEN NULL ELSE t.created + interval '10 hours' END,
                t.created,
                CASE WHEN s.status IN ('pending', 'routed', 'in_progress') THEN NULL
                     ELSE t.created + interval '4 hours' + (n % 720) * interval '1 minute' END,
                t.created
            FROM c, generate_series(1, {SERVICES}) n,
            LATERAL (SELECT timestamptz '{start.isoformat()}'
                + (n % {DAYS}) * interval '1 day' + (n % 480) * interval '1 minute' AS created) t,
            LATERAL (SELECT CASE WHEN n % 100 < 80 THEN 'done' WHEN n % 100 < 88 THEN 'failed'
                WHEN n % 100 < 90 THEN 'returned' WHEN n % 100 < 93 THEN 'cancelled'
                ELSE (ARRAY['pending', 'routed', 'in_progress'])[1 + n % 3] END AS status) s""",
        ),
        (
            "events",
            f"""
            INSERT INTO services_serviceevent (account_id, service_id, kind, actor_type,
                actor_label, from_status, to_status, note, recorded_at, received_at, data)
            SELECT {a}, id, 'created', 'integration', '', '', 'pending', '', created_at,
                created_at, '{{}}'::jsonb
            FROM services_service WHERE account_id = {a}
            UNION ALL
            SELECT {a}, id, 'status', 'driver', '', 'in_progress', status, '', finished_at,
                finished_at, '{{}}'::jsonb
            FROM services_service WHERE account_id = {a} AND finished_at IS NOT NULL""",
        ),
        (
            "schedules",
            f"""
            INSERT INTO scheduling_schedule (account_id, service_id, date, window_id, origin,
                set_by_label, set_at, starts_at, ends_at, date_ends_at)
            SELECT {a}, s.id, d.day, w.id,
                (ARRAY['integration', 'customer', 'back_office'])[1 + s.id % 3], '', s.created_at,
                (d.day + w.start) AT TIME ZONE '{TZ}', (d.day + w."end") AT TIME ZONE '{TZ}',
                (d.day + 1)::timestamp AT TIME ZONE '{TZ}'
            FROM services_service s
            CROSS JOIN LATERAL (SELECT (s.created_at AT TIME ZONE '{TZ}')::date AS day) d
            JOIN scheduling_deliverywindow w
                ON w.id = ({_array(ids["windows"])})[1 + s.id % 3]
            WHERE s.account_id = {a}""",
        ),
        (
            "routes",
            f"""
            INSERT INTO routes_route (account_id, date, status, driver_id, vehicle_id,
                carrier_id, start_address, end_address, planned_distance_m, planned_duration_s,
                travelled_distance_m, departure_time, started_at, finished_at, created_at,
                updated_at)
            SELECT {a}, DATE '{FIRST_DAY.isoformat()}' + d, 'finished', dr.id, v.id,
                ({_array(ids["carriers"])})[1 + (dr.n - 1) % 10], '', '', 90000, 32400,
                CASE WHEN dr.n % 4 = 0 THEN 0 ELSE 85000 + dr.n END, '08:00',
                timestamptz '{start.isoformat()}' + d * interval '1 day',
                timestamptz '{start.isoformat()}' + d * interval '1 day' + interval '9 hours',
                now(), now()
            FROM generate_series(0, {DAYS - 1}) d,
                unnest({_array(ids["drivers"])}) WITH ORDINALITY AS dr(id, n)
                JOIN unnest({_array(ids["vehicles"])}) WITH ORDINALITY AS v(id, n) USING (n)""",
        ),
        (
            "stops",
            f"""
            INSERT INTO routes_stop (account_id, route_id, service_id, sequence, status,
                receiver_name, receiver_document, comment, failure_description,
                failure_reason_id, started_at, arrived_at, left_at)
            SELECT {a}, r.id, s.id, s.id,
                CASE WHEN s.status = 'done' THEN 'done' ELSE 'failed' END, '', '', '', '',
                CASE WHEN s.status = 'done' THEN NULL
                     ELSE ({_array(ids["reasons"])})[1 + s.id % 5] END,
                s.finished_at - interval '25 minutes', s.finished_at - interval '6 minutes',
                s.finished_at
            FROM services_service s
            JOIN routes_route r ON r.account_id = {a}
                AND r.date = (s.created_at AT TIME ZONE 'UTC')::date
                AND r.driver_id = ({_array(ids["drivers"])})[1 + s.id % {DRIVERS}]
            WHERE s.account_id = {a} AND s.status IN ('done', 'failed', 'returned')""",
        ),
        (
            "messages",
            f"""
            INSERT INTO lastmile_outboxmessage (account_id, service_id, trigger, channel,
                attempt, sequence, "to", language, subject, body, html, status, tries, provider,
                provider_id, cost, cost_currency, error, created_at, updated_at)
            SELECT {a}, id, CASE WHEN status = 'done' THEN 'delivered' ELSE 'route_started' END,
                CASE WHEN id % 2 = 0 THEN 'sms' ELSE 'email' END, 1, 0, '+5511999990000', '',
                '', 'Text', '', (ARRAY['delivered', 'sent', 'failed', 'delivered'])[1 + id % 4],
                1, '', '', CASE WHEN id % 2 = 0 THEN 0.0079 END,
                CASE WHEN id % 2 = 0 THEN 'USD' ELSE '' END, '', created_at, created_at
            FROM services_service WHERE account_id = {a}""",
        ),
        (
            "ratings",
            f"""
            INSERT INTO lastmile_rating (account_id, service_id, stars, comment, created_at)
            SELECT {a}, id, 1 + id % 5, '', finished_at
            FROM services_service
            WHERE account_id = {a} AND status = 'done' AND id % 10 = 3""",
        ),
    ]
    with connection.cursor() as cursor:
        for name, sql in steps:
            began = time.perf_counter()
            cursor.execute(sql)
            rows = cursor.rowcount
            # Before the next step reads this table: with the statistics of a near-empty table
            # (as after other benchmarks in the same database) the planner joined the services
            # to the routes by a nested loop over every route, which ran for hours.
            cursor.execute("ANALYZE")
            print(f"  {name}: {rows:,} rows in {time.perf_counter() - began:.1f} s")


# The plain SQL ----------------------------------------------------------------------------------


def _bounds(account):
    tz = ZoneInfo(TZ)
    first, last = FIRST_DAY, FIRST_DAY + timedelta(days=DAYS)
    return (
        datetime(first.year, first.month, first.day, tzinfo=tz),
        datetime(last.year, last.month, last.day, tzinfo=tz) + timedelta(days=1),
    )


def _sql(name, account, now):
    """(statement, parameters) of the plain SQL aggregate behind the report."""
    start, end = _bounds(account)
    a = account.pk
    last_day = FIRST_DAY + timedelta(days=DAYS)
    if name == "deliveries":
        return (
            f"""
            WITH s AS (
                SELECT branch_id, carrier_id, partner_id, status, deadline, attempt_count,
                    coalesce(finished_at, created_at) AS outcome_at
                FROM services_service
                WHERE account_id = {a} AND ((finished_at >= %(start)s AND finished_at < %(end)s)
                    OR (finished_at IS NULL AND created_at >= %(start)s AND created_at < %(end)s))
            )
            SELECT (outcome_at AT TIME ZONE '{TZ}')::date AS day, branch_id, carrier_id,
                partner_id, count(*),
                count(*) FILTER (WHERE status = 'done'),
                count(*) FILTER (WHERE status = 'failed'),
                count(*) FILTER (WHERE status = 'returned'),
                count(*) FILTER (WHERE status = 'cancelled'),
                count(*) FILTER (WHERE status IN ('pending', 'routed', 'in_progress', 'paused')),
                count(*) FILTER (WHERE status = 'done' AND outcome_at <= deadline),
                count(*) FILTER (WHERE (status = 'done' AND outcome_at > deadline) OR
                    (status IN ('pending', 'routed', 'in_progress', 'paused')
                     AND deadline < %(now)s)),
                count(*) FILTER (WHERE status IN ('pending', 'routed', 'in_progress', 'paused')
                    AND deadline >= %(now)s),
                count(*) FILTER (WHERE status = 'done' AND attempt_count = 0)
            FROM s
            GROUP BY GROUPING SETS ((), (1), (branch_id), (carrier_id), (partner_id));
            """,
            {"start": start, "end": end, "now": now},
            (0, 4),  # totals row: grouping (), column total
        )
    if name == "scheduling":
        return (
            f"""
            SELECT sc.date, sc.origin, count(*),
                count(*) FILTER (WHERE s.status = 'done'),
                count(*) FILTER (WHERE s.status = 'done' AND s.finished_at < sc.date_ends_at),
                count(*) FILTER (WHERE s.status IN ('failed', 'returned')),
                count(*) FILTER (WHERE s.status = 'cancelled'),
                count(*) FILTER (WHERE s.status = 'done' AND s.finished_at >= sc.starts_at
                    AND s.finished_at <= sc.ends_at)
            FROM scheduling_schedule sc
            JOIN services_service s ON s.id = sc.service_id
            WHERE sc.account_id = {a} AND sc.date BETWEEN %(first)s AND %(last)s
            GROUP BY GROUPING SETS ((), (sc.date), (sc.origin))
            """,
            {"first": FIRST_DAY, "last": last_day},
            (0, 2),
        )
    if name == "working_hours":
        return (
            f"""
            WITH r AS (
                SELECT id, driver_id, (started_at AT TIME ZONE '{TZ}')::date AS day, started_at,
                    finished_at, CASE WHEN travelled_distance_m > 0 THEN travelled_distance_m
                    ELSE planned_distance_m END AS distance
                FROM routes_route
                WHERE account_id = {a} AND started_at IS NOT NULL
                    AND date BETWEEN %(first)s AND %(last)s
            ), st AS (
                SELECT r.driver_id, r.day, sum(st.arrived_at - st.started_at) AS driving,
                    sum(st.left_at - st.arrived_at) AS at_customers
                FROM routes_stop st JOIN r ON r.id = st.route_id
                GROUP BY 1, 2
            )
            SELECT r.driver_id, r.day, min(r.started_at), max(r.finished_at), count(*),
                sum(r.distance), min(st.driving), min(st.at_customers)
            FROM r LEFT JOIN st USING (driver_id, day)
            GROUP BY 1, 2
            """,
            {"first": FIRST_DAY, "last": last_day},
            None,
        )
    if name == "ranking":
        return (
            f"""
            WITH r AS (
                SELECT id, driver_id, carrier_id, finished_at - started_at AS worked
                FROM routes_route
                WHERE account_id = {a} AND started_at IS NOT NULL
                    AND date BETWEEN %(first)s AND %(last)s
            ), st AS (
                SELECT r.driver_id, r.carrier_id,
                    count(*) FILTER (WHERE st.status = 'done') AS done,
                    count(*) FILTER (WHERE st.status = 'failed') AS failed,
                    count(*) FILTER (WHERE st.status = 'done' AND s.deadline IS NOT NULL
                        AND st.left_at <= s.deadline) AS on_time,
                    avg(rt.stars) FILTER (WHERE st.status = 'done') AS rating
                FROM routes_stop st JOIN r ON r.id = st.route_id
                JOIN services_service s ON s.id = st.service_id
                LEFT JOIN lastmile_rating rt ON rt.service_id = s.id
                GROUP BY GROUPING SETS ((r.driver_id), (r.carrier_id))
            ), w AS (
                SELECT driver_id, carrier_id, sum(worked) AS worked FROM r
                WHERE worked IS NOT NULL GROUP BY GROUPING SETS ((driver_id), (carrier_id))
            )
            SELECT * FROM st LEFT JOIN w ON w.driver_id IS NOT DISTINCT FROM st.driver_id
                AND w.carrier_id IS NOT DISTINCT FROM st.carrier_id
            """,
            {"first": FIRST_DAY, "last": last_day},
            None,
        )
    if name == "messages":
        return (
            f"""
            SELECT (m.created_at AT TIME ZONE '{TZ}')::date, m.trigger, m.channel, count(*),
                count(*) FILTER (WHERE m.status IN ('queued', 'sending')),
                count(*) FILTER (WHERE m.status = 'sent'),
                count(*) FILTER (WHERE m.status = 'delivered'),
                count(*) FILTER (WHERE m.status = 'failed'),
                count(*) FILTER (WHERE m.status = 'bounced'),
                sum(m.cost) FILTER (WHERE m.cost_currency = 'USD')
            FROM lastmile_outboxmessage m
            WHERE m.account_id = {a} AND m.created_at >= %(start)s AND m.created_at < %(end)s
            GROUP BY GROUPING SETS ((), (1), (m.trigger), (m.channel))
            """,
            {"start": start, "end": end},
            (0, 3),
        )
    if name == "driver_status":
        return (
            f"""
            SELECT d.id, d.last_position_at, d.battery_pct, r.id, r.date,
                (SELECT count(*) FROM routes_stop st WHERE st.route_id = r.id),
                (SELECT count(*) FROM routes_stop st WHERE st.route_id = r.id
                    AND st.status = 'done')
            FROM accounts_driver d
            LEFT JOIN LATERAL (SELECT id, date FROM routes_route rr
                WHERE rr.driver_id = d.id AND rr.status = 'in_progress'
                ORDER BY rr.date DESC LIMIT 1) r ON true
            WHERE d.account_id = {a} AND d.is_active
            """,
            {},
            None,
        )
    raise KeyError(name)


def _run_sql(statement, params):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall()


# The reports ------------------------------------------------------------------------------------


def _report(name, manager, now):
    """A callable running the report as the manager would see it, and its total."""
    from reports.deliveries import DeliveryFilters, delivery_report
    from reports.driver_status import driver_status_report
    from reports.messages import message_report
    from reports.ranking import ranking_report
    from reports.scheduling import scheduling_report
    from reports.working_hours import working_hours_report

    tz = ZoneInfo(TZ)
    filters = DeliveryFilters(first_day=FIRST_DAY, last_day=FIRST_DAY + timedelta(days=DAYS))
    calls = {
        "deliveries": lambda: delivery_report(user=manager, filters=filters, tzinfo=tz, now=now),
        "scheduling": lambda: scheduling_report(user=manager, filters=filters),
        "working_hours": lambda: working_hours_report(user=manager, filters=filters, tzinfo=tz),
        "ranking": lambda: ranking_report(user=manager, filters=filters),
        "messages": lambda: message_report(user=manager, filters=filters, tzinfo=tz),
        "driver_status": lambda: driver_status_report(
            user=manager, now=now, today=now.astimezone(tz).date()
        ),
    }
    totals = {
        "deliveries": lambda report: report.totals["total"],
        "scheduling": lambda report: report.totals["total"],
        "messages": lambda report: report.totals["total"],
    }
    return calls[name], totals.get(name)


def _median(call):
    call()  # warm-up: plans cached, pages in the buffer cache
    times = []
    for _ in range(RUNS):
        began = time.perf_counter()
        call()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


# The export -------------------------------------------------------------------------------------


def _child_env():
    from benchmarks._server import database_url

    return {**os.environ, "DATABASE_URL": database_url()}


def _export_in_child(manager, fmt):
    """Runs the export in a fresh process: (peak RSS in MB, seconds, rows)."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "result.json"
        subprocess.run(
            [sys.executable, "-m", "benchmarks.reports", "export", str(manager.pk), fmt, str(out)],
            cwd=ROOT,
            env=_child_env(),
            check=True,
        )
        return json.loads(out.read_text())


def _peak_rss_mb():
    """This process's peak resident memory since it started its program: VmHWM, the high-water
    mark of its own address space. (Not ru_maxrss: Linux carries that across exec from the
    address space the child was forked with, so a child started by a big parent reported the
    parent's size: 623 MB after the other benchmarks, for an export that adds nothing.)"""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux: KiB as well


def _child(user_id, fmt, out):
    """In the child: Django set up, the export written to a temporary file (or nothing for
    fmt "none"), its peak memory measured."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracking.settings")
    django.setup()
    from accounts.models import User
    from reports.deliveries import DeliveryFilters
    from reports.detail_exports import WRITERS, delivery_rows

    user = User.objects.select_related("account").get(pk=user_id)
    filters = DeliveryFilters(first_day=FIRST_DAY, last_day=FIRST_DAY + timedelta(days=DAYS))
    rows, seconds, size = 0, 0.0, 0
    if fmt != "none":
        export = delivery_rows(user=user, filters=filters, tzinfo=ZoneInfo(TZ))
        began = time.perf_counter()
        with tempfile.TemporaryFile() as output:
            rows = WRITERS[fmt](export, output)
            size = output.tell()
        seconds = time.perf_counter() - began
    peak_mb = _peak_rss_mb()
    Path(out).write_text(
        json.dumps({"peak_mb": peak_mb, "seconds": seconds, "rows": rows, "bytes": size})
    )


# The benchmark ----------------------------------------------------------------------------------


def run():
    from django.db import connection
    from django.utils import timezone

    if connection.vendor != "postgresql":
        print("reports: needs PostgreSQL (set DATABASE_URL); skipped")
        return None
    print(f"reports: writing {SERVICES:,} services over {DAYS} days ...")
    began = time.perf_counter()
    account, manager = _setup()
    print(f"  written in {time.perf_counter() - began:.0f} s")
    now = timezone.now()
    results = {"services": SERVICES, "days": DAYS, "reports": {}, "goal_ratio": GOAL_RATIO}
    print(f"{'report':<15}{'report s':>10}{'SQL s':>10}{'ratio':>8}  goal ≤ {GOAL_RATIO:.0f}×")
    for name in ("deliveries", "scheduling", "working_hours", "ranking", "messages",
                 "driver_status"):  # fmt: skip
        call, total_of = _report(name, manager, now)
        statement, params, total_at = _sql(name, account, now)
        if total_of is not None:
            # The same numbers: the report's total is the SQL's.
            rows = _run_sql(statement, params)
            totals = [row for row in rows if all(v is None for v in row[: total_at[1]])]
            assert totals, name
            assert total_of(call()) == totals[0][total_at[1]], name
        report_s = _median(call)
        sql_s = _median(lambda statement=statement, params=params: _run_sql(statement, params))
        ratio = report_s / sql_s
        results["reports"][name] = {
            "report_s": round(report_s, 4),
            "sql_s": round(sql_s, 4),
            "ratio": round(ratio, 2),
            "met": ratio <= GOAL_RATIO,
        }
        print(f"{name:<15}{report_s:>10.3f}{sql_s:>10.3f}{ratio:>7.2f}×  "
              f"{'met' if ratio <= GOAL_RATIO else 'NOT met'}")  # fmt: skip

    baseline = _export_in_child(manager, "none")
    results["export"] = {"baseline_peak_mb": round(baseline["peak_mb"], 1)}
    print(f"export: a child process with Django loaded peaks at {baseline['peak_mb']:.0f} MB")
    for fmt in ("csv", "xlsx") if EXPORT_XLSX else ("csv",):
        figures = _export_in_child(manager, fmt)
        results["export"][fmt] = {
            "rows": figures["rows"],
            "seconds": round(figures["seconds"], 1),
            "peak_mb": round(figures["peak_mb"], 1),
            "megabytes": round(figures["bytes"] / 2**20, 1),
            "met": figures["peak_mb"] <= GOAL_EXPORT_MB,
        }
        print(f"export {fmt}: {figures['rows']:,} rows in {figures['seconds']:.0f} s, "
              f"{figures['bytes'] / 2**20:.0f} MB file, peak {figures['peak_mb']:.0f} MB "
              f"(goal ≤ {GOAL_EXPORT_MB} MB: {'met' if figures['peak_mb'] <= GOAL_EXPORT_MB else 'NOT met'})")  # fmt: skip  # noqa: E501
    write_results("reports", results)
    return results


if __name__ == "__main__" and sys.argv[1:2] == ["export"]:
    _child(int(sys.argv[2]), sys.argv[3], sys.argv[4])
