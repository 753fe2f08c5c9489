"""Routes and their stops: the ordered attempts one driver runs with one vehicle."""

from datetime import time

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.models import Branch, Driver, FailureReason, TenantModel, Vehicle
from services.models import Service


class RouteStatus(models.TextChoices):
    PLANNED = "planned", _("Planned")
    IN_PROGRESS = "in_progress", _("In progress")
    FINISHED = "finished", _("Finished")
    CANCELLED = "cancelled", _("Cancelled")


R = RouteStatus
# Every allowed move of a route, in one place.
ROUTE_TRANSITIONS = {
    R.PLANNED: {R.IN_PROGRESS, R.CANCELLED},
    R.IN_PROGRESS: {R.FINISHED, R.CANCELLED},
    R.FINISHED: set(),
    R.CANCELLED: set(),
}


class StopStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    IN_PROGRESS = "in_progress", _("On the way")
    ARRIVED = "arrived", _("Arrived")
    PAUSED = "paused", _("Paused")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


T = StopStatus
# Every allowed move of a stop, in one place. A stop is one attempt at its service.
STOP_TRANSITIONS = {
    T.PENDING: {T.IN_PROGRESS, T.CANCELLED},
    T.IN_PROGRESS: {T.ARRIVED, T.PAUSED, T.DONE, T.FAILED},
    T.ARRIVED: {T.PAUSED, T.DONE, T.FAILED},
    T.PAUSED: {T.IN_PROGRESS, T.FAILED},
    T.DONE: set(),
    T.FAILED: set(),
    T.CANCELLED: set(),
}
FINAL_STOP_STATUSES = {T.DONE, T.FAILED, T.CANCELLED}


class Route(TenantModel):
    """One driver's ordered stops with one vehicle, from a start address, on a date (or, for an
    itinerant route, until an end date)."""

    driver = models.ForeignKey(Driver, verbose_name=_("driver"), on_delete=models.PROTECT)
    vehicle = models.ForeignKey(Vehicle, verbose_name=_("vehicle"), on_delete=models.PROTECT)
    branch = models.ForeignKey(
        Branch, verbose_name=_("branch"), on_delete=models.PROTECT, null=True, blank=True
    )
    date = models.DateField(_("date"))
    end_date = models.DateField(_("end date"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=12, choices=RouteStatus.choices, default=RouteStatus.PLANNED
    )
    departure_time = models.TimeField(
        _("departure time"),
        default=time(8, 0),
        help_text=_("When the driver leaves the start address, local time; plans count from it."),
    )
    start_address = models.CharField(_("start address"), max_length=300, blank=True)
    start_lat = models.FloatField(null=True, blank=True)
    start_lng = models.FloatField(null=True, blank=True)
    end_address = models.CharField(_("end address"), max_length=300, blank=True)
    end_lat = models.FloatField(null=True, blank=True)
    end_lng = models.FloatField(null=True, blank=True)
    planned_distance_m = models.PositiveIntegerField(_("planned distance (m)"), default=0)
    planned_duration_s = models.PositiveIntegerField(_("planned duration (s)"), default=0)
    travelled_distance_m = models.PositiveIntegerField(_("travelled distance (m)"), default=0)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("route")
        verbose_name_plural = _("routes")
        ordering = ["-date", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=models.F("date")),
                name="route_end_after_start",
            ),
        ]
        indexes = [
            models.Index(fields=["account", "date", "status"]),
            models.Index(fields=["driver", "date"]),
        ]

    def __str__(self):
        return f"{self.driver} · {self.date:%Y-%m-%d}"

    @property
    def is_editable(self):
        return self.status == RouteStatus.PLANNED


class Stop(TenantModel):
    """One attempt at one service within a route; a service's stops are its attempt history."""

    route = models.ForeignKey(Route, on_delete=models.CASCADE, related_name="stops")
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="stops")
    sequence = models.PositiveIntegerField(_("sequence"))
    status = models.CharField(
        _("status"), max_length=12, choices=StopStatus.choices, default=StopStatus.PENDING
    )
    planned_arrival = models.DateTimeField(_("planned arrival"), null=True, blank=True)
    eta = models.DateTimeField(_("current ETA"), null=True, blank=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    started_lat = models.FloatField(null=True, blank=True)
    started_lng = models.FloatField(null=True, blank=True)
    arrived_at = models.DateTimeField(_("arrived at"), null=True, blank=True)
    arrived_lat = models.FloatField(null=True, blank=True)
    arrived_lng = models.FloatField(null=True, blank=True)
    left_at = models.DateTimeField(_("left at"), null=True, blank=True)
    left_lat = models.FloatField(null=True, blank=True)
    left_lng = models.FloatField(null=True, blank=True)
    receiver_name = models.CharField(_("receiver's name"), max_length=150, blank=True)
    receiver_document = models.CharField(_("receiver's document"), max_length=30, blank=True)
    comment = models.TextField(_("comment"), blank=True)
    failure_reason = models.ForeignKey(
        FailureReason,
        verbose_name=_("failure reason"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
    )
    failure_description = models.TextField(_("what happened"), blank=True)

    class Meta:
        verbose_name = _("stop")
        verbose_name_plural = _("stops")
        ordering = ["route", "sequence"]
        indexes = [models.Index(fields=["route", "sequence"])]

    def __str__(self):
        return f"{self.route} #{self.sequence}: {self.service}"


class PlanningJobStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class PlanningJob(TenantModel):
    """Optimizing in the background (many services split among many drivers, or one large route):
    what was asked, how far the search is, and what came of it."""

    status = models.CharField(
        _("status"),
        max_length=10,
        choices=PlanningJobStatus.choices,
        default=PlanningJobStatus.QUEUED,
    )
    date = models.DateField(_("date"))
    # {"services": [ids], "crews": [[driver_id, vehicle_id], ...], "branch": id | null,
    #  "departure_time": "HH:MM"} for a split; {"route": id} to optimize one route.
    request = models.JSONField(default=dict)
    # {"routes": [ids], "unassigned": [service ids]} when done.
    result = models.JSONField(default=dict, blank=True)
    progress = models.PositiveSmallIntegerField(_("progress (%)"), default=0)
    error = models.TextField(_("error"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("planning job")
        verbose_name_plural = _("planning jobs")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=PlanningJobStatus.values), name="planningjob_status_valid"
            ),
        ]

    def __str__(self):
        return f"{self.date:%Y-%m-%d} · {self.get_status_display()}"

    @property
    def is_finished(self):
        return self.status in (PlanningJobStatus.DONE, PlanningJobStatus.FAILED)
