"""With the broker down, enqueueing fails at once rather than holding the request (found by the
soak: during a Redis outage each driver step spent 1-2 s in Celery's publish retries, and the
web workers' capacity went with it)."""

import socket
import threading
from contextlib import contextmanager

import pytest
from kombu.exceptions import OperationalError

from lastmile.tasks import send_message
from tracking.celery import app


@contextmanager
def broker_that_hangs_up():
    """A broker address whose every connection is closed at once (Redis going down); yields the
    address and the list its connections are counted in (complete once the context exits)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    connections = []

    def accept():
        while True:
            try:
                connection, _address = server.accept()
            except OSError:  # the listening socket was shut down
                return
            connections.append(connection)
            connection.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"redis://127.0.0.1:{server.getsockname()[1]}/0", connections
    finally:
        server.shutdown(socket.SHUT_RDWR)
        server.close()
        thread.join(timeout=5)


def test_an_enqueue_with_the_broker_down_fails_at_once(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    with (
        broker_that_hangs_up() as (broker, connections),
        app.connection_for_write(broker) as connection,
        pytest.raises(OperationalError),
    ):
        send_message.apply_async((1,), connection=connection)
    # One try and one immediate retry; Celery's default policy makes four over 0.6 s.
    assert len(connections) == 2


def test_an_enqueue_retries_once_to_reconnect():
    policy = app.conf.task_publish_retry_policy
    assert policy["max_retries"] == 1
    assert policy["interval_start"] == policy["interval_max"] == 0
