"""Outgoing webhooks: signed deliveries to a local receiver, retries, auto-disable, the admin."""

import json
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from services import actions, tasks, webhooks
from services.actions import Actor
from services.models import EventKind, ServiceEvent, ServiceStatus
from services.webhook_models import (
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEventType,
    validate_webhook_url,
)
from tests.factories import CustomerFactory, ServiceFactory, UserFactory

pytestmark = pytest.mark.django_db
S = ServiceStatus


# A local receiver ---------------------------------------------------------------------------------


class Receiver:
    """An HTTP server on 127.0.0.1 that records every request and answers as told."""

    def __init__(self):
        self.requests = []
        self.status = 200
        self.delay_s = 0
        self.headers = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": body}
                )
                if receiver.delay_s:
                    time.sleep(receiver.delay_s)
                self.send_response(receiver.status)
                for name, value in receiver.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "13")
                self.end_headers()
                self.wfile.write(b"receiver says")

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass  # the client hung up (timeout tests): nothing to report

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def wait_for(self, count, timeout_s):
        deadline = time.monotonic() + timeout_s
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.requests


@pytest.fixture(autouse=True)
def _local_receivers_allowed(settings):
    # The test receivers listen on 127.0.0.1, which production refuses.
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = True


@pytest.fixture
def receiver():
    receiver = Receiver()
    receiver.thread.start()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


def make_endpoint(account, url, **fields):
    endpoint = WebhookEndpoint(account=account, url=url, **fields)
    endpoint.full_clean()
    endpoint.save()
    return endpoint


@pytest.fixture
def endpoint(account_a, receiver):
    return make_endpoint(account_a, f"{receiver.url}/hook", description="ERP")


@pytest.fixture
def run(django_capture_on_commit_callbacks):
    """run(fn, ...): calls fn and then the on-commit hooks it queued (and theirs), as a commit
    would: events are dispatched, deliveries enqueued (eagerly sent), e-mails queued."""

    def call(fn, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return fn(*args, **kwargs)

    return call


def change_status(run, service, to_status):
    return run(actions.service_change_status, service=service, to_status=to_status, actor=SYSTEM)


SYSTEM = Actor.system()


def sweep(run):
    return run(tasks.send_due_webhooks.delay).get()


def make_due(delivery):
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )


def seconds_until(moment):
    return (moment - timezone.now()).total_seconds()


# Signed deliveries --------------------------------------------------------------------------------


def test_a_status_change_is_delivered_signed(account_a, endpoint, receiver, run):
    service = ServiceFactory(account=account_a, external_id="ERP-1")
    change_status(run, service, S.ROUTED)

    [request] = receiver.requests
    headers, body = request["headers"], request["body"]
    assert request["path"] == "/hook"
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"] == "LastMile-Webhooks/1"
    assert headers["X-LastMile-Event"] == "service.status_changed"
    timestamp, signature = headers["X-LastMile-Timestamp"], headers["X-LastMile-Signature"]
    assert signature.startswith("v1=")
    assert abs(int(timestamp) - time.time()) < 10
    assert webhooks.verify_signature(endpoint.secret, body, timestamp, signature)

    payload = json.loads(body)
    delivery = WebhookDelivery.objects.get()
    assert payload["id"] == headers["X-LastMile-Delivery"] == str(delivery.uuid)
    assert payload["type"] == "service.status_changed"
    event = payload["data"]["event"]
    assert (event["kind"], event["from"], event["to"]) == ("status", "pending", "routed")
    assert event["id"] == service.events.get().pk
    assert event["actor_type"] == "system"
    assert payload["data"]["service"] == {
        "id": service.pk,
        "external_id": "ERP-1",
        "order_number": service.order_number,
        "status": "routed",
        "tracking_url": service.tracking_url,
        "updated_at": payload["data"]["service"]["updated_at"],
    }

    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert (delivery.attempts, delivery.last_status_code, delivery.last_error) == (1, 200, "")
    assert delivery.response_ms is not None and delivery.delivered_at is not None
    assert delivery.next_attempt_at is None
    assert delivery.event.kind == EventKind.STATUS and delivery.account_id == account_a.pk


