"""Writes of the customers' Last Mile page: rating a finished service, choosing a delivery date."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from scheduling.actions import service_schedule
from services.actions import Actor
from services.models import Service, ServiceStatus
from tracking.lib.errors import Conflict, Invalid

from . import selectors
from .models import Rating

MAX_COMMENT_CHARS = 1000


def rating_create(*, service, stars, comment=""):
    """Records the customer's rating of a done service, once: a later one changes nothing and
    the first is returned. Returns (rating, created). Raises Conflict when the service is not
    done, Invalid for stars outside 1-5 or a comment too long."""
    comment = (comment or "").strip()
    with transaction.atomic():
        # The lock makes two simultaneous first ratings wait for each other: one is kept.
        locked = Service.objects.select_for_update().get(pk=service.pk)
        if locked.status != ServiceStatus.DONE:
            raise Conflict(_("Only a finished service can be rated."), code="not_done")
        if not isinstance(stars, int) or not 1 <= stars <= 5:
            message = _("Choose from 1 to 5 stars.")
            raise Invalid(message, fields={"stars": [message]})
        if len(comment) > MAX_COMMENT_CHARS:
            message = _("Write at most %(count)d characters.") % {"count": MAX_COMMENT_CHARS}
            raise Invalid(message, fields={"comment": [message]})
        rating, created = Rating.objects.get_or_create(
            service=locked,
            defaults={"account_id": locked.account_id, "stars": stars, "comment": comment},
        )
    return rating, created


def customer_schedule(*, service, day, window, now=None):
    """The customer chooses the date and window of their service from the page, recorded with
    origin customer; a failed service is rescheduled (pending again, one more attempt). Raises
    Conflict when the customer may not choose now (selectors.customer_may_schedule) or the
    window is full, DomainError when the window is not offered. Choosing the current date and
    window again changes nothing."""
    now = now or timezone.now()
    if not selectors.customer_may_schedule(service, now=now):
        raise Conflict(
            _("The delivery date can no longer be changed here."), code="not_schedulable"
        )
    return service_schedule(
        service=service, day=day, window=window, actor=Actor.customer(), now=now
    )
