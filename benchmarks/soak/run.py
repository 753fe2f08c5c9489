"""The soak's conductor: sets up its own PostgreSQL and Redis, the app as in production (gunicorn,
a Celery worker, celery beat, DJANGO_DEBUG=0), the fake providers and the load; plays the faults
on a schedule while the load runs; waits for the app to settle; and judges what it finds.

The faults, at a share of the run's duration (at 5 minutes: 30 s, 60 s, 85 s, 120-180 s):
- PostgreSQL restarted (fast shutdown: every session is cut) while requests come in;
- the worker's pool processes killed with SIGKILL while a message is being sent (the parent
  lives: reject_on_worker_lost puts the task back), then the whole worker (parent and pool, as
  when its machine dies) while another is, and a new worker started 5 s later;
- Redis stopped for a minute and started again empty.
The app's processes are supervised as the compose file's `restart: unless-stopped` does: one
that exits by itself (other than by the soak's kills) is started again, and each such restart is
reported with the error it died of. Everything the soak starts is torn down at the end, also on
failure, by process group.
"""

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

from . import report
from .infra import CpuSampler, Postgres, Process, Redis, free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"
BIN = Path(sys.executable).parent
FAULTS = {
    "postgres_restart": 0.10,
    "pool_killed": 0.20,
    "worker_killed": 0.28,
    "redis_down": 0.40,
    "redis_up": 0.60,
}
# How long a kill waits for a message to be in the middle of its send before killing anyway.
SENDING_WAIT_S = 15
# The outbox takes over a dead worker's claim after lastmile.sending.STALE_CLAIM (5 minutes) and
# the sweep runs every minute: the wait for every message to settle allows for both.
SETTLE_AFTER_KILL_S = 5 * 60 + 60 + 45
SETTLE_AFTER_LOAD_S = 120
# Started again when they exit by themselves, like the compose file's restart policy does.
SUPERVISED = ("web", "worker", "beat")