def test_a_receiver_rejects_a_tampered_body_an_old_timestamp_or_another_secret(
    account_a, endpoint, receiver, run
):
    change_status(run, ServiceFactory(account=account_a), S.ROUTED)
    [request] = receiver.requests
    body = request["body"]
    timestamp = int(request["headers"]["X-LastMile-Timestamp"])
    signature = request["headers"]["X-LastMile-Signature"]
    verify = webhooks.verify_signature

    assert verify(endpoint.secret, body, timestamp, signature)
    assert not verify(endpoint.secret, body.replace(b"routed", b"done__"), timestamp, signature)
    assert not verify("whsec_another", body, timestamp, signature)
    # The timestamp is signed too: moving it invalidates the signature...
    assert not verify(endpoint.secret, body, timestamp + 1, signature)
    # ...and an intercepted request replayed over five minutes later is refused.
    assert verify(endpoint.secret, body, timestamp, signature, now=timestamp + 300)
    assert not verify(endpoint.secret, body, timestamp, signature, now=timestamp + 301)
    assert not verify(endpoint.secret, body, timestamp, signature, now=timestamp - 301)


def test_verify_signature_edge_cases():
    secret, body, now = "whsec_x", b'{"a":1}', 1_700_000_000
    good = webhooks.signature_header(secret, now, body)
    assert webhooks.verify_signature(secret, body.decode(), str(now), good, now=now)
    assert webhooks.verify_signature(secret, body, now, f"v1=deadbeef, {good}", now=now)
    assert webhooks.verify_signature(
        secret, body, now, good, now=datetime.fromtimestamp(now, tz=UTC)
    )
    for timestamp, signature in [
        ("soon", good),
        (None, good),
        (now, ""),
        (now, None),
        (now, good.removeprefix("v1=")),
        (now, good.replace("v1=", "v0=")),
    ]:
        assert not webhooks.verify_signature(secret, body, timestamp, signature, now=now)


# Which endpoints get what -------------------------------------------------------------------------


def test_endpoints_get_only_the_event_types_they_want(account_a, receiver, run):
    everything = make_endpoint(account_a, f"{receiver.url}/all")
    created_only = make_endpoint(
        account_a, f"{receiver.url}/created", event_types=[WebhookEventType.CREATED]
    )
    customer = CustomerFactory(account=account_a)
    service = run(
        actions.service_create, account=account_a, actor=SYSTEM, values={"customer": customer}
    )
    change_status(run, service, S.ROUTED)

    paths = sorted((r["path"], r["headers"]["X-LastMile-Event"]) for r in receiver.requests)
    assert paths == [
        ("/all", "service.created"),
        ("/all", "service.status_changed"),
        ("/created", "service.created"),
    ]
    assert everything.deliveries.count() == 2
    assert created_only.deliveries.get().event_type == "service.created"


def test_inactive_endpoints_and_other_accounts_get_nothing(
    account_a, account_b, receiver, endpoint, run
):
    make_endpoint(account_a, f"{receiver.url}/off", is_active=False)
    make_endpoint(account_b, f"{receiver.url}/rival")
    change_status(run, ServiceFactory(account=account_a), S.ROUTED)
    assert [r["path"] for r in receiver.requests] == ["/hook"]
    assert WebhookDelivery.objects.get().endpoint == endpoint


def test_no_endpoint_means_no_delivery_and_few_queries(
    account_a, receiver, run, django_assert_max_num_queries
):
    service = ServiceFactory(account=account_a)
    actions.service_change_status(service=service, to_status=S.ROUTED, actor=SYSTEM)
    event = service.events.get()
    assert webhooks.webhook_deliveries_create(event_id=event.pk) == []
    for n in range(3):
        make_endpoint(account_a, f"{receiver.url}/{n}")
    # The event, the account's endpoints, one insert, the ids: however many endpoints.
    with django_assert_max_num_queries(4):
        ids = webhooks.webhook_deliveries_create(event_id=event.pk)
    assert len(ids) == 3


