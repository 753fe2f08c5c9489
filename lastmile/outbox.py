"""The notification outbox: the messages a trigger sends, rendered from the agency's templates and
written as rows in the transaction of their cause, then handed to the send task after commit.

Writing a row is cheap (a few reads, a render, an insert) and never touches the network, so it
can run inside the transaction that records a delivery without slowing it or making it fail on
a provider's outage. The unique (service, trigger, channel, attempt, sequence) constraint makes a
repeated cause write nothing.

Language: a template's text is the agency's, one per trigger, written in whatever language the
agency chose; only the tag values (dates, times, the period of the day, any translated label)
follow the customer's language (the account's when the customer has none), which the row records.
"""

from datetime import timedelta

from django.core.exceptions import ObjectDoesNotExist
from django.db import IntegrityError, transaction
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from accounts.models import Agency, NotificationTemplate, Trigger
from accounts.notifications import logo_url, render
from routes.models import Stop
from services.models import Service

from .models import Channel, OutboxMessage

# Without an ETA or a scheduled window, "expected between" is the planned arrival give or take.
PLANNED_MARGIN = timedelta(minutes=30)


def service_agency(service):
    """The agency whose templates the service's messages use: its own; without one, the account's
    agency when it has exactly one active (with several, guessing the brand would be wrong)."""
    if service.agency_id:
        return service.agency
    agencies = list(Agency.objects.filter(account_id=service.account_id, is_active=True)[:2])
    return agencies[0] if len(agencies) == 1 else None


def _latest_stop(service):
    return (
        Stop.objects.filter(service=service)
        .select_related("route__driver", "route__vehicle", "failure_reason")
        .order_by("-pk")
        .first()
    )


def _enabled_channels(template, customer):
    channels = []
    if template.sms_enabled and template.sms_body.strip() and customer.phone:
        channels.append(Channel.SMS)
    if (
        template.email_enabled
        and customer.email
        and (template.email_text.strip() or template.email_html.strip())
    ):
        channels.append(Channel.EMAIL)
    return channels


def messages_queue(*, service_id, trigger, event=None, stop=None, sequence=0):
    """Writes the trigger's messages for the service (one row per enabled channel of its agency's
    template that the customer can receive) in the caller's transaction, and queues their sending
    after commit. sequence tells apart causes a trigger may have several of in one attempt (the
    number of a schedule change). Idempotent: a (service, trigger, channel, attempt, sequence)
    that has a row already gets no second one. The template's text is the agency's, as written;
    the tag values are formatted in the customer's language, which each row records. Returns the
    rows written."""
    # Few joins: one query joining all the message needs cost more to plan than to run (2 ms a
    # call, on every event of every service); the account and agency are read when needed.
    service = (
        Service.objects.select_related("customer", "schedule__window").filter(pk=service_id).first()
    )
    if service is None:
        return []
    agency = service_agency(service)
    if agency is None:
        return []
    template = NotificationTemplate.objects.filter(agency=agency, trigger=trigger).first()
    if template is None:
        return []
    channels = _enabled_channels(template, service.customer)
    if not channels:
        return []
    if stop is None and trigger != Trigger.RESCHEDULED:
        # A new date has no stop yet: the latest one is an earlier attempt's, whose driver and
        # ETA would be wrong in its confirmation.
        stop = _latest_stop(service)
    attempt = message_attempt(service)
    existing = set(
        OutboxMessage.objects.filter(
            service=service, trigger=trigger, attempt=attempt, sequence=sequence
        ).values_list("channel", flat=True)
    )
    channels = [channel for channel in channels if channel not in existing]
    if not channels:
        return []
    customer = service.customer
    if customer.account_id == service.account_id:
        customer.account = service.account  # one query for both (the customer's default language)
    language = customer.language_code
    with translation.override(language):
        values = tag_values(service=service, agency=agency, trigger=trigger, stop=stop, event=event)
        rendered = {channel: _render(template, channel, values) for channel in channels}
    written = []
    for channel in channels:
        try:
            # A savepoint: a concurrent writer's row (the unique constraint) costs nothing here.
            with transaction.atomic():
                message = OutboxMessage.objects.create(
                    account_id=service.account_id,
                    service=service,
                    trigger=trigger,
                    channel=channel,
                    attempt=attempt,
                    sequence=sequence,
                    event_id=getattr(event, "pk", None),
                    to=customer.phone if channel == Channel.SMS else customer.email,
                    language=language,
                    **rendered[channel],
                )
        except IntegrityError:
            continue
        written.append(message)
        transaction.on_commit(lambda pk=message.pk: _enqueue_send(pk), robust=True)
    return written


