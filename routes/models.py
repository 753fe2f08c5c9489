"""Routes and their stops: the ordered attempts one driver runs with one vehicle."""

from datetime import time

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from accounts.models import (
    Branch,
    Carrier,
    ChatTicketType,
    Driver,
    FailureReason,
    TenantModel,
    Vehicle,
)
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
    # The driver's carrier when the route was made: a carrier user sees its carrier's routes
    # (accounts.access.scope narrows by this field).
    carrier = models.ForeignKey(
        Carrier, verbose_name=_("carrier"), on_delete=models.PROTECT, null=True, blank=True
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
    eta_refreshed_at = models.DateTimeField(null=True, blank=True, editable=False)
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
            # Each driver's route under way (driver status report, tracking): a probe, not a scan
            # of the driver's history.
            models.Index(
                fields=["driver", "-date"],
                condition=Q(status="in_progress"),
                name="route_driver_in_progress",
            ),
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
    # The ETA as a window (earliest, latest) and when it was computed.
    eta_earliest = models.DateTimeField(null=True, blank=True)
    eta_latest = models.DateTimeField(null=True, blank=True)
    eta_computed_at = models.DateTimeField(null=True, blank=True)
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
    # The branch its routes start from (a branch user's jobs are theirs; access.scope narrows).
    branch = models.ForeignKey(
        Branch, verbose_name=_("branch"), on_delete=models.SET_NULL, null=True, blank=True
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


class Position(models.Model):
    """One GPS point from a driver's phone, at the phone's time. One per (driver, recorded_at):
    a batch sent twice stores nothing twice."""

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="+")
    driver = models.ForeignKey(Driver, on_delete=models.CASCADE, related_name="positions")
    # The route in progress when the point was taken, if any: a route's path is its positions.
    route = models.ForeignKey(
        Route, on_delete=models.SET_NULL, null=True, blank=True, related_name="positions"
    )
    recorded_at = models.DateTimeField(_("recorded at"))
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)
    lat = models.FloatField()
    lng = models.FloatField()
    accuracy_m = models.FloatField(null=True, blank=True)
    speed_mps = models.FloatField(null=True, blank=True)
    heading_deg = models.FloatField(null=True, blank=True)
    battery_pct = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        verbose_name = _("position")
        verbose_name_plural = _("positions")
        constraints = [
            models.UniqueConstraint(fields=["driver", "recorded_at"], name="position_unique_time"),
        ]
        indexes = [
            models.Index(fields=["route", "recorded_at"]),
            models.Index(fields=["account", "recorded_at"]),
        ]

    def __str__(self):
        return f"{self.driver} {self.recorded_at:%Y-%m-%d %H:%M:%S}"


class EvidenceKind(models.TextChoices):
    SIGNATURE = "signature", _("Signature")
    PHOTO = "photo", _("Photo")
    LABEL = "label", _("Label")


class Evidence(TenantModel):
    """Proof of delivery sent by the driver app for a stop: an image re-encoded by the server
    (metadata stripped), with a thumbnail and the barcodes read from it."""

    stop = models.ForeignKey(Stop, on_delete=models.CASCADE, related_name="evidence")
    kind = models.CharField(_("kind"), max_length=10, choices=EvidenceKind.choices)
    image = models.ImageField(_("image"), upload_to="evidence/%Y/%m/")
    thumbnail = models.ImageField(_("thumbnail"), upload_to="evidence/%Y/%m/thumbs/")
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    barcodes = models.JSONField(_("barcodes"), default=list, blank=True)
    recorded_at = models.DateTimeField(_("recorded at"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("evidence")
        verbose_name_plural = _("evidence")
        ordering = ["stop", "recorded_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=EvidenceKind.values), name="evidence_kind_valid"
            ),
        ]

    def __str__(self):
        return f"{self.stop} · {self.get_kind_display()}"


class ConversationStatus(models.TextChoices):
    OPEN = "open", pgettext_lazy("conversation", "Open")
    CLOSED = "closed", pgettext_lazy("conversation", "Closed")


class Conversation(TenantModel):
    """A support chat between a route's driver and the call centre, about the route or one of
    its stops. Closing it names a chat ticket type."""

    route = models.ForeignKey(Route, on_delete=models.CASCADE, related_name="conversations")
    stop = models.ForeignKey(
        Stop, on_delete=models.CASCADE, null=True, blank=True, related_name="conversations"
    )
    status = models.CharField(
        _("status"),
        max_length=8,
        choices=ConversationStatus.choices,
        default=ConversationStatus.OPEN,
    )
    ticket_type = models.ForeignKey(
        ChatTicketType,
        verbose_name=_("ticket type"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
    )
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    created_at = models.DateTimeField(_("opened at"), auto_now_add=True)
    last_message_at = models.DateTimeField(_("last message"), null=True, blank=True)

    class Meta:
        verbose_name = _("conversation")
        verbose_name_plural = _("conversations")
        ordering = ["-last_message_at", "-pk"]
        constraints = [
            # One open conversation about the route, and one per stop (two partial constraints:
            # NULLs are distinct in a plain unique constraint on every backend).
            models.UniqueConstraint(
                fields=["route"],
                condition=Q(status="open", stop__isnull=True),
                name="conversation_one_open_per_route",
            ),
            models.UniqueConstraint(
                fields=["route", "stop"],
                condition=Q(status="open", stop__isnull=False),
                name="conversation_one_open_per_stop",
            ),
        ]
        indexes = [models.Index(fields=["account", "status", "last_message_at"])]

    def __str__(self):
        return f"{self.route} · {self.get_status_display()}"


class MessageAuthor(models.TextChoices):
    DRIVER = "driver", _("Driver")
    SUPPORT = "support", _("Support")
    SYSTEM = "system", _("System")


class Message(TenantModel):
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    author = models.CharField(_("from"), max_length=8, choices=MessageAuthor.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    text = models.TextField(_("text"), max_length=2000)
    created_at = models.DateTimeField(_("sent at"), auto_now_add=True)
    # When support first read a driver's message (unread counts), or the driver one of support's.
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["conversation", "pk"]
        indexes = [models.Index(fields=["conversation", "read_at"])]

    def __str__(self):
        return self.text[:60]


def _neutral_hourly():
    return [1.0] * 24


class TravelProfile(models.Model):
    """What an account's recent routes say about its days, for ETAs (learned daily by
    routes.eta_learning): the multiplier of nominal leg durations for each local hour (24
    floats, 0 to 23) and of planned service times."""

    account = models.OneToOneField(
        "accounts.Account", on_delete=models.CASCADE, related_name="travel_profile"
    )
    hourly = models.JSONField(
        _("multiplier of leg durations by local hour"), default=_neutral_hourly
    )
    service_factor = models.FloatField(_("multiplier of service times"), default=1.0)
    samples = models.PositiveIntegerField(_("legs and stops learned from"), default=0)
    computed_at = models.DateTimeField(_("computed at"))

    class Meta:
        verbose_name = _("travel profile")
        verbose_name_plural = _("travel profiles")
        constraints = [
            models.CheckConstraint(
                condition=Q(service_factor__gt=0), name="travelprofile_service_factor_positive"
            ),
        ]

    def __str__(self):
        return f"{self.account} · {self.computed_at:%Y-%m-%d}"
