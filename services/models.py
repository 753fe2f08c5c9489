"""Services: the jobs (deliveries, pickups, visits) at one address each."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.models import AddressFields, Branch, Customer, TenantModel


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


class Service(TenantModel, AddressFields):
    """One delivery, pickup or visit at one address."""

    type = models.CharField(
        _("type"), max_length=10, choices=ServiceType.choices, default=ServiceType.DELIVERY
    )
    status = models.CharField(
        _("status"),
        max_length=12,
        choices=ServiceStatus.choices,
        default=ServiceStatus.PENDING,
        db_index=True,
    )
    customer = models.ForeignKey(Customer, verbose_name=_("customer"), on_delete=models.PROTECT)
    branch = models.ForeignKey(
        Branch, verbose_name=_("branch"), on_delete=models.PROTECT, null=True, blank=True
    )
    external_id = models.CharField(_("external id"), max_length=80, blank=True)
    order_number = models.CharField(_("order number"), max_length=60, blank=True)
    description = models.TextField(_("description for the driver"), blank=True)
    deadline = models.DateTimeField(_("deadline"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("service")
        verbose_name_plural = _("services")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "external_id"],
                condition=~Q(external_id=""),
                name="service_unique_external_id",
            ),
        ]
        indexes = [models.Index(fields=["account", "status", "updated_at"])]

    def __str__(self):
        return self.order_number or self.external_id or f"#{self.pk}"
