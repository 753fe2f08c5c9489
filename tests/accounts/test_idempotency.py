"""Idempotency-Key records commit with their request's writes, so a request that dies half-way
leaves no record behind and its retry runs (found by the soak: a PostgreSQL restart left keys
"in progress" and the phones that held them got 409 on every retry)."""

from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.db import OperationalError, connection, connections
from django.utils import timezone
from ninja.testing import TestClient

from accounts.idempotency import HEADER, idempotent
from accounts.models import IdempotencyKey
from tests.conftest import require
from tracking.api import build_api


def _probe_api(work):
    """A one-operation API whose write is `work(request)`, behind @idempotent."""
    api = build_api(title="probe", version="test", urls_namespace="idempotency-probe")

    @api.post("/things")
    @idempotent(lambda request: "probe")
    def create_thing(request):
        return work(request)

    return TestClient(api)


def _write_row(name):
    Session.objects.create(
        session_key=name, session_data="x", expire_date=timezone.now() + timedelta(days=1)
    )


@pytest.mark.django_db
def test_a_request_that_fails_after_writing_leaves_neither_its_writes_nor_its_key():
    calls = []

    def work(request):
        calls.append(1)
        _write_row(f"thing-{len(calls)}")
        if len(calls) == 1:
            raise RuntimeError("the process died here")
        return {"calls": len(calls)}

    client = _probe_api(work)
    with pytest.raises(RuntimeError):
        client.post("/things", headers={HEADER: "k-1"})
    assert not Session.objects.exists()
    assert not IdempotencyKey.objects.exists()

    response = client.post("/things", headers={HEADER: "k-1"})
    assert response.status_code == 200 and response.json() == {"calls": 2}
    assert list(Session.objects.values_list("session_key", flat=True)) == ["thing-2"]
    # A repeat of the one that went through replays it.
    assert client.post("/things", headers={HEADER: "k-1"}).json() == {"calls": 2}
    assert len(calls) == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_request_cut_off_by_a_database_restart_can_be_retried():
    require(connection.vendor == "postgresql", "PostgreSQL (set DATABASE_URL)")
    calls = []

    def work(request):
        calls.append(1)
        _write_row(f"thing-{len(calls)}")
        if len(calls) == 1:
            # What a restart does to the request's session: the server ends it mid-request, so
            # nothing after this point (the cleanup of a failure included) reaches the database.
            backend_pid = connection.cursor().connection.info.backend_pid
            other = connections.create_connection("default")
            try:
                other.cursor().execute("SELECT pg_terminate_backend(%s)", [backend_pid])
            finally:
                other.close()
            Session.objects.count()
        return {"calls": len(calls)}

    client = _probe_api(work)
    with pytest.raises(OperationalError):
        client.post("/things", headers={HEADER: "k-1"})
    # The next request starts on a new connection (CONN_HEALTH_CHECKS does this in production).
    connection.close()

    response = client.post("/things", headers={HEADER: "k-1"})
    assert response.status_code == 200, response.json()
    assert response.json() == {"calls": 2}
    assert list(Session.objects.values_list("session_key", flat=True)) == ["thing-2"]
    assert IdempotencyKey.objects.get().status_code == 200
