"""The "delivery date set" confirmation: one SMS and one e-mail per setting or change of a delivery
date, with the new date and window; nothing for a replayed event or a date set with the
registration; and agencies that existed before the trigger get its default template."""

import importlib
from datetime import time, timedelta

import pytest
from django.apps import apps
from django.urls import reverse
from django.utils import timezone

from accounts.models import NotificationTemplate, Trigger
from accounts.notification_defaults import DEFAULTS, agency_create_default_templates
from accounts.notifications import render, sample_values, sms_length
from lastmile import outbox, triggers
from lastmile.models import Channel, OutboxMessage
from routes import actions as route_actions
from routes.models import StopStatus
from scheduling.actions import service_schedule
from services.actions import Actor
from services.models import EventKind, ServiceStatus
from tests.factories import AgencyFactory, DeliveryWindowFactory, FailureReasonFactory
from tests.lastmile.fakes import agency_with_templates, route_of, service_registered

pytestmark = pytest.mark.django_db

SYSTEM = Actor.system()


@pytest.fixture
def agency(account_a):
    # The defaults' own switches: the confirmation starts on for SMS and e-mail.
    return agency_with_templates(account_a, all_on=False)


@pytest.fixture
def service(account_a, agency):
    return service_registered(account_a, agency=agency)


def in_days(account, days):
    return timezone.localdate(timezone=account.tzinfo) + timedelta(days=days)


def window_on(account, day, *, start=time(8), end=time(12)):
    return DeliveryWindowFactory(account=account, weekday=day.weekday(), start=start, end=end)


def fail(account, service):
    """The service's delivery fails for a reason that lets the customer choose a new date."""
    reason = FailureReasonFactory(account=account, customer_fault=True)
    route = route_of(account, [service])
    route_actions.route_start(route=route, actor=SYSTEM)
    stop = route.stops.get()
    route_actions.stop_change_status(stop=stop, to_status=StopStatus.IN_PROGRESS, actor=SYSTEM)
    route_actions.stop_change_status(
        stop=stop, to_status=StopStatus.FAILED, actor=SYSTEM, failure_reason=reason
    )
    service.refresh_from_db()
    assert service.status == ServiceStatus.FAILED


def choose(client, service, day, window):
    """The customer picks day and window on the Last Mile page."""
    url = reverse("lastmile:page", args=[service.tracking_token])
    return client.post(url, {"slot": f"{day.isoformat()}_{window.pk}"}, follow=True)


def confirmations(service):
    return OutboxMessage.objects.filter(service=service, trigger=Trigger.RESCHEDULED).order_by(
        "sequence", "channel"
    )


def test_a_customer_rescheduling_a_failed_delivery_gets_one_sms_and_one_email(
    client, account_a, service
):
    fail(account_a, service)
    day = in_days(account_a, 3)
    window = window_on(account_a, day, start=time(13), end=time(18))

    response = choose(client, service, day, window)

    assert "your delivery is now set for" in response.content.decode()
    sms_row = confirmations(service).get(channel=Channel.SMS)
    email_row = confirmations(service).get(channel=Channel.EMAIL)
    assert confirmations(service).count() == 2
    shown = day.strftime("%m/%d/%Y")
    assert sms_row.to == "+5511999990001" and email_row.to == "maria@example.com"
    assert sms_row.body == (
        f"Acme Express: your order PED-10422 will be delivered on {shown}, 13:00-18:00."
        f" Track it: {service.tracking_url}"
    )
    assert email_row.subject == f"Your order PED-10422 will be delivered on {shown}"
    assert f"scheduled for delivery on {shown}, between 13:00-18:00." in email_row.body
    assert "13:00-18:00" in email_row.html
    # The failed attempt's driver and ETA are not the new date's: nothing of them is used.
    assert "Carlos" not in email_row.body
    scheduled = service.events.get(kind=EventKind.SCHEDULED)
    assert {sms_row.event_id, email_row.event_id} == {scheduled.pk}


def test_a_pending_service_picking_its_first_date_is_confirmed(client, account_a, service):
    day = in_days(account_a, 3)
    choose(client, service, day, window_on(account_a, day))
    assert [(m.channel, m.sequence) for m in confirmations(service)] == [
        (Channel.EMAIL, 1),
        (Channel.SMS, 1),
    ]


