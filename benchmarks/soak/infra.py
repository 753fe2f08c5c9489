"""The soak's own servers: a PostgreSQL cluster and a Redis in a temporary directory, on ports of
their own, and the project's processes (gunicorn, Celery worker and beat, the fake providers),
each in its own process group so that it can be killed, restarted and torn down by its PID.

Nothing here touches the machine's shared PostgreSQL or Redis: the soak stops and restarts only
what it started.
"""

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import psycopg
import redis


def free_port():
    """A TCP port nobody listens on now (the kernel's choice; a race is possible but unlikely)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(check, *, timeout_s, interval_s=0.2, what="it"):
    """Calls check() until it returns a true value (returned) or timeout_s passes (TimeoutError)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            value = check()
        except Exception:  # the server is still coming up
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not ready after {timeout_s:.0f} s")
        time.sleep(interval_s)


def _postgres_bin():
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda path: int(path.parent.parent.name) if path.parent.parent.name.isdigit() else 0,
    )
    if not versions:
        found = shutil.which("initdb")
        if not found:
            raise RuntimeError("PostgreSQL's initdb was not found (/usr/lib/postgresql/*/bin)")
        return Path(found).parent
    return versions[-1].parent


class Postgres:
    """A throw-away PostgreSQL cluster: trust authentication on 127.0.0.1 only. initdb refuses to
    run as root, so as root every server command runs as the `postgres` OS user."""

    def __init__(self, root, port):
        self.bin = _postgres_bin()
        self.root = Path(root)
        self.data = self.root / "pgdata"
        self.sockets = self.root / "pgsock"
        self.log = self.root / "postgres.log"
        self.port = port
        self.as_user = os.geteuid() == 0

    @property
    def url(self):
        return f"postgres://postgres@127.0.0.1:{self.port}/soak"

    def _run(self, *args, check=True, timeout=120):
        command = [str(self.bin / args[0]), *args[1:]]
        if self.as_user:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(
            command, check=check, timeout=timeout, capture_output=True, text=True, cwd="/"
        )

    def init(self):
        for path in (self.data, self.sockets):
            path.mkdir(parents=True)
        self.log.touch()
        if self.as_user:
            user = pwd.getpwnam("postgres")
            for path in (self.data, self.sockets, self.log):
                os.chown(path, user.pw_uid, user.pw_gid)
            self.root.chmod(0o755)  # postgres must reach its directories
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-instructions",
        )
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.sockets}'\nmax_connections = 80\n"
                "shared_buffers = 128MB\nlog_min_messages = warning\n"
            )

    def start(self):
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start")
        wait_until(self.ready, timeout_s=30, what="PostgreSQL")

    def stop(self, mode="fast"):
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop", check=False)

    def restart(self):
        """An operator's restart: fast shutdown (every session is ended), then start."""
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-m",
            "fast",
            "-w",
            "-t",
            "60",
            "restart",
        )
        wait_until(self.ready, timeout_s=30, what="PostgreSQL")

    def ready(self):
        with psycopg.connect(self._dsn("postgres"), connect_timeout=2) as conn:
            return conn.execute("SELECT 1").fetchone()[0] == 1

    def create_database(self):
        with psycopg.connect(self._dsn("postgres"), autocommit=True) as conn:
            conn.execute("CREATE DATABASE soak")

    def connect(self):
        return psycopg.connect(self._dsn("soak"), autocommit=True, connect_timeout=3)

    def _dsn(self, name):
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={name}"

    def postmaster(self):
        """The server's PID. (Each backend is a process group of its own: the CPU sampler counts
        the postmaster's children.)"""
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def teardown(self):
        """Stops the cluster whatever its state: fast, then immediate, then SIGKILL by its PID."""
        pid_file = self.data / "postmaster.pid"
        if not pid_file.exists():
            return
        self.stop("fast")
        if pid_file.exists():
            self.stop("immediate")
        if pid_file.exists():
            try:
                pid = int(pid_file.read_text().split()[0])
                os.kill(pid, signal.SIGKILL)
            except (ValueError, IndexError, ProcessLookupError):
                pass


class Redis:
    """A throw-away Redis without persistence: stopped and started again it comes back empty,
    which is the harder case for the app (every task queued in it is gone)."""

    def __init__(self, root, port):
        self.root = Path(root)
        self.port = port
        self.process = None
        self.log = self.root / "redis.log"

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.process = Process(
            "redis",
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.root),
                "--protected-mode",
                "yes",
            ],
            log=self.log,
        )
        self.process.start()
        wait_until(self.ready, timeout_s=15, what="Redis")

    def ready(self):
        client = redis.Redis(port=self.port, socket_connect_timeout=1)
        try:
            return client.ping()
        finally:
            client.close()

    def stop(self):
        if self.process is not None:
            self.process.stop()

    def teardown(self):
        self.stop()


