"""What the customer receives and says: the message outbox (one row per SMS or e-mail to send)
and the customer's rating of a finished service."""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.models import TenantModel, Trigger
from services.models import Service


class Channel(models.TextChoices):
    SMS = "sms", _("SMS")
    EMAIL = "email", _("E-mail")


class MessageStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")
    BOUNCED = "bounced", _("Bounced")


class OutboxMessage(TenantModel):
    """One message to a customer, written in the same transaction as the event that caused it,
    then sent once by a task (claimed, sent, recorded). Never two rows for the same service,
    trigger, channel, attempt (a stop's sequence of attempts: a second delivery attempt may tell
    the customer again) and sequence (a trigger that can fire several times in one attempt: each
    change of the delivery date is confirmed)."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="messages")
    trigger = models.CharField(_("trigger"), max_length=24, choices=Trigger.choices)
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    attempt = models.PositiveSmallIntegerField(_("attempt"), default=1)
    # Which of the trigger's causes in the attempt: the schedule change's number for "delivery
    # date set", 0 for triggers that fire once per attempt.
    sequence = models.PositiveIntegerField(default=0)
    # The event that caused it (services.ServiceEvent id), when there is one.
    event_id = models.BigIntegerField(null=True, blank=True)
    to = models.CharField(_("to"), max_length=254)
    language = models.CharField(_("language"), max_length=8, blank=True)
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    body = models.TextField(_("text"))
    html = models.TextField(_("HTML"), blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=MessageStatus.choices, default=MessageStatus.QUEUED
    )
    # Sending: each claim takes the next try; a claim older than the send timeout is stale and
    # may be taken again (the worker died), which the provider id check keeps from sending twice.
    tries = models.PositiveSmallIntegerField(_("tries"), default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    next_try_at = models.DateTimeField(null=True, blank=True)
    provider = models.CharField(_("provider"), max_length=30, blank=True)
    provider_id = models.CharField(_("provider id"), max_length=120, blank=True)
    cost = models.DecimalField(_("cost"), max_digits=10, decimal_places=5, null=True, blank=True)
    cost_currency = models.CharField(max_length=3, blank=True)
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["service", "trigger", "channel", "attempt", "sequence"],
                name="outbox_once",
            ),
            models.CheckConstraint(
                condition=Q(status__in=MessageStatus.values), name="outbox_status_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "next_try_at"]),
            models.Index(fields=["account", "created_at"]),
            models.Index(fields=["provider", "provider_id"]),
        ]

    def __str__(self):
        return f"{self.get_channel_display()} {self.get_trigger_display()} → {self.to}"


class Rating(TenantModel):
    """The customer's rating of a finished service, given once on the Last Mile page."""

    service = models.OneToOneField(Service, on_delete=models.CASCADE, related_name="rating")
    stars = models.PositiveSmallIntegerField(
        _("stars"), validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    comment = models.TextField(_("comment"), max_length=1000, blank=True)
    created_at = models.DateTimeField(_("rated at"), auto_now_add=True)

    class Meta:
        verbose_name = _("rating")
        verbose_name_plural = _("ratings")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(stars__gte=1, stars__lte=5), name="rating_stars_range"
            ),
        ]

    def __str__(self):
        return f"{self.service} · {self.stars}★"
