"""Services: the jobs (deliveries, pickups, visits) at one address each, their packages, and the
event log every status change writes (the log the rest of the system reads)."""

import secrets

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from accounts.models import (
    AddressFields,
    Agency,
    Branch,
    Carrier,
    Customer,
    Driver,
    FailureReason,
    Partner,
    StatusChangeReason,
    TenantModel,
)


class ServiceType(models.TextChoices):
    DELIVERY = "delivery", _("Delivery")
    PICKUP = "pickup", _("Pickup")
    VISIT = "visit", _("Visit")


class ServiceStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    ROUTED = "routed", _("Routed")
    IN_PROGRESS = "in_progress", _("In progress")
    PAUSED = "paused", _("Paused")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")
    RETURNED = "returned", _("Returned")


S = ServiceStatus
# The status machine: every allowed move, in one place. Anything else is a domain error.
TRANSITIONS = {
    S.PENDING: {S.ROUTED, S.CANCELLED},
    # Taken out of its route before it starts, started by the driver, or cancelled.
    S.ROUTED: {S.PENDING, S.IN_PROGRESS, S.CANCELLED},
    S.IN_PROGRESS: {S.PAUSED, S.DONE, S.FAILED},
    S.PAUSED: {S.IN_PROGRESS, S.FAILED},
    # Rescheduled (back to pending, one more attempt), returned to the sender, turned into a
    # success by a reversible chat ticket ("the customer came back"), or cancelled.
    S.FAILED: {S.PENDING, S.RETURNED, S.DONE, S.CANCELLED},
    S.DONE: set(),
    S.CANCELLED: set(),
    S.RETURNED: set(),
}
FINAL_STATUSES = {S.DONE, S.CANCELLED, S.RETURNED}
OPEN_STATUSES = [S.PENDING, S.ROUTED, S.IN_PROGRESS, S.PAUSED]


def can_transition(from_status, to_status):
    return to_status in TRANSITIONS[from_status]


def new_tracking_token():
    # 24 random bytes: 192 bits, URL-safe.
    return secrets.token_urlsafe(24)


class Service(TenantModel, AddressFields):
    """One delivery, pickup or visit at one address."""

    type = models.CharField(
        _("type"), max_length=10, choices=ServiceType.choices, default=ServiceType.DELIVERY
    )
    status = models.CharField(
        _("status"), max_length=12, choices=ServiceStatus.choices, default=ServiceStatus.PENDING
    )
    customer = models.ForeignKey(Customer, verbose_name=_("customer"), on_delete=models.PROTECT)
    agency = models.ForeignKey(
        Agency, verbose_name=_("agency"), on_delete=models.PROTECT, null=True, blank=True
    )
    branch = models.ForeignKey(
        Branch, verbose_name=_("branch"), on_delete=models.PROTECT, null=True, blank=True
    )
    partner = models.ForeignKey(
        Partner, verbose_name=_("partner"), on_delete=models.PROTECT, null=True, blank=True
    )
    carrier = models.ForeignKey(
        Carrier, verbose_name=_("carrier"), on_delete=models.PROTECT, null=True, blank=True
    )
    external_id = models.CharField(_("external id"), max_length=80, blank=True)
    order_number = models.CharField(_("order number"), max_length=60, blank=True)
    invoice_number = models.CharField(_("invoice number"), max_length=60, blank=True)
    invoice_series = models.CharField(_("invoice series"), max_length=10, blank=True)
    description = models.TextField(_("description for the driver"), blank=True)
    weight_kg = models.DecimalField(
        _("weight (kg)"),
        max_digits=9,
        decimal_places=3,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
    )
    volume_m3 = models.DecimalField(
        _("volume (m³)"),
        max_digits=9,
        decimal_places=4,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
    )
    declared_value = models.DecimalField(
        _("declared value"),
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
    )
    service_time_min = models.PositiveSmallIntegerField(_("service time on site (min)"), default=5)
    deadline = models.DateTimeField(_("deadline"), null=True, blank=True)
    attempt_count = models.PositiveSmallIntegerField(
        _("attempts"), default=0, help_text=_("Failed attempts so far.")
    )
    tracking_token = models.CharField(
        _("tracking token"), max_length=64, unique=True, default=new_tracking_token, editable=False
    )
    finished_at = models.DateTimeField(
        _("finished at"),
        null=True,
        blank=True,
        editable=False,
        help_text=_(
            "When it reached its current outcome (done, failed, returned or cancelled), at the "
            "device's time; empty while it is open."
        ),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("service")
        verbose_name_plural = _("services")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "external_id"],
                condition=~Q(external_id=""),
                name="service_unique_external_id",
            ),
            models.CheckConstraint(
                condition=Q(status__in=ServiceStatus.values), name="service_status_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["account", "status", "updated_at"]),
            models.Index(fields=["account", "created_at"]),
            models.Index(fields=["account", "updated_at"]),
            # The reports place a finished service in a period by when it finished.
            models.Index(fields=["account", "finished_at"]),
            models.Index(fields=["account", "external_id"]),
            models.Index(fields=["account", "order_number"]),
            models.Index(fields=["account", "invoice_number"]),
        ]

    def __str__(self):
        return self.order_number or self.external_id or f"#{self.pk}"

    @property
    def is_editable(self):
        return self.status == ServiceStatus.PENDING

    @property
    def tracking_url(self):
        return f"{settings.SITE_URL}/t/{self.tracking_token}"

    def can_become(self, status):
        return can_transition(self.status, status)