def test_a_redispatched_event_creates_no_second_delivery(account_a, endpoint, receiver, run):
    service = ServiceFactory(account=account_a)
    change_status(run, service, S.ROUTED)
    event = service.events.get()
    assert len(receiver.requests) == 1

    # The event is dispatched again (a sweep after a lost commit hook, a second receiver call).
    ServiceEvent.objects.filter(pk=event.pk).update(dispatched_at=None)
    assert run(actions.service_event_dispatch, event_id=event.pk) is True
    run(webhooks.on_service_event_recorded, sender=ServiceEvent, event_id=event.pk, account_id=0)

    assert WebhookDelivery.objects.count() == 1
    assert len(receiver.requests) == 1


def test_a_delivery_is_never_sent_twice(account_a, endpoint, receiver, run):
    change_status(run, ServiceFactory(account=account_a), S.ROUTED)
    delivery = WebhookDelivery.objects.get()
    # A duplicate message for a delivery already made, even once "due" again, sends nothing.
    make_due(delivery)
    assert tasks.deliver_webhook.delay(delivery.pk).get() is None
    assert len(receiver.requests) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SUCCEEDED, 1)


def test_an_attempt_in_flight_is_not_made_again_until_its_lease_expires(
    account_a, endpoint, receiver, run
):
    service = ServiceFactory(account=account_a)
    # The event is recorded and dispatched, but the enqueued task is lost with its worker.
    run(actions.service_change_status, service=service, to_status=S.ROUTED, actor=SYSTEM)
    delivery = WebhookDelivery.objects.get()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.PENDING,
        attempts=1,
        next_attempt_at=timezone.now() + timedelta(seconds=webhooks.LEASE_S),
    )
    # Another worker gets the same message while the first is still sending.
    assert tasks.deliver_webhook.delay(delivery.pk).get() is None
    assert sweep(run) == 0
    make_due(delivery)  # the lease ran out: the worker is gone
    assert sweep(run) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SUCCEEDED, 2)
    assert len(receiver.requests) == 2
    # Both carry the same delivery id, so the receiver can tell it saw it already.
    assert len({r["headers"]["X-LastMile-Delivery"] for r in receiver.requests}) == 1


def test_a_lost_first_enqueue_is_picked_up_by_the_sweep(account_a, endpoint, receiver):
    service = ServiceFactory(account=account_a)
    actions.service_change_status(service=service, to_status=S.ROUTED, actor=SYSTEM)
    # Dispatched, but the commit hook that enqueues the delivery never ran (broker down).
    actions.service_event_dispatch(event_id=service.events.get().pk)
    assert receiver.requests == []
    assert tasks.send_due_webhooks.delay().get() == 1
    assert len(receiver.requests) == 1


# Failures, retries, disabling ---------------------------------------------------------------------


def test_a_failing_receiver_is_retried_with_backoff_then_given_up(
    account_a, endpoint, receiver, run, monkeypatch
):
    monkeypatch.setattr(webhooks, "MAX_ATTEMPTS", 4)
    receiver.status = 500
    change_status(run, ServiceFactory(account=account_a), S.ROUTED)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED
    assert (delivery.attempts, delivery.last_status_code) == (1, 500)
    assert delivery.last_error == "HTTP 500 Internal Server Error: receiver says"
    assert 25 < seconds_until(delivery.next_attempt_at) <= 30

    # Not due yet: the sweep leaves it alone.
    assert sweep(run) == 0
    assert len(receiver.requests) == 1

    for attempt, wait_s in [(2, 120), (3, 600)]:
        make_due(delivery)
        assert sweep(run) == 1
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts) == (DeliveryStatus.FAILED, attempt)
        assert wait_s - 5 < seconds_until(delivery.next_attempt_at) <= wait_s

    make_due(delivery)
    sweep(run)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.GIVING_UP, 4)
    assert delivery.next_attempt_at is None and delivery.delivered_at is None
    assert sweep(run) == 0
    assert len(receiver.requests) == 4
    # Every attempt is signed afresh, and carries the same delivery id.
    for request in receiver.requests:
        headers = request["headers"]
        assert webhooks.verify_signature(
            endpoint.secret,
            request["body"],
            headers["X-LastMile-Timestamp"],
            headers["X-LastMile-Signature"],
        )
    assert {r["headers"]["X-LastMile-Delivery"] for r in receiver.requests} == {str(delivery.uuid)}
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 1 and endpoint.is_active


