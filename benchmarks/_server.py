"""What the benchmarks that run real processes share: the environment of a production-like child
process (DEBUG off, a secret key, allowed hosts, the benchmark's PostgreSQL database and Redis),
gunicorn serving the project (started and stopped by its own PID), wrk with its figures read,
the CPU time each process used (from /proc) and, with BENCH_PROFILE=1, a py-spy profile
(BENCH_PROFILE_GIL=1: only the samples holding the GIL, i.e. Python's own CPU time).

Requests carry `X-Forwarded-Proto: https`, as a TLS-terminating proxy in front of gunicorn would
send: with DEBUG off the project redirects plain http to https (SECURE_SSL_REDIRECT).
"""

import logging
import os
import re
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from benchmarks import RESULTS

ROOT = Path(__file__).resolve().parent.parent
HTTPS = {"X-Forwarded-Proto": "https"}
HOST = "127.0.0.1"


def unavailable():
    """Why the real-process benchmarks cannot run here (None when they can): they need the
    benchmark's database on PostgreSQL and Redis as broker and cache, as in production."""
    from django.conf import settings
    from django.db import connection

    if connection.vendor != "postgresql":
        return "needs PostgreSQL (set DATABASE_URL)"
    if not settings.REDIS_URL:
        return "needs Redis (set REDIS_URL, e.g. redis://127.0.0.1:6379/9)"
    return None


def database_url():
    """The URL of the database this process uses (the benchmark's or the tests' test database),
    for child processes."""
    from django.db import connection

    db = connection.settings_dict
    user = quote(db.get("USER") or "", safe="")
    password = quote(db.get("PASSWORD") or "", safe="")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = db.get("HOST") or "localhost"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{auth}{host}{port}/{db['NAME']}"


def production_env(**extra):
    """The environment of a server or worker process, as production sets it (persistent database
    connections are the settings' default, CONN_MAX_AGE=60)."""
    from django.conf import settings

    env = {
        **os.environ,
        "DJANGO_READ_DOT_ENV": "0",
        "DJANGO_DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": f"{HOST},localhost",
        "SITE_URL": "https://tracking.example.com",
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "LOG_LEVEL": "WARNING",
    }
    env.pop("CONN_MAX_AGE", None)
    env.update(extra)
    return env


@contextmanager
def quiet(*loggers):
    """Only warnings from these loggers meanwhile (the set-up's eager tasks log each run)."""
    levels = {name: logging.getLogger(name).level for name in loggers}
    for name in loggers:
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        yield
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def drop_queues(*queues):
    """Deletes the benchmark's own Celery queues from Redis, with kombu's bindings of them."""
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.REDIS_URL)
    for queue in queues:
        client.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")