class Package(TenantModel):
    """One labelled parcel of a service: the barcode the driver scans."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="packages")
    barcode = models.CharField(_("barcode"), max_length=80)
    description = models.CharField(_("description"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("package")
        verbose_name_plural = _("packages")
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(fields=["service", "barcode"], name="package_unique_barcode"),
        ]
        indexes = [models.Index(fields=["account", "barcode"])]

    def __str__(self):
        return self.barcode


class ActorType(models.TextChoices):
    USER = "user", _("User")
    DRIVER = "driver", _("Driver")
    CUSTOMER = "customer", _("Customer")
    INTEGRATION = "integration", _("Integration")
    SYSTEM = "system", _("System")


class EventKind(models.TextChoices):
    CREATED = "created", pgettext_lazy("service event", "Created")
    UPDATED = "updated", pgettext_lazy("service event", "Updated")
    STATUS = "status", _("Status changed")
    RESCHEDULED = "rescheduled", _("Rescheduled")
    SCHEDULED = "scheduled", _("Delivery date set")
    ROUTE = "route", _("Route")
    NOTE = "note", _("Note")


class ServiceEvent(TenantModel):
    """One change of a service: who, when (on the device and on the server), from and to, why."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(_("kind"), max_length=12, choices=EventKind.choices)
    actor_type = models.CharField(_("by"), max_length=12, choices=ActorType.choices)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_driver = models.ForeignKey(
        Driver, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # What to show for the actor when there is no row (an API key's name, "customer", ...).
    actor_label = models.CharField(_("actor"), max_length=150, blank=True)
    from_status = models.CharField(
        _("from"), max_length=12, choices=ServiceStatus.choices, blank=True
    )
    to_status = models.CharField(_("to"), max_length=12, choices=ServiceStatus.choices, blank=True)
    reason = models.ForeignKey(
        StatusChangeReason,
        verbose_name=_("reason for status change"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
    )
    failure_reason = models.ForeignKey(
        FailureReason,
        verbose_name=_("failure reason"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
    )
    note = models.TextField(_("note"), blank=True)
    lat = models.FloatField(_("latitude"), null=True, blank=True)
    lng = models.FloatField(_("longitude"), null=True, blank=True)
    # When it happened (on the phone, for drivers) and when the server learned of it.
    recorded_at = models.DateTimeField(_("happened at"))
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)
    # Changed fields and other details, for the timeline and webhooks.
    data = models.JSONField(default=dict, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("service event")
        verbose_name_plural = _("service events")
        ordering = ["recorded_at", "pk"]
        indexes = [
            models.Index(fields=["service", "recorded_at"]),
            models.Index(fields=["account", "received_at"]),
            models.Index(
                fields=["received_at"],
                condition=Q(dispatched_at__isnull=True),
                name="serviceevent_undispatched",
            ),
        ]

    def __str__(self):
        if self.kind == EventKind.STATUS:
            return f"{self.service}: {self.from_status} → {self.to_status}"
        return f"{self.service}: {self.get_kind_display()}"

    @property
    def actor_display(self):
        if self.actor_user_id:
            return str(self.actor_user)
        if self.actor_driver_id:
            return str(self.actor_driver)
        return self.actor_label or self.get_actor_type_display()


from .webhook_models import WebhookDelivery, WebhookEndpoint  # noqa: E402, F401