def test_the_backoff_schedule_is_the_documented_one():
    assert [webhooks.backoff_s(n) for n in range(1, 8)] == [
        30, 120, 600, 3600, 21600, 21600, 21600,
    ]  # fmt: skip
    assert webhooks.MAX_ATTEMPTS == 6 and webhooks.DISABLE_AFTER_FAILURES == 10


def test_after_repeated_failures_the_endpoint_is_disabled_and_managers_told(
    account_a, manager_a, operator_a, manager_b, endpoint, receiver, run, monkeypatch, mailoutbox
):
    monkeypatch.setattr(webhooks, "MAX_ATTEMPTS", 1)
    monkeypatch.setattr(webhooks, "DISABLE_AFTER_FAILURES", 2)
    second_manager = UserFactory(account=account_a, role=Role.MANAGER, email="boss@acme.test")
    UserFactory(account=account_a, role=Role.MANAGER, email="gone@acme.test", is_active=False)
    receiver.status = 503
    service = ServiceFactory(account=account_a)

    change_status(run, service, S.ROUTED)
    endpoint.refresh_from_db()
    assert (endpoint.consecutive_failures, endpoint.is_active) == (1, True)
    assert mailoutbox == []

    change_status(run, service, S.PENDING)
    endpoint.refresh_from_db()
    assert (endpoint.consecutive_failures, endpoint.is_active) == (2, False)
    assert endpoint.disabled_at is not None
    assert "2 deliveries in a row failed" in endpoint.disabled_reason
    assert "HTTP 503" in endpoint.disabled_reason
    assert sorted(m.to[0] for m in mailoutbox) == sorted([manager_a.email, second_manager.email])
    message = mailoutbox[0]
    assert len(message.to) == 1
    assert endpoint.url in message.subject
    assert endpoint.url in message.body and "HTTP 503" in message.body
    link = reverse("admin:services_webhookendpoint_change", args=[endpoint.pk])
    assert link in message.body and "Re-enable" in message.body

    # A disabled endpoint gets nothing more.
    change_status(run, service, S.ROUTED)
    assert len(receiver.requests) == 2
    assert endpoint.deliveries.count() == 2

    # Re-enabled (after a fix), it starts over.
    receiver.status = 200
    webhooks.webhook_endpoint_enable(endpoint=endpoint)
    endpoint.refresh_from_db()
    assert endpoint.is_active and endpoint.consecutive_failures == 0 and not endpoint.disabled_at
    change_status(run, service, S.PENDING)
    assert endpoint.deliveries.filter(status=DeliveryStatus.SUCCEEDED).count() == 1


def test_a_success_resets_the_failure_count(account_a, endpoint, receiver, run, monkeypatch):
    monkeypatch.setattr(webhooks, "MAX_ATTEMPTS", 1)
    receiver.status = 500
    service = ServiceFactory(account=account_a)
    change_status(run, service, S.ROUTED)
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 1
    receiver.status = 204
    change_status(run, service, S.PENDING)
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 0


def test_deliveries_queued_before_the_endpoint_was_disabled_are_given_up_unsent(
    account_a, endpoint, receiver, run
):
    service = ServiceFactory(account=account_a)
    receiver.status = 500
    change_status(run, service, S.ROUTED)
    delivery = WebhookDelivery.objects.get()
    webhooks.webhook_endpoint_disable(endpoint=endpoint, reason="by hand")
    make_due(delivery)
    sweep(run)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.GIVING_UP
    assert delivery.last_error == "The endpoint is disabled."
    assert len(receiver.requests) == 1


def test_a_receiver_that_times_out_counts_as_a_failure(
    account_a, endpoint, receiver, run, monkeypatch
):
    monkeypatch.setattr(webhooks, "TIMEOUT_S", 0.3)
    receiver.delay_s = 1.5
    started = time.monotonic()
    change_status(run, ServiceFactory(account=account_a), S.ROUTED)
    assert time.monotonic() - started < 1.4
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.last_status_code is None
    assert delivery.last_error == "No answer within 0.3 s."
    assert delivery.next_attempt_at is not None