def free_port():
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def get(url, *, headers=None, data=None, timeout=10):
    """(status, body bytes) of one request, redirects not followed."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    # Our own http://127.0.0.1 addresses only.
    request = urllib.request.Request(url, data=data, headers={**HTTPS, **(headers or {})})  # noqa: S310
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def collectstatic():
    """The hashed static files that pages link to with DEBUG off (as `make run` does)."""
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--no-input", "-v", "0"],
        cwd=ROOT,
        env=production_env(),
        check=True,
        timeout=300,
    )


class Gunicorn:
    """gunicorn serving benchmarks._wsgi with `workers` sync workers on a free port, as a context
    manager: ready (every worker answered) on entry, stopped by its PID on exit."""

    def __init__(self, *, workers, env, log_path):
        self.workers = workers
        self.env = env
        self.log_path = Path(log_path)
        self.port = None
        self.process = None

    @property
    def url(self):
        return f"http://{HOST}:{self.port}"

    def __enter__(self):
        self.port = free_port()
        self._log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "benchmarks._wsgi:application",
                "--bind",
                f"{HOST}:{self.port}",
                "--workers",
                str(self.workers),
                "--worker-class",
                "sync",
                "--timeout",
                "60",
                "--graceful-timeout",
                "5",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        try:
            self._wait_ready()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _wait_ready(self, timeout_s=60):
        deadline = time.monotonic() + timeout_s
        answered = 0
        while answered < 4 * self.workers:  # enough for every worker to have loaded the app
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited:\n{self.log()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not answer within {timeout_s} s:\n{self.log()}")
            try:
                status, body = get(f"{self.url}/_bench/server", timeout=5)
            except OSError:
                time.sleep(0.2)
                continue
            if status != 200 or body.decode() != str(self.process.pid):
                # Another server holds the port (NOTES: a second gunicorn exits quietly).
                raise RuntimeError(f"{self.url} is not the gunicorn started here ({status})")
            answered += 1

    def log(self):
        self._log.flush()
        return self.log_path.read_text()[-4000:]

    def __exit__(self, *exc):
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._log.close()


def wrk_missing():
    """Why wrk cannot run (None when it can)."""
    if shutil.which("wrk") is None:
        return "needs wrk (`BENCH=1 bin/system-deps` installs it)"
    return None


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text):
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(number) * _UNITS_MS[unit]


def wrk(url, *, connections=50, threads=2, duration_s=15, headers=None):
    """Runs wrk against url: {requests_per_s, requests, p50_ms, p90_ms, p99_ms, errors,
    wrk_cpu_s}, where errors counts socket errors and answers outside 2xx/3xx."""
    command = ["wrk", "--latency", "-c", str(connections), "-t", str(threads),
               "-d", f"{duration_s}s"]  # fmt: skip
    for name, value in {**HTTPS, **(headers or {})}.items():
        command += ["-H", f"{name}: {value}"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    output = subprocess.run(
        [*command, url], capture_output=True, text=True, check=True, timeout=duration_s + 60
    ).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    wrk_cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    figures = {
        "requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "requests": int(re.search(r"(\d+) requests in", output).group(1)),
    }
    for percent in (50, 90, 99):
        figures[f"p{percent}_ms"] = round(
            _ms(re.search(rf"^\s+{percent}%\s+(\S+)", output, re.MULTILINE).group(1)), 2
        )
    errors = 0
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if socket_errors:
        # A sync worker closes the connection after each answer: wrk may count such a close as a
        # read error although the answer arrived; connects and timeouts are real errors.
        errors += int(socket_errors.group(1)) + int(socket_errors.group(4))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non_2xx:
        errors += int(non_2xx.group(1))
    figures["errors"] = errors
    figures["wrk_cpu_s"] = round(wrk_cpu_s, 2)
    return figures


class Profile:
    """With BENCH_PROFILE=1, py-spy (`pip install py-spy`) samples a process and its children
    while the context runs and writes their folded stacks to benchmarks/results/<name>.folded
    (for speedscope or flamegraph.pl; hot_spots reads it); otherwise it does nothing."""

    def __init__(self, pid, name, *, seconds):
        self.pid, self.name, self.seconds = pid, name, seconds
        self.process = None

    @property
    def path(self):
        return RESULTS / f"{self.name}.folded"

    def __enter__(self):
        if os.environ.get("BENCH_PROFILE") != "1":
            return self
        py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        self.path.parent.mkdir(exist_ok=True)
        self.process = subprocess.Popen(
            [
                py_spy,
                "record",
                "--pid",
                str(self.pid),
                "--subprocesses",
                "--nonblocking",
                "--rate",
                "100",
                *(["--gil"] if os.environ.get("BENCH_PROFILE_GIL") == "1" else []),
                "--duration",
                str(int(self.seconds)),
                "--format",
                "raw",
                "--output",
                str(self.path),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return self

    def __exit__(self, *exc):
        if self.process is None:
            return
        try:
            self.process.wait(timeout=self.seconds + 30)
        except subprocess.TimeoutExpired:
            self.process.terminate()
            self.process.wait(timeout=10)
        print(f"  profile: {self.path.relative_to(ROOT)}; where the time went (inclusive):")
        for share, frame in hot_spots(self.name, top=25, project_only=True):
            print(f"    {share:6.1%}  {frame}")


PROJECT = ("accounts/", "services/", "scheduling/", "routes/", "lastmile/", "reports/", "tracking/")


def hot_spots(name, *, top=25, project_only=False):
    """The frames that most samples of a profile (Profile) were in, inclusive: [(share, frame)];
    only the project's own functions with project_only."""
    path = RESULTS / f"{name}.folded"
    if not path.exists():
        return []
    total, inclusive = 0, {}
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        count = int(count)
        total += count
        for frame in set(stack.split(";")):
            if not project_only or any(f"({place}" in frame for place in PROJECT):
                inclusive[frame] = inclusive.get(frame, 0) + count
    ranked = sorted(inclusive.items(), key=lambda item: -item[1])[:top]
    return [(count / total, frame) for frame, count in ranked]


