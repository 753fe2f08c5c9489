"""Delivery windows, scheduling rules, and each service's agreed date and window."""

import zoneinfo
from datetime import datetime, time, timedelta

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from accounts.models import Branch, TenantModel
from services.models import Service


class Weekday(models.IntegerChoices):
    MONDAY = 0, _("Monday")
    TUESDAY = 1, _("Tuesday")
    WEDNESDAY = 2, _("Wednesday")
    THURSDAY = 3, _("Thursday")
    FRIDAY = 4, _("Friday")
    SATURDAY = 5, _("Saturday")
    SUNDAY = 6, _("Sunday")


class SchedulingPolicy(TenantModel):
    """How far ahead and until when windows can be chosen: per branch, or the account's default
    (no branch)."""

    branch = models.ForeignKey(
        Branch, verbose_name=_("branch"), on_delete=models.CASCADE, null=True, blank=True
    )
    cutoff_hours = models.PositiveSmallIntegerField(
        _("cut-off (hours)"),
        default=12,
        validators=[MaxValueValidator(24 * 14)],
        help_text=_(
            "A window can no longer be chosen or changed this many hours before it starts."
        ),
    )
    horizon_days = models.PositiveSmallIntegerField(
        _("horizon (days)"),
        default=14,
        validators=[MinValueValidator(1), MaxValueValidator(180)],
        help_text=_("How many days ahead a date can be chosen."),
    )

    class Meta:
        verbose_name = _("scheduling policy")
        verbose_name_plural = _("scheduling policies")
        constraints = [
            models.UniqueConstraint(
                fields=["account"],
                condition=Q(branch__isnull=True),
                name="schedulingpolicy_one_default",
            ),
            models.UniqueConstraint(
                fields=["account", "branch"],
                condition=Q(branch__isnull=False),
                name="schedulingpolicy_one_per_branch",
            ),
        ]

    def __str__(self):
        return str(self.branch or _("Account default"))


class DeliveryWindow(TenantModel):
    """A window offered on one weekday (a named period or an hour range) with its capacity; per
    branch, or the account's default (no branch). Times are the branch's local time."""

    branch = models.ForeignKey(
        Branch,
        verbose_name=_("branch"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        help_text=_("Empty: the account's default windows, for branches without their own."),
    )
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=Weekday.choices)
    name = models.CharField(_("name"), max_length=60, help_text=_("e.g. Morning, 08:00–12:00"))
    start = models.TimeField(_("starts at"))
    end = models.TimeField(_("ends at"))
    capacity = models.PositiveIntegerField(
        _("capacity"), default=20, help_text=_("How many services the window can take.")
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("delivery window")
        verbose_name_plural = _("delivery windows")
        ordering = ["branch_id", "weekday", "start"]
        constraints = [
            models.CheckConstraint(condition=Q(start__lt=F("end")), name="window_starts_first"),
        ]
        indexes = [models.Index(fields=["account", "branch", "weekday"])]

    def __str__(self):
        return f"{self.get_weekday_display()} {self.name} ({self.start:%H:%M}–{self.end:%H:%M})"


class WindowBooking(TenantModel):
    """How many services hold a window on one date: the counter that capacity is checked against
    with one conditional UPDATE, so two customers never both take the last place."""

    window = models.ForeignKey(DeliveryWindow, on_delete=models.CASCADE, related_name="bookings")
    date = models.DateField()
    booked = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["window", "date"], name="windowbooking_unique_day"),
        ]

    def __str__(self):
        return f"{self.window} {self.date}: {self.booked}"


class Origin(models.TextChoices):
    INTEGRATION = "integration", _("Integration")
    CUSTOMER = "customer", _("Customer")
    BACK_OFFICE = "back_office", _("Back office")


class Schedule(TenantModel):
    """The date and window a service's delivery was agreed for."""

    service = models.OneToOneField(Service, on_delete=models.CASCADE, related_name="schedule")
    date = models.DateField(_("date"))
    window = models.ForeignKey(
        DeliveryWindow, verbose_name=_("window"), on_delete=models.PROTECT, related_name="+"
    )
    origin = models.CharField(_("origin"), max_length=12, choices=Origin.choices)
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    set_by_label = models.CharField(max_length=150, blank=True)
    set_at = models.DateTimeField(_("set at"), auto_now=True)
    # When the place was given back (the service was cancelled or returned): counted once.
    released_at = models.DateTimeField(null=True, blank=True)
    # The window and the end of the date as instants, in the service's branch time zone (else
    # the account's) when they were set: the reports compare delivery times with them in SQL,
    # which has no portable time zone arithmetic. Kept by save().
    starts_at = models.DateTimeField(null=True, editable=False)
    ends_at = models.DateTimeField(null=True, editable=False)
    date_ends_at = models.DateTimeField(null=True, editable=False)

    class Meta:
        verbose_name = _("schedule")
        verbose_name_plural = _("schedules")
        indexes = [models.Index(fields=["account", "date"])]

    def __str__(self):
        return f"{self.service}: {self.date} {self.window.name}"

    def save(self, *args, **kwargs):
        self.starts_at, self.ends_at, self.date_ends_at = schedule_instants(
            self.date, self.window, self.service
        )
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            kwargs["update_fields"] = {*update_fields, "starts_at", "ends_at", "date_ends_at"}
        super().save(*args, **kwargs)


def schedule_instants(day, window, service):
    """(window start, window end, end of the date) as aware datetimes in the service's branch
    time zone, else its account's (correct across DST changes)."""
    branch = service.branch if service.branch_id else None
    tzinfo = zoneinfo.ZoneInfo((branch.time_zone if branch else "") or service.account.time_zone)
    return (
        datetime.combine(day, window.start, tzinfo=tzinfo),
        datetime.combine(day, window.end, tzinfo=tzinfo),
        datetime.combine(day + timedelta(days=1), time.min, tzinfo=tzinfo),
    )


class ScheduleChange(TenantModel):
    """One setting or change of a service's schedule, with where it came from."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="schedule_changes")
    from_date = models.DateField(null=True, blank=True)
    from_window = models.ForeignKey(
        DeliveryWindow, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    to_date = models.DateField()
    to_window = models.ForeignKey(
        DeliveryWindow, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    origin = models.CharField(_("origin"), max_length=12, choices=Origin.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    label = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("schedule change")
        verbose_name_plural = _("schedule changes")
        ordering = ["created_at", "pk"]

    def __str__(self):
        return f"{self.service}: {self.from_date} → {self.to_date}"
