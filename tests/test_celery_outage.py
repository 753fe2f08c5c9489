"""With the broker down, enqueueing fails at once rather than holding the request (found by the
soak: during a Redis outage each driver step spent 1-2 s in Celery's publish retries, and the
web workers' capacity went with it)."""

import socket
import time

import pytest
from kombu.exceptions import OperationalError

from lastmile.tasks import send_message
from tracking.celery import app


def _closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_enqueue_with_the_broker_down_fails_at_once(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    broker = f"redis://127.0.0.1:{_closed_port()}/0"
    with app.connection_for_write(broker) as connection:
        started = time.monotonic()
        with pytest.raises(OperationalError):
            send_message.apply_async((1,), connection=connection)
        elapsed = time.monotonic() - started
    # Celery's default policy takes 0.6 s here (three retries, 0.2 s apart).
    assert elapsed < 0.3, elapsed


def test_an_enqueue_retries_once_to_reconnect():
    policy = app.conf.task_publish_retry_policy
    assert policy["max_retries"] == 1
    assert policy["interval_start"] == policy["interval_max"] == 0