def test_redirects_are_not_followed_and_count_as_failures(account_a, endpoint, receiver, run):
    receiver.status = 301
    receiver.headers = {"Location": "http://169.254.169.254/latest/meta-data/"}
    change_status(run, ServiceFactory(account=account_a), S.ROUTED)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.last_status_code == 301
    assert "redirects are not followed" in delivery.last_error
    assert len(receiver.requests) == 1


def test_an_unreachable_receiver_counts_as_a_failure(account_a, run):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    make_endpoint(account_a, f"http://127.0.0.1:{port}/hook?token=do-not-log")
    change_status(run, ServiceFactory(account=account_a), S.ROUTED)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.last_error.startswith("Could not connect")
    assert "do-not-log" not in delivery.last_error


# Pings, validation, housekeeping ------------------------------------------------------------------


def test_a_test_ping_is_one_attempt_and_leaves_the_failure_count_alone(
    account_a, endpoint, receiver, run
):
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(is_active=False, consecutive_failures=7)
    endpoint.refresh_from_db()
    receiver.status = 500
    delivery = run(webhooks.webhook_endpoint_ping, endpoint=endpoint)
    delivery.refresh_from_db()
    [request] = receiver.requests
    assert request["headers"]["X-LastMile-Event"] == "ping"
    assert json.loads(request["body"])["data"]["endpoint"]["id"] == endpoint.pk
    assert (delivery.status, delivery.event) == (DeliveryStatus.GIVING_UP, None)
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 7
    # Pings have no event, so the one-delivery-per-event rule does not limit them.
    run(webhooks.webhook_endpoint_ping, endpoint=endpoint)
    assert endpoint.deliveries.count() == 2


@pytest.mark.parametrize(
    ("url", "debug", "valid"),
    [
        ("https://erp.example.com/hooks", False, True),
        ("http://erp.example.com/hooks", False, False),
        ("http://erp.example.com/hooks", True, True),
        ("http://localhost:8001/hooks", False, True),
        ("http://127.0.0.1:8001/hooks", False, True),
        ("http://[::1]:8001/hooks", False, True),
        ("https://user:pass@erp.example.com/hooks", False, False),
        ("ftp://erp.example.com/hooks", True, False),
        ("erp.example.com/hooks", True, False),
    ],
)
def test_webhook_urls_must_be_https_except_on_this_machine(settings, url, debug, valid):
    settings.DEBUG = debug
    if valid:
        validate_webhook_url(url)
    else:
        with pytest.raises(ValidationError):
            validate_webhook_url(url)


def test_event_types_must_be_known(account_a):
    make_endpoint(account_a, "https://erp.example.com/a", event_types=["service.created"])
    for wrong in (["service.deleted"], "service.created", [1]):
        with pytest.raises(ValidationError):
            make_endpoint(account_a, "https://erp.example.com/b", event_types=wrong)


def test_old_deliveries_are_purged(account_a, endpoint):
    def delivery(days_old):
        row = WebhookDelivery.objects.create(
            account=account_a, endpoint=endpoint, event_type="ping", payload={}
        )
        WebhookDelivery.objects.filter(pk=row.pk).update(
            created_at=timezone.now() - timedelta(days=days_old)
        )
        return row

    old, kept = delivery(31), delivery(29)
    assert tasks.purge_webhook_deliveries.delay().get() == 1
    assert list(WebhookDelivery.objects.values_list("pk", flat=True)) == [kept.pk]
    assert old.pk != kept.pk


def test_the_beat_schedule_sweeps_and_purges():
    from tracking.celery import app

    tasks_scheduled = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert "services.tasks.send_due_webhooks" in tasks_scheduled
    assert "services.tasks.purge_webhook_deliveries" in tasks_scheduled
    assert tasks.deliver_webhook.acks_late is True


# The web admin ------------------------------------------------------------------------------------


def admin_url(name, *args):
    return reverse(f"admin:services_{name}", args=args)


