"""Shared fixtures: personas, a live browser on Debian's Chromium, a real Celery worker.

Tests that need PostgreSQL, Redis or the browser skip on a developer's machine without them and
fail on CI (CI=true), where they must run.
"""

import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from accounts.models import Role
from benchmarks._server import database_url
from tests.factories import PASSWORD, AccountFactory, UserFactory
from tracking.lib import sms

# Playwright's sync API runs an event loop in the test thread; the ORM calls in browser tests are
# still synchronous and safe there (the live server runs in its own thread).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ON_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def require(condition, reason):
    """Skips the test when condition is false, or fails it on CI where everything must run."""
    if condition:
        return
    if ON_CI:
        pytest.fail(f"required on CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _test_defaults(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.SMS_BACKEND = "tracking.lib.sms.LocmemBackend"
    settings.AXES_ENABLED = True
    # Hashing with a fast hasher keeps tests quick; production keeps Django's default.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    sms.outbox.clear()
    yield
    sms.outbox.clear()


# Personas -----------------------------------------------------------------------------------------


@pytest.fixture
def account_a(db):
    return AccountFactory(slug="acme", name="Acme Entregas")


@pytest.fixture
def account_b(db):
    return AccountFactory(slug="rival", name="Rival Logística")


@pytest.fixture
def manager_a(account_a):
    return UserFactory(account=account_a, role=Role.MANAGER, email="manager@acme.test")


@pytest.fixture
def operator_a(account_a):
    return UserFactory(account=account_a, role=Role.OPERATOR, email="operator@acme.test")


@pytest.fixture
def manager_b(account_b):
    return UserFactory(account=account_b, role=Role.MANAGER, email="manager@rival.test")


@pytest.fixture
def client_of(client):
    """client_of(user): the test client logged in as that user."""

    def log_in(user):
        client.force_login(user)
        return client

    return log_in


@pytest.fixture
def password():
    return PASSWORD


# Real services ------------------------------------------------------------------------------------


@pytest.fixture
def postgres(db):
    require(connection.vendor == "postgresql", "PostgreSQL (set DATABASE_URL)")
    return connection


@pytest.fixture
def redis_url():
    require(bool(settings.REDIS_URL), "Redis (set REDIS_URL)")
    return settings.REDIS_URL


@pytest.fixture
def celery_worker(transactional_db, redis_url, settings, tmp_path):
    """A real `celery worker` process on PostgreSQL's test database and Redis, on its own queue.

    Yields a namespace with the queue name and the folder where its e-mails are written.
    """
    require(connection.vendor == "postgresql", "PostgreSQL (the worker shares the test database)")
    queue = f"test-{uuid.uuid4().hex[:12]}"
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_TASK_DEFAULT_QUEUE = queue
    mail_dir = tmp_path / "mail"
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "REDIS_URL": redis_url,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(mail_dir),
        "CONN_MAX_AGE": "0",
        # Files the worker writes (exports) land where the test reads them.
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
    }
    hostname = f"{queue}@{socket.gethostname()}"
    log = open(tmp_path / "worker.log", "w")  # noqa: SIM115 - closed in teardown
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tracking",
            "worker",
            "--pool",
            "solo",
            "--queues",
            queue,
            "--hostname",
            hostname,
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    from tracking.celery import app

    try:
        deadline = time.monotonic() + 30
        while not app.control.ping(destination=[hostname], timeout=0.5):
            if process.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail(f"the worker did not start:\n{(tmp_path / 'worker.log').read_text()}")

        class Worker:
            pass

        worker = Worker()
        worker.queue = queue
        worker.mail_dir = mail_dir
        worker.log_path = tmp_path / "worker.log"
        yield worker
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


# Browser ------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser():
    require(Path(CHROMIUM).exists(), f"Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, live_server, tmp_path):
    context = browser.new_context(base_url=live_server.url, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    artifacts = os.environ.get("TEST_ARTIFACTS")
    if artifacts:
        Path(artifacts).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(artifacts) / f"{uuid.uuid4().hex[:8]}.png"), full_page=True)
    context.close()