def message_attempt(service):
    """Which delivery attempt a message belongs to: the service's stop count (1 before it is
    routed), so a second attempt may tell the customer again what the first one did."""
    return max(1, Stop.objects.filter(service=service).count())


def _enqueue_send(message_id):
    # A lost enqueue (the broker is down) leaves the row queued: lastmile.tasks.sweep_outbox
    # finds it a minute later.
    from .tasks import send_message

    send_message.delay(message_id)


def _render(template, channel, values):
    if channel == Channel.SMS:
        return {"body": render(template.sms_body, values)}
    # A subject is one header line: a customer's name with a line break must not break it.
    subject = " ".join(render(template.email_subject, values).split())
    return {
        "subject": subject[:200],
        "body": render(template.email_text, values),
        # The operator's HTML is kept; every value put into it is escaped.
        "html": render(template.email_html, values, html=True),
    }


def tag_values(*, service, agency, trigger, stop=None, event=None):
    """The value of every tag for the service's message, formatted in the active language (the
    customer's, when messages_queue calls) and the account's time zone."""
    tzinfo = service.account.tzinfo
    customer = service.customer
    route = stop.route if stop is not None else None
    schedule = _schedule(service)
    window_start, window_end = _expected_window(stop, schedule, tzinfo)
    return {
        "customer_first_name": customer.first_name,
        "customer_name": customer.name,
        "order_number": service.order_number,
        "invoice_number": service.invoice_number,
        "delivery_day": _date(_delivery_day(trigger, route, schedule)),
        "delivery_window": _window_text(*_scheduled_window(schedule)),
        "eta_window": _window_text(window_start, window_end),
        "period": _period(window_start),
        "driver_name": route.driver.first_name if route is not None else "",
        "vehicle_plate": route.vehicle.plate if route is not None else "",
        "tracking_link": service.tracking_url,
        "failure_reason": _failure_reason(event, stop),
        "deadline": _datetime(service.deadline, tzinfo),
        "reschedule_link": reschedule_link(service),
        "agency_name": agency.name,
        "agency_logo": logo_url(agency),
        "agency_colour": agency.header_colour,
    }


def reschedule_link(service):
    """Where the customer chooses a new day: the Last Mile page, which offers it when allowed."""
    return service.tracking_url


def _schedule(service):
    try:
        return service.schedule
    except ObjectDoesNotExist:
        return None


def _delivery_day(trigger, route, schedule):
    if trigger == Trigger.ITINERANT_ROUTE and route is not None and route.end_date:
        return route.end_date
    if schedule is not None:
        return schedule.date
    return route.date if route is not None else None


def _scheduled_window(schedule):
    if schedule is None:
        return None, None
    return schedule.window.start, schedule.window.end


def _expected_window(stop, schedule, tzinfo):
    """(start, end) as local datetimes or times: the live ETA window, else the scheduled window,
    else the planned arrival give or take PLANNED_MARGIN; (None, None) when nothing is known."""
    if stop is not None and stop.eta_earliest and stop.eta_latest:
        return (
            timezone.localtime(stop.eta_earliest, tzinfo),
            timezone.localtime(stop.eta_latest, tzinfo),
        )
    if schedule is not None:
        return _scheduled_window(schedule)
    if stop is not None and stop.planned_arrival:
        planned = timezone.localtime(stop.planned_arrival, tzinfo)
        return planned - PLANNED_MARGIN, planned + PLANNED_MARGIN
    return None, None


def _window_text(start, end):
    if start is None or end is None:
        return ""
    return f"{start:%H:%M}-{end:%H:%M}"


def _period(start):
    if start is None:
        return ""
    if start.hour < 12:
        return _("morning")
    if start.hour < 18:
        return _("afternoon")
    return _("night")


def _failure_reason(event, stop):
    if event is not None and event.failure_reason_id:
        return event.failure_reason.description
    if stop is not None and stop.failure_reason_id:
        return stop.failure_reason.description
    return ""


def _date(day):
    return formats.date_format(day, "SHORT_DATE_FORMAT") if day else ""


def _datetime(moment, tzinfo):
    if moment is None:
        return ""
    return formats.date_format(timezone.localtime(moment, tzinfo), "SHORT_DATETIME_FORMAT")