def test_each_change_gets_its_own_confirmation(client, account_a, service):
    fail(account_a, service)
    first_day, second_day = in_days(account_a, 3), in_days(account_a, 4)
    choose(client, service, first_day, window_on(account_a, first_day))
    choose(
        client, service, second_day, window_on(account_a, second_day, start=time(18), end=time(21))
    )

    rows = list(confirmations(service))
    assert [(m.channel, m.sequence) for m in rows] == [
        (Channel.EMAIL, 1),
        (Channel.SMS, 1),
        (Channel.EMAIL, 2),
        (Channel.SMS, 2),
    ]
    latest = rows[-1]
    assert second_day.strftime("%m/%d/%Y") in latest.body and "18:00-21:00" in latest.body


def test_a_replayed_event_or_the_same_choice_again_writes_nothing(client, account_a, service):
    day = in_days(account_a, 3)
    window = window_on(account_a, day)
    choose(client, service, day, window)
    assert confirmations(service).count() == 2
    event = service.events.get(kind=EventKind.SCHEDULED)

    triggers.on_service_event_written(sender=None, event=event)
    written = outbox.messages_queue(
        service_id=service.pk,
        trigger=Trigger.RESCHEDULED,
        event=event,
        sequence=triggers.event_sequence(event),
    )
    choose(client, service, day, window)  # the current date and window: no change, no event

    assert written == []
    assert confirmations(service).count() == 2
    assert service.events.filter(kind=EventKind.SCHEDULED).count() == 1


def test_a_first_date_set_with_the_registration_is_not_confirmed_but_a_change_is(
    account_a, service
):
    integration = Actor.integration("Shop ERP")
    first, second = in_days(account_a, 3), in_days(account_a, 5)
    service_schedule(
        service=service,
        day=first,
        window=window_on(account_a, first),
        actor=integration,
        confirm_first_date=False,
    )
    assert not confirmations(service).exists()

    service_schedule(
        service=service,
        day=second,
        window=window_on(account_a, second),
        actor=integration,
        confirm_first_date=False,  # only a first date is left unconfirmed
    )
    assert [m.sequence for m in confirmations(service)] == [2, 2]


def test_a_first_date_from_the_integration_api_is_confirmed(account_a, service):
    day = in_days(account_a, 3)
    service_schedule(
        service=service, day=day, window=window_on(account_a, day), actor=Actor.integration("ERP")
    )
    assert confirmations(service).count() == 2


def test_switched_off_it_sends_nothing(client, account_a, agency, service):
    NotificationTemplate.objects.filter(agency=agency, trigger=Trigger.RESCHEDULED).update(
        sms_enabled=False, email_enabled=False
    )
    day = in_days(account_a, 3)
    choose(client, service, day, window_on(account_a, day))
    assert not confirmations(service).exists()


def test_the_default_sms_fits_one_message_in_every_language():
    for language, templates in DEFAULTS.items():
        body = render(templates[Trigger.RESCHEDULED]["sms_body"], sample_values())
        assert sms_length(body).segments == 1, language


# Agencies that existed before the trigger ---------------------------------------------------------


def add_default_templates():
    migration = importlib.import_module("accounts.migrations.0006_rescheduled_trigger")
    migration.add_default_templates(apps, None)


def test_the_migration_gives_older_agencies_the_default_template(account_a, account_b):
    account_b.language = "pt-br"
    account_b.save(update_fields=["language"])
    older = agency_with_templates(account_b, all_on=False, name="Rápido")
    older.templates.filter(trigger=Trigger.RESCHEDULED).delete()
    own = agency_with_templates(account_a, all_on=False)
    own.templates.filter(trigger=Trigger.RESCHEDULED).update(sms_body="Mine")
    silent = AgencyFactory(account=account_a)  # no templates at all: it sends nothing

    add_default_templates()
    add_default_templates()  # run again: nothing doubles

    added = older.templates.get(trigger=Trigger.RESCHEDULED)
    assert added.sms_body == DEFAULTS["pt-br"][Trigger.RESCHEDULED]["sms_body"]
    assert added.sms_enabled and added.email_enabled
    assert own.templates.get(trigger=Trigger.RESCHEDULED).sms_body == "Mine"
    assert not silent.templates.exists()
    assert set(older.templates.values_list("trigger", flat=True)) == set(Trigger.values)


def test_the_loader_fills_in_only_the_missing_trigger(account_a):
    agency = agency_with_templates(account_a, all_on=False)
    agency.templates.filter(trigger=Trigger.RESCHEDULED).delete()
    agency.templates.filter(trigger=Trigger.DELIVERED).update(sms_body="Mine")

    assert agency_create_default_templates(agency=agency) == [Trigger.RESCHEDULED]
    assert agency.templates.get(trigger=Trigger.DELIVERED).sms_body == "Mine"