def test_a_manager_registers_an_endpoint_and_sees_its_secret(client_of, manager_a, receiver):
    client = client_of(manager_a)
    add = client.get(admin_url("webhookendpoint_add"))
    assert add.status_code == 200
    assert 'type="checkbox" name="event_types" value="service.status_changed"' in (
        add.content.decode()
    )
    response = client.post(
        admin_url("webhookendpoint_add"),
        {
            "url": f"{receiver.url}/hook",
            "description": "ERP",
            "event_types": ["service.created", "service.status_changed"],
            "is_active": "on",
        },
    )
    endpoint = WebhookEndpoint.objects.get()
    assert response.status_code == 302
    assert response.url == admin_url("webhookendpoint_change", endpoint.pk)
    assert endpoint.account == manager_a.account
    assert endpoint.event_types == ["service.created", "service.status_changed"]
    assert endpoint.secret.startswith("whsec_") and len(endpoint.secret) > 40
    page = client.get(response.url).content.decode()
    assert endpoint.secret in page
    assert "Nothing was sent yet." in page


def test_plain_http_to_another_host_is_refused_in_the_admin(client_of, manager_a):
    response = client_of(manager_a).post(
        admin_url("webhookendpoint_add"), {"url": "http://erp.example.com/hook"}
    )
    assert response.status_code == 200
    assert "url" in response.context["adminform"].form.errors
    assert not WebhookEndpoint.objects.exists()


def test_an_operator_views_but_cannot_change_nor_see_the_secret(client_of, operator_a, endpoint):
    endpoint.event_types = ["service.rescheduled"]
    endpoint.save()
    client = client_of(operator_a)
    assert client.get(admin_url("webhookendpoint_changelist")).status_code == 200
    page = client.get(admin_url("webhookendpoint_change", endpoint.pk))
    assert page.status_code == 200
    content = page.content.decode()
    assert endpoint.url in content
    assert endpoint.secret not in content
    assert 'name="event_types"' not in content
    assert "Service rescheduled" in content  # the events, by name
    assert 'name="_save"' not in content
    assert client.get(admin_url("webhookendpoint_add")).status_code == 403
    response = client.post(
        admin_url("webhookendpoint_change", endpoint.pk),
        {"url": "https://evil.example.com/", "is_active": "on"},
    )
    assert response.status_code == 403
    old_secret = endpoint.secret
    client.post(
        admin_url("webhookendpoint_changelist"),
        {"action": "rotate_secret", "_selected_action": [endpoint.pk]},
    )
    endpoint.refresh_from_db()
    assert endpoint.url.startswith("http://127.0.0.1") and endpoint.secret == old_secret


def test_an_outsider_gets_404(client_of, manager_b, endpoint, run, receiver, account_a):
    change_status(run, ServiceFactory(account=account_a), S.ROUTED)
    delivery = WebhookDelivery.objects.get()
    client = client_of(manager_b)
    for url in [
        admin_url("webhookendpoint_change", endpoint.pk),
        admin_url("webhookendpoint_delete", endpoint.pk),
        admin_url("webhookdelivery_change", delivery.pk),
    ]:
        assert client.get(url).status_code == 404, url
    listing = client.get(admin_url("webhookendpoint_changelist"))
    assert list(listing.context["cl"].result_list) == []
    run(
        client.post,
        admin_url("webhookendpoint_changelist"),
        {"action": "send_test_ping", "_selected_action": [endpoint.pk]},
    )
    assert len(receiver.requests) == 1
    assert WebhookDelivery.objects.count() == 1


def test_admin_actions_ping_rotate_and_reenable(client_of, manager_a, endpoint, receiver, run):
    client = client_of(manager_a)
    changelist = admin_url("webhookendpoint_changelist")

    def act(action):
        return run(client.post, changelist, {"action": action, "_selected_action": [endpoint.pk]})

    assert act("send_test_ping").status_code == 302
    assert [r["headers"]["X-LastMile-Event"] for r in receiver.requests] == ["ping"]

    old_secret = endpoint.secret
    act("rotate_secret")
    endpoint.refresh_from_db()
    assert endpoint.secret != old_secret and endpoint.secret.startswith("whsec_")

    webhooks.webhook_endpoint_disable(endpoint=endpoint, reason="kept failing")
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(consecutive_failures=10)
    act("reenable")
    endpoint.refresh_from_db()
    assert endpoint.is_active and endpoint.consecutive_failures == 0
    assert endpoint.disabled_at is None and endpoint.disabled_reason == ""

    # The change page shows the delivery log.
    page = client.get(admin_url("webhookendpoint_change", endpoint.pk)).content.decode()
    assert "ping" in page and "Succeeded" in page