# CPU accounting: where a run's processor time went ----------------------------------------------

_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_s(pid):
    """User + system CPU seconds of a live process (0 when it has gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime


def children(pid):
    """The PIDs of a process's children (gunicorn's workers, celery's pool)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rpartition(")")[2].split()
            except OSError:
                continue
            if int(stat[1]) == pid:
                found.append(int(entry.name))
    return found


def postgres_backends():
    """A callable giving the PIDs of the PostgreSQL backends connected to the benchmark's database
    other than this process's own (the servers' and workers' connections). It reads process
    titles in /proc ("postgres: <user> <database> <client>"), so it may be called from any
    thread."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid(), current_database()")
        own, database = cursor.fetchone()
    marker = f" {database} "

    def find():
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == own:
                continue
            try:
                title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except (OSError, UnicodeDecodeError):
                continue
            if title.startswith("postgres: ") and marker in title:
                found.append(int(entry.name))
        return found

    return find


class CpuMeter:
    """CPU seconds used by groups of processes between start() and stop(): {group: seconds}.
    Groups are {name: callable returning PIDs}, called at start and every SAMPLE_S after (a
    process that comes later counts from its start; one that ends keeps what it had used at the
    last sample, e.g. a database connection recycled by a worker). Reads /proc (Linux)."""

    SAMPLE_S = 0.5

    def __init__(self, groups):
        self.groups = groups
        self.first, self.last = {}, {}  # (group, pid): CPU seconds
        self._stop = threading.Event()
        self._thread = None

    def _sample(self, *, initial=False):
        for name, find in self.groups.items():
            for pid in find():
                used = cpu_s(pid)
                if not used:
                    continue
                key = (name, pid)
                self.first.setdefault(key, used if initial else 0.0)
                self.last[key] = max(used, self.last.get(key, 0.0))

    def _run(self):
        while not self._stop.wait(self.SAMPLE_S):
            self._sample()

    def start(self):
        self._sample(initial=True)
        self.machine = _machine_busy_s()
        self.wall = time.perf_counter()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self):
        self._stop.set()
        self._thread.join()
        self._sample()
        wall = time.perf_counter() - self.wall
        used = dict.fromkeys(self.groups, 0.0)
        for (name, pid), last in self.last.items():
            used[name] += last - self.first[(name, pid)]
        used = {name: round(seconds, 2) for name, seconds in used.items()}
        # Everything the machine did meanwhile (other people's tests included), of
        # os.cpu_count() * wall seconds available.
        used["machine"] = round(_machine_busy_s() - self.machine, 2)
        return {"wall_s": round(wall, 2), "cores": os.cpu_count(), "cpu_s": used}


def _machine_busy_s():
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return 0.0
    values = [int(value) for value in fields]
    idle = values[3] + values[4]  # idle, iowait
    return (sum(values[:8]) - idle) / _TICKS
