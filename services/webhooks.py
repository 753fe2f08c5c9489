"""Outgoing webhooks: deliveries queued from the event log, signed POSTs, retries, auto-disable.

How a receiver checks a request
-------------------------------
Every request is a POST with a JSON body and these headers:

    X-LastMile-Event:     the type, e.g. service.status_changed (or ping)
    X-LastMile-Delivery:  the delivery id; the same on every retry, so receivers can de-duplicate
    X-LastMile-Timestamp: when this attempt was signed, in Unix seconds
    X-LastMile-Signature: v1=<hex HMAC-SHA256 of "<timestamp>.<raw body>" with the endpoint secret>

A receiver recomputes the HMAC over the raw body bytes, compares in constant time and rejects
timestamps more than five minutes away from its clock: an intercepted request cannot be replayed
later, and one replayed within the five minutes carries a delivery id already seen.
`verify_signature` does exactly this. The header may carry several comma-separated `v1=` values.

Which events
------------
An endpoint subscribes to types (`WebhookEventType`: service.created, service.updated,
service.status_changed, service.rescheduled, service.note), one per kind of event in the log; an
empty list means every type. Per-status filtering is left to receivers (`data.event.to`).

Delivery
--------
Each (endpoint, event) gets one delivery row, created when the event is dispatched, with the
payload as things were then. `deliver_webhook` claims a due attempt with a conditional UPDATE (two
workers never send the same attempt), POSTs with a short timeout and no redirects (a 3xx is a
failure), and records the outcome. A failure schedules the next attempt after BACKOFF_S; the
beat sweep (`send_due_webhooks`) enqueues whatever is due, so retries survive restarts and broker
outages. After MAX_ATTEMPTS a delivery is given up; after DISABLE_AFTER_FAILURES deliveries given
up in a row the endpoint is disabled and the account's managers are e-mailed. Delivery is at least
once: a worker lost mid-request means the attempt is made again once its lease expires.
"""

import hashlib
import hmac
import ipaddress
import json
import logging
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import requests
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.models import Role, User

from .models import ServiceEvent
from .webhook_models import (
    EVENT_TYPE_FOR_KIND,
    OPEN_DELIVERY_STATUSES,
    PING,
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
    new_webhook_secret,
)

logger = logging.getLogger(__name__)

# Connect and read timeout of one attempt, in seconds.
TIMEOUT_S = 5
# Attempts per delivery (the first included), and the wait after each failed attempt.
MAX_ATTEMPTS = 6
BACKOFF_S = (30, 2 * 60, 10 * 60, 60 * 60, 6 * 60 * 60)
# Deliveries given up in a row after which the endpoint is disabled.
DISABLE_AFTER_FAILURES = 10
# An attempt in flight for longer than this is taken as lost (worker killed) and made again; it
# is longer than the delivery task's hard time limit.
LEASE_S = 120
# How far a signature's timestamp may be from the receiver's clock.
SIGNATURE_TOLERANCE_S = 5 * 60
# Deliveries are kept this long for the log.
KEEP_DAYS = 30
USER_AGENT = "LastMile-Webhooks/1"
ERROR_MAX_CHARS = 300


# Signatures ---------------------------------------------------------------------------------------


def _as_bytes(body):
    return body.encode("utf-8") if isinstance(body, str) else bytes(body)


def sign(secret, timestamp, body):
    """The hex HMAC-SHA256 of "<timestamp>.<body>" with secret (the v1 scheme)."""
    message = f"{int(timestamp)}.".encode() + _as_bytes(body)
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def signature_header(secret, timestamp, body):
    return f"v1={sign(secret, timestamp, body)}"


def verify_signature(
    secret, body, timestamp, signature, tolerance_s=SIGNATURE_TOLERANCE_S, now=None
):
    """Whether signature (the X-LastMile-Signature header) signs body (the raw bytes received) at
    timestamp (the X-LastMile-Timestamp header) with secret, and timestamp is within tolerance_s
    seconds of now (Unix seconds or an aware datetime; the current time by default)."""
    try:
        timestamp = int(timestamp)
    except (TypeError, ValueError):
        return False
    if now is None:
        now = time.time()
    elif isinstance(now, datetime):
        now = now.timestamp()
    if abs(now - timestamp) > tolerance_s:
        return False
    expected = sign(secret, timestamp, body)
    offered = [
        part.strip()[3:] for part in (signature or "").split(",") if part.strip().startswith("v1=")
    ]
    return any(hmac.compare_digest(expected, value) for value in offered)


# Queueing deliveries ------------------------------------------------------------------------------


def _iso(moment):
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else None