class Soak:
    def __init__(self, args):
        self.args = args
        self.tmp = Path(tempfile.mkdtemp(prefix="soak-"))
        self.pg = Postgres(self.tmp, free_port())
        self.redis = Redis(self.tmp, free_port())
        self.web_port = free_port()
        self.app_url = f"http://127.0.0.1:{self.web_port}"
        self.processes = {}
        self.timeline = {}
        self.secret_key = secrets.token_urlsafe(50)
        self.providers_ready = None
        self.plan_path = None
        self.account_id = None
        self.cpu = self.cpu_used = None
        self._local = threading.local()
        # The supervisor's state: who may be down (the soak's own kills), what it restarted.
        self._lock = threading.RLock()
        self._expected_down = set()
        self._supervising = threading.Event()
        self.restarts = []

    # Set-up -------------------------------------------------------------------------------------

    def say(self, text):
        print(f"[soak {time.strftime('%H:%M:%S')}] {text}", flush=True)

    def env(self):
        """The app's environment, built from nothing but the soak's own settings (a developer's
        DATABASE_URL or CACHE_URL must not point the soak at a shared server)."""
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", str(self.tmp)),
            "LANG": "C.UTF-8",
            "PYTHONUNBUFFERED": "1",
            "DJANGO_SETTINGS_MODULE": "tracking.settings",
            "DJANGO_READ_DOT_ENV": "0",
            "DJANGO_DEBUG": "0",
            "SECRET_KEY": self.secret_key,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SITE_URL": self.app_url,
            "DATABASE_URL": self.pg.url,
            "REDIS_URL": self.redis.url,
            "MEDIA_ROOT": str(self.tmp / "media"),
            "LOG_LEVEL": "INFO",
        }
        if self.providers_ready:
            ready = self.providers_ready
            env.update(
                SMS_BACKEND="tracking.lib.sms.TwilioBackend",
                TWILIO_ACCOUNT_SID=ready["twilio_sid"],
                TWILIO_AUTH_TOKEN=ready["twilio_token"],
                TWILIO_FROM_NUMBER=ready["twilio_from"],
                TWILIO_BASE_URL=ready["twilio"],
                TWILIO_TIMEOUT_S="10",
                EMAIL_BACKEND="anymail.backends.postmark.EmailBackend",
                POSTMARK_SERVER_TOKEN=ready["postmark_token"],
                POSTMARK_API_URL=ready["postmark"] + "/",
                ANYMAIL_WEBHOOK_SECRET=ready["webhook_secret"],
                EMAIL_TIMEOUT_S="10",
            )
        return env

    def python(self, *args, timeout=600):
        result = subprocess.run(
            [sys.executable, *args],
            cwd=ROOT,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result

    def start(self, name, command, ready=None, timeout_s=60):
        process = Process(name, command, log=self.tmp / f"{name}.log", env=self.env(), cwd=ROOT)
        self.processes[name] = process.start()
        if ready:
            wait_until(lambda: process.alive() and ready(process), timeout_s=timeout_s, what=name)
            if not process.alive():
                raise RuntimeError(f"{name} exited: see {process.log}")
        return process

    def start_worker(self, wait=True):
        name = "worker"
        if name in self.processes:
            old = self.processes.pop(name)
            self.processes[f"worker-{old.pid}"] = old
        log_size = 0
        log_path = self.tmp / "worker.log"
        if log_path.exists():
            log_size = log_path.stat().st_size
        command = [
            str(BIN / "celery"),
            "-A",
            "tracking",
            "worker",
            "--loglevel=info",
            f"--concurrency={self.args.worker_concurrency}",
            "--hostname=soak@%h",
        ]

        def ready(process):
            with log_path.open("rb") as log:
                log.seek(log_size)
                return b" ready." in log.read()

        return self.start(name, command, ready=ready if wait else None, timeout_s=60)

    def set_up(self):
        self.say(f"temporary directory {self.tmp}")
        self.pg.init()
        self.pg.start()
        self.pg.create_database()
        self.redis.start()
        self.say(f"PostgreSQL on :{self.pg.port}, Redis on :{self.redis.port}")
        started = time.monotonic()
        self.python("manage.py", "migrate", "--no-input", "-v", "0")
        self.say(f"migrated in {time.monotonic() - started:.0f} s")
        plan_path = self.tmp / "plan.json"
        self.python(
            "-m",
            "benchmarks.soak.data",
            "seed",
            str(plan_path),
            "--drivers",
            str(self.args.drivers),
            "--customers",
            str(self.args.customers),
            "--stops",
            str(self.args.stops),
        )
        self.plan_path = plan_path
        plan = json.loads(plan_path.read_text())
        self.account_id = plan["account_id"]
        self.say(
            f"seeded {len(plan['drivers'])} drivers with a route in progress each and "
            f"{len(plan['customers'])} customers' pages in {plan['seed_s']} s"
        )
        ready_path = self.tmp / "providers.json"
        self.start(
            "providers",
            [
                sys.executable,
                "-m",
                "benchmarks.soak.providers",
                str(ready_path),
                "--app-url",
                self.app_url,
            ],
            ready=lambda _process: ready_path.exists(),
        )
        self.providers_ready = json.loads(ready_path.read_text())
        self.python("manage.py", "collectstatic", "--no-input", "-v", "0")
        self.start(
            "web",
            [
                str(BIN / "gunicorn"),
                "tracking.wsgi",
                "--bind",
                f"127.0.0.1:{self.web_port}",
                "--workers",
                str(self.args.web_workers),
                "--access-logfile",
                "-",
                "--error-logfile",
                "-",
            ],
            # Any answer will do: /healthz says 503 until a worker answers its ping.
            ready=lambda _process: requests.get(f"{self.app_url}/healthz", timeout=5).status_code,
        )
        self.start_worker()
        self.start(
            "beat",
            [
                str(BIN / "celery"),
                "-A",
                "tracking",
                "beat",
                "--loglevel=info",
                "--schedule",
                str(self.tmp / "celerybeat-schedule"),
                "--pidfile",
                str(self.tmp / "beat.pid"),
            ],
        )
        self.say(
            f"gunicorn ({self.args.web_workers} workers) on :{self.web_port}, worker "
            f"(concurrency {self.args.worker_concurrency}), beat and the fake providers up"
        )

    # The database, seen from here ---------------------------------------------------------------

    def _connection(self):
        # One connection per thread (the recovery watcher queries alongside the main thread).
        connection = getattr(self._local, "db", None)
        if connection is None or connection.closed:
            connection = self._local.db = self.pg.connect()
        return connection

    def _forget_connection(self):
        connection = getattr(self._local, "db", None)
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.close()
        self._local.db = None

    def query(self, sql, params=()):
        """One value from the soak's database, or None while it cannot be reached."""
        try:
            return self._connection().execute(sql, params).fetchone()[0]
        except Exception:
            self._forget_connection()
            return None

    def sending_ids(self):
        try:
            rows = (
                self._connection()
                .execute(
                    "SELECT id FROM lastmile_outboxmessage WHERE status = 'sending' "
                    "AND account_id = %s",
                    (self.account_id,),
                )
                .fetchall()
            )
            return [row[0] for row in rows]
        except Exception:
            self._forget_connection()
            return []

    def wait_for_sending(self):
        """The messages being sent now (waiting up to SENDING_WAIT_S for one); the claims that
        an earlier kill left behind do not count."""
        left_behind = set(self.timeline.get("pool_killed", {}).get("sending", []))
        deadline = time.monotonic() + SENDING_WAIT_S
        while time.monotonic() < deadline:
            ids = [pk for pk in self.sending_ids() if pk not in left_behind]
            if ids:
                return ids
            time.sleep(0.05)
        return []

    # Faults -------------------------------------------------------------------------------------

    def restart_postgres(self):
        begin = time.time()
        self.pg.restart()
        ready = time.time()
        self.timeline["postgres_restart"] = {"begin": begin, "ready": ready}
        self.say(f"PostgreSQL restarted: down for {ready - begin:.1f} s")

    def kill_pool(self):
        worker = self.processes["worker"]
        sending = self.wait_for_sending()
        children = worker.children()
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.timeline["pool_killed"] = {
            "at": time.time(),
            "sending": sending,
            "processes": len(children),
        }
        self.say(f"SIGKILL to the worker's {len(children)} pool processes; sending: {sending}")

    def kill_worker(self):
        sending = self.wait_for_sending()
        with self._lock:
            self._expected_down.add("worker")
            worker = self.processes["worker"]
            at = time.time()
            worker.kill()
        self.say(f"SIGKILL to the whole worker (pid {worker.pid}); sending: {sending}")
        time.sleep(5)
        with self._lock:
            self.start_worker()
            self._expected_down.discard("worker")
        restarted = time.time()
        self.timeline["worker_killed"] = {"at": at, "sending": sending, "restarted": restarted}
        self.say(f"a new worker is up {restarted - at:.1f} s after the kill")

    def redis_outage(self, up_at):
        begin = time.time()
        self.redis.stop()
        self.say("Redis stopped")
        entry = {"begin": begin}
        self.timeline["redis_down"] = entry
        time.sleep(max(0, up_at - time.time()))
        self.redis.start()
        entry["end"] = end = time.time()
        self.say(f"Redis started again (empty) after {end - begin:.0f} s")
        threading.Thread(target=self._watch_recovery, args=(entry,), daemon=True).start()

    def _watch_recovery(self, entry):
        """How long after Redis is back the ETAs of every route and the messages written during
        the outage take to catch up (each seen from the database, once a second)."""
        begin, end = entry["begin"], entry["end"]
        entry["messages_written"] = self.query(
            "SELECT count(*) FROM lastmile_outboxmessage WHERE account_id = %s AND created_at "
            "BETWEEN to_timestamp(%s) AND to_timestamp(%s)",
            (self.account_id, begin, end),
        )
        entry["routes_stale_when_back"] = self.query(
            "SELECT count(*) FROM routes_route WHERE account_id = %s AND status = 'in_progress' "
            "AND (eta_refreshed_at IS NULL OR eta_refreshed_at < to_timestamp(%s))",
            (self.account_id, begin),
        )
        deadline = time.time() + 300
        while time.time() < deadline and (
            "eta_caught_up_s" not in entry or "outbox_caught_up_s" not in entry
        ):
            now = time.time()
            if "eta_caught_up_s" not in entry:
                stale = self.query(
                    "SELECT count(*) FROM routes_route WHERE account_id = %s AND "
                    "status = 'in_progress' AND (eta_refreshed_at IS NULL OR "
                    "eta_refreshed_at < to_timestamp(%s))",
                    (self.account_id, end),
                )
                if stale == 0:
                    entry["eta_caught_up_s"] = round(now - end, 1)
            if "outbox_caught_up_s" not in entry:
                pending = self.query(
                    "SELECT count(*) FROM lastmile_outboxmessage WHERE account_id = %s AND "
                    "created_at BETWEEN to_timestamp(%s) AND to_timestamp(%s) AND "
                    "status IN ('queued', 'sending')",
                    (self.account_id, begin, end),
                )
                if pending == 0:
                    entry["outbox_caught_up_s"] = round(now - end, 1)
            time.sleep(1)

    # The run ------------------------------------------------------------------------------------

    def warm_up(self):
        """A few page views before the clock starts, so that the first measured requests do not
        pay for each gunicorn worker's first template compilation."""
        plan = json.loads(self.plan_path.read_text())
        session = requests.Session()
        session.headers["X-Forwarded-Proto"] = "https"
        for token in plan["customers"][: 4 * self.args.web_workers]:
            for path in (f"/t/{token}", f"/t/{token}/live"):
                session.get(self.app_url + path, timeout=30)

    def run_load(self):
        self.warm_up()
        duration = self.args.duration
        start_at = time.time() + 3
        out = self.tmp / "load.json"
        load = self.start(
            "load",
            [
                sys.executable,
                "-m",
                "benchmarks.soak.load",
                str(self.plan_path),
                str(out),
                "--url",
                self.app_url,
                "--start-at",
                str(start_at),
                "--duration",
                str(duration),
            ],
        )
        self.say(
            f"load: {self.args.drivers} drivers (a batch of positions every 5 s), "
            f"{self.args.customers} customers, for {duration:.0f} s"
        )
        self.cpu = CpuSampler(
            {
                **{
                    name: (lambda name=name: self.processes[name].pid)
                    for name in ("web", "worker", "beat", "providers", "load")
                },
                "redis": lambda: self.redis.process.pid,
            },
            trees={"postgres": self.pg.postmaster},
        )
        self.cpu.start()
        at = {name: start_at + share * duration for name, share in FAULTS.items()}
        steps = [
            (at["postgres_restart"], self.restart_postgres),
            (at["pool_killed"], self.kill_pool),
            (at["worker_killed"], self.kill_worker),
            (at["redis_down"], lambda: self.redis_outage(at["redis_up"])),
        ]
        for moment, fault in steps:
            time.sleep(max(0, moment - time.time()))
            if not load.alive():
                raise RuntimeError(f"the load generator exited early: see {load.log}")
            fault()
        self.say("faults done; the load goes on")
        load.wait(timeout_s=max(60, start_at + duration - time.time() + 200))
        self.cpu_used = self.cpu.stop()
        if load.popen.returncode != 0:
            raise RuntimeError(f"the load generator failed: see {load.log}")
        self.say("load done; waiting for the app to settle")
        return json.loads(out.read_text())

    def providers_log(self):
        response = requests.get(self.providers_ready["twilio"] + "/_soak/log", timeout=30)
        return response.json()

    def settle(self, load):
        """Waits until no message is queued or being sent, every delivery callback went through
        and every event is dispatched, within the time the outbox needs to take over a dead
        worker's claims."""
        kills = [
            self.timeline[name]["at"]
            for name in ("pool_killed", "worker_killed")
            if name in self.timeline
        ]
        deadline = max(
            [time.time() + SETTLE_AFTER_LOAD_S] + [at + SETTLE_AFTER_KILL_S for at in kills]
        )
        started = time.time()
        while time.time() < deadline:
            open_messages = self.query(
                "SELECT count(*) FROM lastmile_outboxmessage WHERE account_id = %s AND "
                "status IN ('queued', 'sending')",
                (self.account_id,),
            )
            undispatched = self.query(
                "SELECT count(*) FROM services_serviceevent WHERE account_id = %s AND "
                "dispatched_at IS NULL",
                (self.account_id,),
            )
            callbacks = self.providers_log()["callbacks"]["pending"]
            if open_messages == 0 and undispatched == 0 and callbacks == 0:
                self.say(f"settled {time.time() - started:.0f} s after the load")
                return True
            time.sleep(5)
        self.say("not settled in time")
        return False

    def judge(self, load):
        tally_path = self.tmp / "tally.json"
        self.python("-m", "benchmarks.soak.data", "tally", str(tally_path))
        tally = json.loads(tally_path.read_text())
        providers = self.providers_log()
        requests_stats = report.request_stats(
            load["requests"], self.timeline, load["start_at"], load["end_at"]
        )
        result = {
            "settings": {
                "drivers": self.args.drivers,
                "customers": self.args.customers,
                "duration_s": self.args.duration,
                "web_workers": self.args.web_workers,
                "worker_concurrency": self.args.worker_concurrency,
                "cpus": os.cpu_count(),
            },
            "timeline": {
                name: {
                    key: round(value - load["start_at"], 1)
                    if key in ("begin", "ready", "end", "at", "restarted")
                    else value
                    for key, value in entry.items()
                }
                for name, entry in self.timeline.items()
            },
            "requests": requests_stats,
            "positions": {
                "made": load["points_made"],
                "accepted": load["acknowledged"]["accepted"],
                "duplicates": load["acknowledged"]["duplicates"],
                "rejected": load["acknowledged"]["rejected"],
                "stored": tally["positions_stored"],
                "unsent": load["unsent"],
                "without_route": tally["positions_without_route"],
                "drivers_with_a_difference": sorted(
                    int(driver)
                    for driver, made in load["points_made_by_driver"].items()
                    if tally["positions_by_driver"].get(driver, 0) != made
                ),
            },
            "steps": {
                "done": sum(load["steps_done"].values()),
                "left": load["steps_planned"],
                "by_kind": load["steps_done"],
            },
            "messages": report.message_stats(
                tally["messages"], providers["received"], providers["callbacks"]
            ),
            "cpu": {
                **{key: value for key, value in self.cpu_used.items() if key != "series"},
                "by_phase": report.cpu_by_phase(
                    self.cpu_used["series"], self.timeline, load["start_at"], load["end_at"]
                ),
            },
            "tally": {
                key: tally[key]
                for key in ("events_undispatched", "idempotency_in_progress", "routes_in_progress")
            },
        }
        result["restarts"] = [
            {**restart, "at": round(restart["at"] - load["start_at"], 1)}
            for restart in self.restarts
        ]
        killed = set()
        for name in ("pool_killed", "worker_killed"):
            killed.update(self.timeline.get(name, {}).get("sending", []))
        by_id = {row["id"]: row for row in tally["messages"]}
        result["messages"]["in_flight_at_kills"] = {
            str(pk): {key: by_id[pk][key] for key in ("channel", "status", "tries")}
            for pk in sorted(killed)
            if pk in by_id
        }
        checks = report.invariants(result)
        result["invariants"] = [
            {"name": name, "held": held, "detail": detail} for name, held, detail in checks
        ]
        result["ok"] = all(held for _name, held, _detail in checks)
        return result

    def supervise(self):
        """Starts again, once a second, a supervised process that exited by itself."""
        while not self._supervising.wait(1):
            with self._lock:
                for name in SUPERVISED:
                    process = self.processes.get(name)
                    if process is None or process.alive() or name in self._expected_down:
                        continue
                    at = time.time()
                    reason = _last_error(process.log)
                    self.say(
                        f"{name} exited by itself (code {process.popen.returncode}: {reason}); "
                        "started again, as the compose file's restart policy would"
                    )
                    try:
                        if name == "worker":
                            # Not waited for: with Redis down it waits for the broker.
                            self.start_worker(wait=False)
                        else:
                            self.processes.pop(name)
                            self.processes[f"{name}-{process.pid}"] = process
                            self.start(name, process.command)
                    except Exception as exc:  # tried again in a second
                        self.say(f"{name} could not be started again: {exc!r}")
                    self.restarts.append(
                        {"process": name, "at": at, "exit_code": process.popen.returncode,
                         "error": reason, "back_after_s": round(time.time() - at, 1)}
                    )  # fmt: skip

    def run(self):
        self.set_up()
        threading.Thread(target=self.supervise, daemon=True).start()
        load = self.run_load()
        self.settle(load)
        return self.judge(load)

    def teardown(self):
        self._supervising.set()
        with self._lock:
            self._expected_down.update(SUPERVISED)
        for _name, process in reversed(list(self.processes.items())):
            process.stop()
        self._forget_connection()
        self.redis.teardown()
        self.pg.teardown()


def _last_error(log_path, lines=400):
    """The last CRITICAL or ERROR line of a process's log (what it died of), shortened."""
    try:
        tail = log_path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return ""
    for marker in ("CRITICAL", "Unrecoverable", "ERROR"):
        for line in reversed(tail):
            if marker in line:
                return line.strip()[-200:]
    return tail[-1].strip()[-200:] if tail else ""


def print_summary(result):
    requests_stats, positions, messages = (
        result["requests"],
        result["positions"],
        result["messages"],
    )
    print()
    print(
        f"soak: {result['settings']['drivers']} drivers + {result['settings']['customers']} "
        f"customers for {result['settings']['duration_s']:.0f} s: {requests_stats['requests']} "
        f"requests, {requests_stats['errors']} errors, p50 {requests_stats['p50_ms']} ms, "
        f"p99 {requests_stats['p99_ms']} ms"
    )
    print(
        f"  {'phase':<18} {'requests':>9} {'errors':>7} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}"
        f" {'cores: soak':>12} {'others':>7}"
    )
    cpu_by_phase = result["cpu"]["by_phase"]
    for name, entry in requests_stats["by_phase"].items():
        cores = cpu_by_phase.get(name, {})
        print(
            f"  {name:<18} {entry['requests']:>9} {entry['error_count']:>7} "
            f"{entry['p50_ms']:>8} {entry['p99_ms']:>8} {entry['max_ms']:>8} "
            f"{cores.get('soak_cores', ''):>12} {cores.get('other_cores', ''):>7}"
            + (f"  {entry['errors']}" if entry["errors"] else "")
        )
    print(
        f"  {'request':<18} {'requests':>9} {'errors':>7} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}"
    )
    for name, entry in requests_stats["by_kind"].items():
        print(
            f"  {name:<18} {entry['requests']:>9} {entry['error_count']:>7} "
            f"{entry['p50_ms']:>8} {entry['p99_ms']:>8} {entry['max_ms']:>8}"
        )
    print(
        f"  positions: made {positions['made']}, accepted {positions['accepted']}, stored "
        f"{positions['stored']} (duplicates answered {positions['duplicates']}, rejected "
        f"{positions['rejected']})"
    )
    print(
        f"  messages: {messages['queued']} queued, {messages['received']} received by the "
        f"providers, {messages['sent_once']} exactly once, {len(messages['duplicates'])} "
        f"duplicates, {len(messages['lost'])} lost; statuses {messages['statuses']}"
    )
    for restart in result["restarts"]:
        print(
            f"  {restart['process']} exited by itself {restart['at']} s into the run and was "
            f"started again ({restart['back_after_s']} s): {restart['error']}"
        )
    in_flight = messages.get("in_flight_at_kills", {})
    if in_flight:
        print(
            "  being sent when the worker was killed: "
            + ", ".join(
                f"#{pk} {row['channel']} {row['status']} after {row['tries']} tries"
                for pk, row in in_flight.items()
            )
        )
    pg = requests_stats.get("postgres_reconnect")
    if pg:
        print(
            f"  PostgreSQL restart: {pg['restart_s']} s; {pg['failed_requests']} requests failed, "
            f"the last answered {pg['last_failure_after_ready_s']} s after it was back, the first "
            f"success {pg['first_success_after_ready_s']} s after"
        )
    redis_down = result["timeline"].get("redis_down")
    if redis_down:
        print(
            f"  Redis down {redis_down['end'] - redis_down['begin']:.0f} s: "
            f"{redis_down.get('messages_written')} messages written meanwhile, all sent "
            f"{redis_down.get('outbox_caught_up_s')} s after it was back; ETAs of every route "
            f"fresh {redis_down.get('eta_caught_up_s')} s after"
        )
    cpu = result["cpu"]
    web_ms = 1000 * cpu["cpu_s"].get("web", 0) / max(1, requests_stats["requests"])
    print(
        f"  CPU during the load (core-seconds; web {web_ms:.1f} ms a request): "
        + ", ".join(f"{name} {seconds}" for name, seconds in cpu["cpu_s"].items())
        + f"; other processes on the machine {cpu['others_cpu_s']}; load average "
        f"{cpu['loadavg_mean']} (max {cpu['loadavg_max']}) on {result['settings']['cpus']} CPUs"
    )
    for entry in result["invariants"]:
        print(f"  [{'ok' if entry['held'] else 'FAILED'}] {entry['name']}: {entry['detail']}")


def main(args):
    # A SIGTERM or SIGHUP (a CI job's timeout, a closed terminal) unwinds like Ctrl-C, so that
    # the servers started here are torn down rather than left running.
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, lambda signum, _frame: sys.exit(128 + signum))
    soak = Soak(args)
    result = None
    try:
        result = soak.run()
    except BaseException as exc:
        soak.say(f"soak aborted: {exc!r}")
        raise
    finally:
        soak.teardown()
        if result is not None and result["ok"] and not args.keep:
            shutil.rmtree(soak.tmp, ignore_errors=True)
        else:
            soak.say(f"logs kept in {soak.tmp}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "soak.json").write_text(json.dumps(result, indent=2))
    print_summary(result)
    return 0 if result["ok"] else 1
