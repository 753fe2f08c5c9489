"""Outgoing webhooks: the URLs an account registers for its service events, and the log of every
delivery made to them (what was sent, how often it was tried, what the receiver answered)."""

import ipaddress
import secrets
import uuid
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.models import TenantModel

from .models import EventKind, ServiceEvent


class WebhookEventType(models.TextChoices):
    """What an endpoint can subscribe to: one type per kind of service event."""

    CREATED = "service.created", _("Service created")
    UPDATED = "service.updated", _("Service details changed")
    STATUS_CHANGED = "service.status_changed", _("Service status changed")
    RESCHEDULED = "service.rescheduled", _("Service rescheduled")
    NOTE = "service.note", _("Note added to a service")
    SCHEDULED = "service.scheduled", _("Service delivery date set")


# The webhook type sent for each kind of event in the log.
EVENT_TYPE_FOR_KIND = {
    EventKind.CREATED: WebhookEventType.CREATED,
    EventKind.UPDATED: WebhookEventType.UPDATED,
    EventKind.STATUS: WebhookEventType.STATUS_CHANGED,
    EventKind.RESCHEDULED: WebhookEventType.RESCHEDULED,
    EventKind.NOTE: WebhookEventType.NOTE,
    EventKind.SCHEDULED: WebhookEventType.SCHEDULED,
}
# Sent only on request (the admin's "Send a test ping"), whatever the endpoint subscribed to.
PING = "ping"

LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}


def new_webhook_secret():
    # 32 random bytes (256 bits), prefixed so people recognise it in their configuration.
    return "whsec_" + secrets.token_urlsafe(32)


def validate_webhook_url(value):
    """A webhook URL is https; plain http is accepted only where private addresses are allowed
    (settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES: development and the tests) or with DEBUG on."""
    URLValidator(schemes=["http", "https"])(value)
    parts = urlsplit(value)
    if parts.username or parts.password:
        raise ValidationError(
            _("Put no user name or password in the URL; requests are signed instead."),
            code="credentials",
        )
    local_ok = settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES and is_local_host(parts.hostname)
    if parts.scheme == "http" and not settings.DEBUG and not local_ok:
        raise ValidationError(_("Use an https:// URL."), code="https_required")


def is_local_host(host):
    """localhost or a loopback address: a receiver on this very machine."""
    host = (host or "").lower()
    if host in LOCAL_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def validate_event_types(value):
    """A list of WebhookEventType values (empty: every type)."""
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValidationError(_("Give a list of event types."), code="invalid")
    unknown = sorted(set(value) - set(WebhookEventType.values))
    if unknown:
        raise ValidationError(
            _("Unknown event types: %(types)s."),
            code="invalid",
            params={"types": ", ".join(unknown)},
        )


class WebhookEndpoint(TenantModel):
    """A URL of the account that receives a signed POST for the service events it wants."""

    url = models.URLField(
        _("URL"),
        max_length=500,
        validators=[validate_webhook_url],
        help_text=_("Must be https://. Each request is signed with this endpoint's secret."),
    )
    description = models.CharField(_("description"), max_length=200, blank=True)
    event_types = models.JSONField(
        _("events"),
        default=list,
        blank=True,
        validators=[validate_event_types],
        help_text=_("Leave all unticked to receive every event."),
    )
    secret = models.CharField(
        _("signing secret"), max_length=100, default=new_webhook_secret, editable=False
    )
    is_active = models.BooleanField(_("active"), default=True)
    consecutive_failures = models.PositiveIntegerField(
        _("consecutive failures"),
        default=0,
        editable=False,
        help_text=_("Deliveries given up in a row since the last success."),
    )
    disabled_at = models.DateTimeField(_("disabled at"), null=True, blank=True, editable=False)
    disabled_reason = models.CharField(
        _("why it was disabled"), max_length=300, blank=True, editable=False
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")
        ordering = ["url", "pk"]
        indexes = [models.Index(fields=["account", "is_active"])]

    def __str__(self):
        return self.description or self.url

    def wants(self, event_type):
        """Whether this endpoint subscribed to event_type (no choice at all means every type)."""
        return event_type == PING or not self.event_types or event_type in self.event_types


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SUCCEEDED = "succeeded", _("Succeeded")
    # The last attempt failed; another is scheduled at next_attempt_at.
    FAILED = "failed", _("Failed, will retry")
    GIVING_UP = "giving_up", _("Gave up")


# A delivery in one of these states is waiting for an attempt.
OPEN_DELIVERY_STATUSES = [DeliveryStatus.PENDING, DeliveryStatus.FAILED]


class WebhookDelivery(TenantModel):
    """One event sent (or being sent) to one endpoint: the payload as it was when the event
    happened, and the outcome of the latest attempt."""

    # The id receivers see ("id" in the body, X-LastMile-Delivery): stable across retries.
    uuid = models.UUIDField(_("delivery id"), default=uuid.uuid4, unique=True, editable=False)
    endpoint = models.ForeignKey(
        WebhookEndpoint,
        verbose_name=_("endpoint"),
        on_delete=models.CASCADE,
        related_name="deliveries",
    )
    # Empty for test pings (and for events deleted with their service since).
    event = models.ForeignKey(
        ServiceEvent,
        verbose_name=_("event"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    event_type = models.CharField(_("event type"), max_length=40)
    payload = models.JSONField(_("payload"))
    status = models.CharField(
        _("status"), max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_status_code = models.PositiveSmallIntegerField(_("last HTTP status"), null=True)
    last_error = models.CharField(_("last error"), max_length=300, blank=True)
    response_ms = models.PositiveIntegerField(_("response time (ms)"), null=True)
    # When the next attempt is due; while an attempt is in flight, when it is considered lost.
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-created_at", "-pk"]
        constraints = [
            # A re-dispatched event never creates a second delivery to the same endpoint.
            models.UniqueConstraint(
                fields=["endpoint", "event"], name="webhookdelivery_unique_event"
            ),
            models.CheckConstraint(
                condition=Q(status__in=DeliveryStatus.values), name="webhookdelivery_status_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["endpoint", "created_at"]),
            models.Index(fields=["account", "created_at"]),
            models.Index(fields=["created_at"]),
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status__in=OPEN_DELIVERY_STATUSES),
                name="webhookdelivery_due",
            ),
        ]

    def __str__(self):
        return f"{self.event_type} → {self.endpoint_id} ({self.get_status_display()})"