def event_payload_data(event):
    """The "data" of a delivery: the event and the service as they are now (at dispatch)."""
    service = event.service
    return {
        "event": {
            "id": event.pk,
            "kind": event.kind,
            "from": event.from_status or None,
            "to": event.to_status or None,
            "actor_type": event.actor_type,
            "recorded_at": _iso(event.recorded_at),
            "received_at": _iso(event.received_at),
            "note": event.note,
            "reason": event.reason.description if event.reason_id else None,
            "failure_reason": (
                event.failure_reason.description if event.failure_reason_id else None
            ),
            "changed_fields": sorted((event.data or {}).get("changed", {})),
        },
        "service": {
            "id": service.pk,
            "external_id": service.external_id,
            "order_number": service.order_number,
            "status": service.status,
            "tracking_url": service.tracking_url,
            "updated_at": _iso(service.updated_at),
        },
    }


def _payload(delivery_uuid, event_type, data):
    return {
        "id": str(delivery_uuid),
        "type": event_type,
        "created_at": _iso(timezone.now()),
        "data": data,
    }


def webhook_deliveries_create(*, event_id):
    """Creates a pending delivery of the event for each active endpoint of its account that wants
    its type, and returns the ids of the event's deliveries still pending. Idempotent: an event
    never gets two deliveries to one endpoint."""
    event = (
        ServiceEvent.objects.select_related("service", "reason", "failure_reason", "account")
        .filter(pk=event_id)
        .first()
    )
    if event is None or not event.account.is_active:
        return []
    event_type = EVENT_TYPE_FOR_KIND.get(event.kind)
    if event_type is None:
        return []
    endpoints = [
        endpoint
        for endpoint in WebhookEndpoint.objects.filter(account_id=event.account_id, is_active=True)
        if endpoint.wants(event_type)
    ]
    if not endpoints:
        return []
    data = event_payload_data(event)
    now = timezone.now()
    deliveries = []
    for endpoint in endpoints:
        delivery_uuid = uuid.uuid4()
        deliveries.append(
            WebhookDelivery(
                account_id=event.account_id,
                uuid=delivery_uuid,
                endpoint=endpoint,
                event=event,
                event_type=event_type,
                payload=_payload(delivery_uuid, event_type, data),
                next_attempt_at=now,
            )
        )
    WebhookDelivery.objects.bulk_create(deliveries, ignore_conflicts=True)
    return list(
        WebhookDelivery.objects.filter(event=event, status=DeliveryStatus.PENDING, attempts=0)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _enqueue_after_commit(delivery_ids):
    def enqueue():
        from .tasks import deliver_webhook

        for delivery_id in delivery_ids:
            deliver_webhook.delay(delivery_id)

    # robust: with the broker down the deliveries stay due, and the sweep sends them later.
    transaction.on_commit(enqueue, robust=True)


def on_service_event_recorded(sender, *, event_id, account_id=None, **kwargs):
    """Receiver of service_event_recorded: queues the event's deliveries (the sending is a task).
    It runs inside the dispatch's transaction, so the tasks are enqueued after its commit."""
    if (
        account_id is not None
        and not WebhookEndpoint.objects.filter(account_id=account_id, is_active=True).exists()
    ):
        # Most accounts have no webhooks: one cheap query instead of loading the event.
        return
    delivery_ids = webhook_deliveries_create(event_id=event_id)
    if delivery_ids:
        _enqueue_after_commit(delivery_ids)


def webhook_endpoint_ping(*, endpoint):
    """Queues a `ping` delivery to the endpoint (active or not): one attempt, no retries, and no
    effect on the endpoint's failure count. Returns the delivery."""
    delivery_uuid = uuid.uuid4()
    with transaction.atomic():
        delivery = WebhookDelivery.objects.create(
            account_id=endpoint.account_id,
            uuid=delivery_uuid,
            endpoint=endpoint,
            event=None,
            event_type=PING,
            payload=_payload(
                delivery_uuid,
                PING,
                {"endpoint": {"id": endpoint.pk, "url": endpoint.url}},
            ),
            next_attempt_at=timezone.now(),
        )
        _enqueue_after_commit([delivery.pk])
    return delivery


# Sending ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status_code: int | None = None
    error: str = ""
    response_ms: int | None = None


def _root_cause(exc):
    """The innermost OS-level reason of a requests error, without the URL it was about."""
    seen = set()
    cause = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror
        nested = getattr(cause, "reason", None)
        cause = (
            nested if isinstance(nested, BaseException) else cause.__cause__ or cause.__context__
        )
    return type(exc).__name__


_SESSION = requests.Session()
_SESSION.trust_env = False


def _refused_address(url):
    """Why url must not be called (it resolves to a private, loopback, link-local or otherwise
    internal address), or None. Keeps an account's webhook from reaching our own network or a
    cloud metadata service; settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES lifts it (development)."""
    if settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES:
        return None
    parts = urlsplit(url)
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        return _("The host name does not resolve.")
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if not address.is_global or address.is_multicast:
            return _("The URL points to an internal address (%(address)s).") % {"address": address}
    return None


def _post(url, body, headers):
    started = time.monotonic()
    refused = _refused_address(url)
    if refused:
        return Outcome(ok=False, status_code=None, error=refused, response_ms=0)

    def elapsed_ms():
        return int((time.monotonic() - started) * 1000)

    try:
        # No proxies from the environment: webhooks go straight to the receiver.
        with _SESSION.post(
            url,
            data=body,
            headers=headers,
            timeout=TIMEOUT_S,
            allow_redirects=False,
            stream=True,
        ) as response:
            took = elapsed_ms()
            code = response.status_code
            if 200 <= code < 300:
                return Outcome(ok=True, status_code=code, response_ms=took)
            try:
                snippet = next(response.iter_content(200), b"").decode("utf-8", "replace")
            except requests.RequestException:
                snippet = ""
            error = f"HTTP {code} {response.reason or ''}".strip()
            if 300 <= code < 400:
                error += " " + _("(redirects are not followed)")
            elif snippet.strip():
                error += ": " + " ".join(snippet.split())
            return Outcome(ok=False, status_code=code, error=error, response_ms=took)
    except requests.Timeout:
        error = _("No answer within %(seconds)s s.") % {"seconds": TIMEOUT_S}
    except requests.exceptions.SSLError as exc:
        error = _("TLS error: %(reason)s") % {"reason": _root_cause(exc)}
    except requests.ConnectionError as exc:
        error = _("Could not connect: %(reason)s") % {"reason": _root_cause(exc)}
    except requests.RequestException as exc:
        error = _("Request failed: %(reason)s") % {"reason": type(exc).__name__}
    except SoftTimeLimitExceeded:
        error = _("The request took too long.")
    return Outcome(ok=False, error=error, response_ms=elapsed_ms())


def _max_attempts(delivery):
    return 1 if delivery.event_type == PING else MAX_ATTEMPTS


def backoff_s(attempt):
    """Seconds to wait after failed attempt number attempt (1-based)."""
    return BACKOFF_S[min(attempt, len(BACKOFF_S)) - 1]


def webhook_delivery_attempt(*, delivery_id):
    """Makes the delivery's due attempt, if any, and records the outcome. Returns the delivery's
    new status, or None when nothing was due (already delivered, given up, not yet time, or being
    attempted by another worker): calling it again is always safe."""
    now = timezone.now()
    claimed = WebhookDelivery.objects.filter(
        Q(next_attempt_at__lte=now) | Q(attempts=0),
        pk=delivery_id,
        status__in=OPEN_DELIVERY_STATUSES,
    ).update(attempts=F("attempts") + 1, next_attempt_at=now + timedelta(seconds=LEASE_S))
    if not claimed:
        return None
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    endpoint = delivery.endpoint
    if not endpoint.is_active and delivery.event_type != PING:
        outcome = Outcome(ok=False, error=_("The endpoint is disabled."))
        return _record(delivery, outcome, give_up=True)
    body = json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False).encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-LastMile-Event": delivery.event_type,
        "X-LastMile-Delivery": str(delivery.uuid),
        "X-LastMile-Timestamp": str(timestamp),
        "X-LastMile-Signature": signature_header(endpoint.secret, timestamp, body),
    }
    outcome = _post(endpoint.url, body, headers)
    logger.info(
        "webhook delivery %s (endpoint %s) attempt %s: %s",
        delivery.uuid,
        endpoint.pk,
        delivery.attempts,
        "ok" if outcome.ok else outcome.error,
    )
    return _record(delivery, outcome)