class Process:
    """A child process in its own process group (start_new_session), its output in a log file.
    stop() sends SIGTERM to the group, then SIGKILL; kill() sends SIGKILL at once."""

    def __init__(self, name, command, *, log, env=None, cwd=None):
        self.name = name
        self.command = command
        self.log = Path(log)
        self.env = env
        self.cwd = cwd
        self.popen = None

    @property
    def pid(self):
        return self.popen.pid if self.popen else None

    def start(self):
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(
                self.command,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
            )
        return self

    def alive(self):
        return self.popen is not None and self.popen.poll() is None

    def children(self):
        """The PIDs of the process's direct children (a prefork pool's processes)."""
        path = Path(f"/proc/{self.pid}/task/{self.pid}/children")
        try:
            return [int(pid) for pid in path.read_text().split()]
        except (FileNotFoundError, ProcessLookupError, ValueError):
            return []

    def signal_group(self, signum):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signum)

    def kill(self):
        """SIGKILL to the whole group: the process and its children die at once."""
        if self.popen is None:
            return
        self.signal_group(signal.SIGKILL)
        self.popen.wait(timeout=30)

    def stop(self, timeout_s=15):
        if self.popen is None:
            return
        if self.popen.poll() is None:
            self.signal_group(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=timeout_s)
        # Whatever is left of the group (a pool process that outlived its parent) goes too.
        self.signal_group(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=10)

    def wait(self, timeout_s):
        return self.popen.wait(timeout=timeout_s)


class CpuSampler:
    """Where the machine's CPU went during the run: every few seconds, the CPU time of each of
    the soak's processes (by name) and of the whole machine, and the load average. A process
    that dies between two samples loses at most one interval's time.

    `groups` maps a name to a function giving a process group's id (the process and all its
    descendants in that group) and `trees` maps a name to one giving a PID (the process and its
    children, for servers whose children leave the group, as PostgreSQL's backends do)."""

    def __init__(self, groups, trees=None, interval_s=5):
        self.groups = groups
        self.trees = trees or {}
        self.interval_s = interval_s
        self.ticks = {}  # pid -> [name, first, last]
        self.machine = None
        self.loadavg = []
        # (epoch, the machine's busy CPU seconds, the soak's CPU seconds) at each sample.
        self.series = []
        self._stop = None
        self._thread = None

    @staticmethod
    def _stat(pid):
        """(process group, parent, CPU ticks of the process itself) of a PID."""
        text = Path(f"/proc/{pid}/stat").read_text()
        fields = text[text.rindex(")") + 2 :].split()
        # After the command: state(0) ppid(1) pgrp(2) ... utime(11) stime(12). The children's
        # times (cutime, cstime) are left out: each child is counted on its own.
        return int(fields[2]), int(fields[1]), int(fields[11]) + int(fields[12])

    @staticmethod
    def _ids(functions):
        ids = {}
        for name, function in functions.items():
            try:
                value = function()
            except Exception:  # a server between a stop and a start
                value = None
            if value:
                ids[value] = name
        return ids

    @staticmethod
    def _machine():
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
        values = [int(value) for value in fields]
        idle = values[3] + values[4]  # idle + iowait
        return sum(values[:8]) - idle

    def sample(self):
        groups, trees = self._ids(self.groups), self._ids(self.trees)
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                group, parent, ticks = self._stat(entry.name)
            except (OSError, ValueError, IndexError):
                continue
            name = groups.get(group) or trees.get(int(entry.name)) or trees.get(parent)
            if name is None:
                continue
            known = self.ticks.get(entry.name)
            if known is None or known[0] != name:
                # Born since the first sample: all of its time is the run's.
                first = ticks if self.machine is None else 0
                self.ticks[entry.name] = [name, first, ticks]
            else:
                known[2] = ticks
        busy = self._machine()
        if self.machine is None:
            self.machine = [busy, busy]
        self.machine[1] = busy
        self.loadavg.append(float(Path("/proc/loadavg").read_text().split()[0]))
        hertz = os.sysconf("SC_CLK_TCK")
        ours = sum(last - first for _name, first, last in self.ticks.values())
        self.series.append((time.time(), busy / hertz, ours / hertz))

    def start(self):
        self._stop = threading.Event()
        self.sample()

        def run():
            while not self._stop.wait(self.interval_s):
                self.sample()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=30)
        self.sample()
        hertz = os.sysconf("SC_CLK_TCK")
        by_name = {}
        for name, first, last in self.ticks.values():
            by_name[name] = by_name.get(name, 0) + (last - first) / hertz
        ours = sum(by_name.values())
        machine = (self.machine[1] - self.machine[0]) / hertz
        return {
            "cpu_s": {name: round(seconds, 1) for name, seconds in sorted(by_name.items())},
            "machine_cpu_s": round(machine, 1),
            "others_cpu_s": round(max(0.0, machine - ours), 1),
            "loadavg_mean": round(sum(self.loadavg) / len(self.loadavg), 2),
            "loadavg_max": max(self.loadavg),
            "series": [
                [round(t, 1), round(busy, 2), round(ours, 2)] for t, busy, ours in self.series
            ],
        }