def test_ticking_active_again_in_the_form_resets_the_failure_count(client_of, manager_a, endpoint):
    webhooks.webhook_endpoint_disable(endpoint=endpoint, reason="kept failing")
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(consecutive_failures=10)
    response = client_of(manager_a).post(
        admin_url("webhookendpoint_change", endpoint.pk),
        {"url": endpoint.url, "description": "ERP", "is_active": "on"},
    )
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.is_active and endpoint.consecutive_failures == 0
    assert endpoint.event_types == []


def test_a_manager_deletes_an_endpoint_with_its_log(client_of, manager_a, endpoint, receiver, run):
    change_status(run, ServiceFactory(account=manager_a.account), S.ROUTED)
    client = client_of(manager_a)
    url = admin_url("webhookendpoint_delete", endpoint.pk)
    confirm = client.get(url)
    assert confirm.status_code == 200
    assert not confirm.context["perms_lacking"]
    assert client.post(url, {"post": "yes"}).status_code == 302
    assert not WebhookEndpoint.objects.exists() and not WebhookDelivery.objects.exists()


def test_the_delivery_log_is_read_only(client_of, manager_a, operator_a, endpoint, receiver, run):
    change_status(run, ServiceFactory(account=manager_a.account), S.ROUTED)
    delivery = WebhookDelivery.objects.get()
    for user in (manager_a, operator_a):
        client = client_of(user)
        listing = client.get(admin_url("webhookdelivery_changelist"), {"status": "succeeded"})
        assert [row.pk for row in listing.context["cl"].result_list] == [delivery.pk]
        page = client.get(admin_url("webhookdelivery_change", delivery.pk))
        assert page.status_code == 200
        assert 'name="_save"' not in page.content.decode()
        assert client.get(admin_url("webhookdelivery_add")).status_code == 403
        assert client.get(admin_url("webhookdelivery_delete", delivery.pk)).status_code == 403


# A real worker ------------------------------------------------------------------------------------


@pytest.mark.redis
@pytest.mark.postgres
def test_a_real_worker_delivers_to_the_local_receiver(account_a, receiver, celery_worker):
    endpoint = make_endpoint(account_a, f"{receiver.url}/hook")
    service = ServiceFactory(account=account_a)
    # A real commit: the event is dispatched, the delivery enqueued on Redis, sent by the worker.
    actions.service_change_status(service=service, to_status=S.ROUTED, actor=SYSTEM)
    requests = receiver.wait_for(1, timeout_s=30)
    assert requests, celery_worker.log_path.read_text()
    [request] = requests
    headers = request["headers"]
    assert webhooks.verify_signature(
        endpoint.secret,
        request["body"],
        headers["X-LastMile-Timestamp"],
        headers["X-LastMile-Signature"],
    )
    deadline = time.monotonic() + 15
    delivery = WebhookDelivery.objects.get()
    while delivery.status != DeliveryStatus.SUCCEEDED and time.monotonic() < deadline:
        time.sleep(0.1)
        delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED, celery_worker.log_path.read_text()
    assert delivery.attempts == 1


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1:9/hook",
        "https://10.0.0.8/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/hook",
        "https://localhost/hook",
    ],
)
def test_internal_addresses_are_refused_without_a_request(settings, url):
    from services.webhooks import _post

    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = False
    outcome = _post(url, b"{}", {"Content-Type": "application/json"})
    assert not outcome.ok
    assert outcome.status_code is None
    assert "internal address" in outcome.error


def test_plain_http_to_localhost_is_refused_in_production(settings):
    from django.core.exceptions import ValidationError

    from services.webhook_models import validate_webhook_url

    settings.DEBUG = False
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = False
    with pytest.raises(ValidationError):
        validate_webhook_url("http://localhost:8000/hook")