def _record(delivery, outcome, give_up=False):
    """Stores the outcome of the attempt claimed as delivery.attempts; counts a given-up delivery
    against its endpoint (and disables the endpoint at the threshold)."""
    attempt = delivery.attempts
    now = timezone.now()
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update()
            .filter(pk=delivery.pk, attempts=attempt, status__in=OPEN_DELIVERY_STATUSES)
            .first()
        )
        if delivery is None:
            # The lease ran out and another attempt took over: that one records its own outcome.
            return None
        delivery.last_status_code = outcome.status_code
        delivery.last_error = outcome.error[:ERROR_MAX_CHARS]
        delivery.response_ms = outcome.response_ms
        counts = delivery.event_type != PING
        if outcome.ok:
            delivery.status = DeliveryStatus.SUCCEEDED
            delivery.delivered_at = now
            delivery.next_attempt_at = None
            if counts:
                WebhookEndpoint.objects.filter(
                    pk=delivery.endpoint_id, consecutive_failures__gt=0
                ).update(consecutive_failures=0)
        elif give_up or attempt >= _max_attempts(delivery):
            delivery.status = DeliveryStatus.GIVING_UP
            delivery.next_attempt_at = None
            if counts and not give_up:
                _count_failed_delivery(delivery.endpoint_id, delivery.last_error)
        else:
            delivery.status = DeliveryStatus.FAILED
            delivery.next_attempt_at = now + timedelta(seconds=backoff_s(attempt))
        delivery.save(
            update_fields=[
                "status",
                "last_status_code",
                "last_error",
                "response_ms",
                "next_attempt_at",
                "delivered_at",
            ]
        )
    return delivery.status


def _count_failed_delivery(endpoint_id, last_error):
    endpoint = (
        WebhookEndpoint.objects.select_for_update().select_related("account").get(pk=endpoint_id)
    )
    endpoint.consecutive_failures += 1
    endpoint.save(update_fields=["consecutive_failures"])
    if endpoint.is_active and endpoint.consecutive_failures >= DISABLE_AFTER_FAILURES:
        with translation.override(endpoint.account.language):
            reason = _("%(count)d deliveries in a row failed; the last error was: %(error)s") % {
                "count": endpoint.consecutive_failures,
                "error": last_error or "-",
            }
        webhook_endpoint_disable(endpoint=endpoint, reason=reason)


# Endpoint management ------------------------------------------------------------------------------


def webhook_endpoint_disable(*, endpoint, reason):
    """Stops deliveries to the endpoint (those already queued are given up when their turn
    comes) and e-mails every active manager of the account, after commit."""
    from accounts.tasks import send_email

    with transaction.atomic():
        endpoint.is_active = False
        endpoint.disabled_at = timezone.now()
        endpoint.disabled_reason = reason[:300]
        endpoint.save(update_fields=["is_active", "disabled_at", "disabled_reason"])
        account = endpoint.account
        link = settings.SITE_URL + reverse(
            "admin:services_webhookendpoint_change", args=[endpoint.pk]
        )
        managers = User.objects.filter(account=account, role=Role.MANAGER, is_active=True)
        with translation.override(account.language):
            subject = _("Webhook endpoint disabled: %(url)s") % {"url": endpoint.url}
            body = _(
                "The webhook endpoint %(endpoint)s (%(url)s) of %(account)s was disabled "
                "because its deliveries kept failing.\n\n"
                "Why: %(reason)s\n\n"
                "No events are sent to it while it is disabled. Once the receiver works again, "
                "open %(link)s, send a test ping to check it, and choose “Re-enable” in the list "
                "of webhook endpoints.\n"
            ) % {
                "endpoint": endpoint.description or endpoint.pk,
                "url": endpoint.url,
                "account": account.name,
                "reason": reason,
                "link": link,
            }
        for email in managers.values_list("email", flat=True):
            send_email.delay_on_commit(subject=subject, body=body, to=[email])
    logger.warning("webhook endpoint %s disabled: %s", endpoint.pk, reason)
    return endpoint


def webhook_endpoint_enable(*, endpoint):
    """Turns the endpoint back on with a clean failure count. Idempotent."""
    endpoint.is_active = True
    endpoint.consecutive_failures = 0
    endpoint.disabled_at = None
    endpoint.disabled_reason = ""
    endpoint.save(
        update_fields=["is_active", "consecutive_failures", "disabled_at", "disabled_reason"]
    )
    return endpoint


def webhook_endpoint_rotate_secret(*, endpoint):
    """Gives the endpoint a new signing secret; the old one stops working at once."""
    endpoint.secret = new_webhook_secret()
    endpoint.save(update_fields=["secret"])
    return endpoint


# Sweeps -------------------------------------------------------------------------------------------


def webhook_deliveries_due(*, limit=500):
    """Ids of deliveries whose next attempt is due (including lost ones whose lease ran out)."""
    return list(
        WebhookDelivery.objects.filter(
            status__in=OPEN_DELIVERY_STATUSES, next_attempt_at__lte=timezone.now()
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )


def webhook_deliveries_purge(*, older_than=None, batch_size=5000):
    """Deletes deliveries created more than KEEP_DAYS ago (the log is bounded). Returns the
    number deleted."""
    cutoff = timezone.now() - (older_than or timedelta(days=KEEP_DAYS))
    deleted = 0
    while True:
        ids = list(
            WebhookDelivery.objects.filter(created_at__lt=cutoff).values_list("pk", flat=True)[
                :batch_size
            ]
        )
        if not ids:
            return deleted
        deleted += WebhookDelivery.objects.filter(pk__in=ids).delete()[0]
