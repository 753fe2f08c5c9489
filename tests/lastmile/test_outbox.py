"""The outbox: which messages an event writes, rendered how, in which transaction, and never twice;
and, end to end against the local fakes, each of the issue's failure cases sends exactly one."""

from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.core import mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation

from accounts.models import NotificationTemplate, Trigger
from lastmile import outbox, sending
from lastmile.models import Channel, MessageStatus, OutboxMessage
from routes import actions as route_actions
from routes.models import StopStatus
from services import actions as service_actions
from services.actions import Actor
from tests.factories import AgencyFactory, FailureReasonFactory
from tests.lastmile import fakes
from tests.lastmile.fakes import agency_with_templates, customer_of, route_of, service_registered
from tracking.lib import sms

pytestmark = pytest.mark.django_db

SYSTEM = Actor.system()


def rows(service, trigger=None):
    messages = OutboxMessage.objects.filter(service=service)
    if trigger:
        messages = messages.filter(trigger=trigger)
    return {(m.trigger, m.channel, m.attempt) for m in messages}


def start_route(route):
    return route_actions.route_start(route=route, actor=SYSTEM)


def move(service, status, **kwargs):
    stop = service.stops.order_by("-pk").first()
    return route_actions.stop_change_status(stop=stop, to_status=status, actor=SYSTEM, **kwargs)


# What an event writes ----------------------------------------------------------------------------


def test_a_registered_service_writes_one_row_per_enabled_channel(account_a):
    agency = agency_with_templates(account_a)
    service = service_registered(account_a, agency=agency)
    sms_row = OutboxMessage.objects.get(service=service, channel=Channel.SMS)
    email_row = OutboxMessage.objects.get(service=service, channel=Channel.EMAIL)
    assert rows(service) == {
        (Trigger.SERVICE_REGISTERED, Channel.SMS, 1),
        (Trigger.SERVICE_REGISTERED, Channel.EMAIL, 1),
    }
    assert sms_row.to == "+5511999990001" and email_row.to == "maria@example.com"
    assert sms_row.status == MessageStatus.QUEUED and sms_row.account == account_a
    assert sms_row.event_id == service.events.get().pk
    assert sms_row.body.startswith("Acme Express: Hi Maria, we received your order PED-10422.")
    assert service.tracking_url in sms_row.body
    assert email_row.subject == "We received your order PED-10422"
    assert "Hi Maria," in email_row.body and "<p>Hi Maria,</p>" in email_row.html


def test_the_default_switches_are_kept_and_a_customer_without_a_phone_gets_no_sms(account_a):
    agency = agency_with_templates(account_a, all_on=False)  # registered: e-mail only
    service = service_registered(account_a, agency=agency)
    assert rows(service) == {(Trigger.SERVICE_REGISTERED, Channel.EMAIL, 1)}

    no_phone = customer_of(account_a, phone="", email="ana@example.com", name="Ana")
    NotificationTemplate.objects.filter(agency=agency).update(sms_enabled=True)
    other = service_registered(account_a, agency=agency, customer=no_phone, order_number="P-2")
    assert rows(other) == {(Trigger.SERVICE_REGISTERED, Channel.EMAIL, 1)}


def test_the_rows_are_written_in_the_events_transaction(account_a):
    agency = agency_with_templates(account_a)
    inside = []

    def register_then_fail():
        with transaction.atomic():
            service_registered(account_a, agency=agency)
            inside.append(OutboxMessage.objects.count())
            raise RuntimeError

    with pytest.raises(RuntimeError):
        register_then_fail()
    assert inside == [2]
    assert OutboxMessage.objects.count() == 0


def test_the_send_is_queued_only_after_commit(account_a, django_capture_on_commit_callbacks):
    agency = agency_with_templates(account_a)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        service = service_registered(account_a, agency=agency)
    assert sms.outbox == [] and mail.outbox == []
    for callback in callbacks:
        callback()
    assert [message.to for message in sms.outbox] == ["+5511999990001"]
    assert [email.to for email in mail.outbox] == [["maria@example.com"]]
    assert set(service.messages.values_list("status", flat=True)) == {MessageStatus.SENT}


def test_without_an_agency_the_accounts_only_active_agency_speaks(account_a):
    agency = agency_with_templates(account_a)
    service = service_registered(account_a)
    assert {m.body.split(":")[0] for m in service.messages.filter(channel=Channel.SMS)} == {
        agency.name
    }

    AgencyFactory(account=account_a, name="Second brand")  # two brands: no guessing
    other = service_registered(account_a, order_number="P-2")
    assert rows(other) == set()


def test_a_disabled_template_writes_nothing(account_a):
    agency = agency_with_templates(account_a)
    NotificationTemplate.objects.filter(agency=agency).update(
        sms_enabled=False, email_enabled=False
    )
    assert rows(service_registered(account_a, agency=agency)) == set()


def test_the_route_and_stop_triggers_with_their_tags(account_a):
    agency = agency_with_templates(account_a)
    service = service_registered(account_a, agency=agency)
    route = route_of(account_a, [service])
    start_route(route)
    started = service.messages.get(trigger=Trigger.ROUTE_STARTED, channel=Channel.SMS)
    assert "out for delivery today" in started.body

    move(service, StopStatus.IN_PROGRESS)
    on_the_way = service.messages.get(trigger=Trigger.DELIVERY_STARTED, channel=Channel.SMS)
    assert on_the_way.body.startswith("Acme Express: Carlos is on the way with your order")

    reason = FailureReasonFactory(account=account_a, description="Nobody at the address")
    move(service, StopStatus.FAILED, failure_reason=reason)
    failed = service.messages.get(trigger=Trigger.DELIVERY_FAILED, channel=Channel.SMS)
    assert "(Nobody at the address)" in failed.body
    assert rows(service) >= {
        (Trigger.ROUTE_STARTED, Channel.SMS, 1),
        (Trigger.DELIVERY_STARTED, Channel.EMAIL, 1),
        (Trigger.DELIVERY_FAILED, Channel.EMAIL, 1),
    }


def test_a_second_attempt_tells_the_customer_again(account_a):
    agency = agency_with_templates(account_a)
    service = service_registered(account_a, agency=agency)
    start_route(route_of(account_a, [service]))
    move(service, StopStatus.IN_PROGRESS)
    reason = FailureReasonFactory(account=account_a)
    move(service, StopStatus.FAILED, failure_reason=reason)
    service_actions.service_reschedule(service=service, actor=SYSTEM)

    start_route(route_of(account_a, [service]))
    move(service, StopStatus.IN_PROGRESS)
    move(service, StopStatus.DONE)
    assert {attempt for (_t, _c, attempt) in rows(service, Trigger.ROUTE_STARTED)} == {1, 2}
    assert rows(service, Trigger.DELIVERED) == {
        (Trigger.DELIVERED, Channel.SMS, 2),
        (Trigger.DELIVERED, Channel.EMAIL, 2),
    }


def test_a_duplicate_event_writes_nothing(account_a):
    agency = agency_with_templates(account_a)
    service = service_registered(account_a, agency=agency)
    event = service.events.get()
    before = OutboxMessage.objects.count()
    with transaction.atomic():
        written = outbox.messages_queue(
            service_id=service.pk, trigger=Trigger.SERVICE_REGISTERED, event=event
        )
    assert written == [] and OutboxMessage.objects.count() == before

    # A resumed stop repeats "in progress": no second "delivery started".
    start_route(route_of(account_a, [service]))
    move(service, StopStatus.IN_PROGRESS)
    move(service, StopStatus.PAUSED)
    move(service, StopStatus.IN_PROGRESS)
    assert len(rows(service, Trigger.DELIVERY_STARTED)) == 2  # SMS and e-mail, once


def test_an_itinerant_route_tells_the_day_it_ends(account_a):
    agency = agency_with_templates(account_a)
    service = service_registered(account_a, agency=agency)
    last_day = timezone.localdate() + timedelta(days=3)
    start_route(route_of(account_a, [service], end_date=last_day))
    assert rows(service, Trigger.ROUTE_STARTED) == set()
    itinerant = service.messages.get(trigger=Trigger.ITINERANT_ROUTE, channel=Channel.SMS)
    assert last_day.strftime("%m/%d/%Y") in itinerant.body


def test_messages_speak_the_accounts_language(account_a):
    account_a.language = "pt-br"
    account_a.save(update_fields=["language"])
    agency = agency_with_templates(account_a)
    deadline = timezone.now() + timedelta(days=2)
    service = service_registered(account_a, agency=agency, deadline=deadline)
    email = service.messages.get(channel=Channel.EMAIL)
    assert email.language == "pt-br"
    assert email.subject == "Recebemos seu pedido PED-10422"
    with translation.override("pt-br"):
        values = outbox.tag_values(service=service, agency=agency, trigger=Trigger.OUT_OF_DEADLINE)
    local = timezone.localtime(deadline, account_a.tzinfo)  # the account's time zone
    assert values["deadline"] == local.strftime("%d/%m/%Y %H:%M")


# Escaping -----------------------------------------------------------------------------------------


def test_customer_text_is_escaped_in_the_email_html_only(account_a):
    agency = agency_with_templates(account_a)
    evil = customer_of(account_a, name="<script>alert('x')</script>&amp; Co")
    service = service_registered(account_a, agency=agency, customer=evil)
    email = service.messages.get(channel=Channel.EMAIL)
    text = service.messages.get(channel=Channel.SMS)
    assert "<script" not in email.html
    assert "Hi &lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;&amp;amp;," in email.html
    # Text parts and SMS are plain text: kept as typed, never interpreted.
    assert "Hi <script>alert('x')</script>&amp;," in email.body
    assert "Hi <script>alert('x')</script>&amp;," in text.body


def test_the_email_of_an_agency_without_a_logo_shows_its_name_not_a_broken_image(
    account_a, settings
):
    agency = agency_with_templates(account_a, name="Rapidão")
    html = service_registered(account_a, agency=agency).messages.get(channel=Channel.EMAIL).html
    assert "<img" not in html
    assert '<span style="max-height:48px;color:#fff">Rapidão</span>' in html

    agency.logo.name = "agencies/logo.png"
    agency.save()
    other = service_registered(account_a, agency=agency, order_number="PED-2")
    html = other.messages.get(channel=Channel.EMAIL).html
    assert f'<img src="{settings.SITE_URL}/media/agencies/logo.png" alt="Rapidão"' in html


def test_a_line_break_in_a_name_cannot_break_the_subject(account_a):
    agency = agency_with_templates(account_a)
    NotificationTemplate.objects.filter(agency=agency).update(
        email_subject="{{customer_name}}, your order"
    )
    sneaky = customer_of(account_a, name="Ana\r\nBcc: victim@example.com")
    service = service_registered(account_a, agency=agency, customer=sneaky)
    assert service.messages.get(channel=Channel.EMAIL).subject == (
        "Ana Bcc: victim@example.com, your order"
    )


# Exactly one message, end to end (Done when) ------------------------------------------------------


@pytest.fixture
def sms_row(account_a):
    agency = agency_with_templates(account_a)
    NotificationTemplate.objects.filter(agency=agency).update(email_enabled=False)
    service = service_registered(account_a, agency=agency)
    return service.messages.get(channel=Channel.SMS)


def later(minutes):
    return timezone.now() + timedelta(minutes=minutes)


def sweep(now):
    for message_id in sending.messages_due(now=now):
        sending.message_send(message_id=message_id, now=now)


def age(message, minutes):
    """Makes the message's claim look as old as a dead worker's."""
    OutboxMessage.objects.filter(pk=message.pk).update(
        claimed_at=timezone.now() - timedelta(minutes=minutes)
    )


def test_a_worker_killed_after_claiming_and_before_sending_sends_once(twilio, sms_row):
    assert sending.message_claim(message_id=sms_row.pk) is not None  # ...and the worker dies
    assert sending.message_send(message_id=sms_row.pk) is None  # a live claim is respected
    age(sms_row, 6)
    sweep(timezone.now())
    sms_row.refresh_from_db()
    assert len(twilio.messages) == 1
    assert sms_row.status == MessageStatus.SENT
    assert sms_row.provider_id == twilio.messages[0]["sid"]


def test_a_worker_killed_after_the_provider_accepted_does_not_send_again(twilio, sms_row):
    # The worker handed the message over, Twilio took it, and the worker died before recording.
    claimed = sending.message_claim(message_id=sms_row.pk)
    OutboxMessage.objects.filter(pk=sms_row.pk).update(provider="twilio")
    sms.get_backend().send(sms.SmsMessage(to=claimed.to, body=claimed.body))
    age(sms_row, 6)
    sweep(timezone.now())
    sms_row.refresh_from_db()
    assert len(twilio.messages) == 1
    assert sms_row.status == MessageStatus.SENT
    assert sms_row.provider_id == twilio.messages[0]["sid"]


def test_a_provider_that_times_out_sends_once(twilio, sms_row):
    twilio.delay_s = 1.5  # records the message, answers after the client gave up (0.5 s)
    assert sending.message_send(message_id=sms_row.pk) == MessageStatus.QUEUED
    sms_row.refresh_from_db()
    assert sms_row.provider == "twilio" and sms_row.provider_id == ""
    assert "timeout" in sms_row.error.lower() or "timed out" in sms_row.error.lower()

    twilio.delay_s = 0
    sweep(later(2))  # the retry asks Twilio first, and finds it
    sms_row.refresh_from_db()
    assert len(twilio.messages) == 1
    assert sms_row.status == MessageStatus.SENT
    assert sms_row.provider_id == twilio.messages[0]["sid"]
    assert sms_row.tries == 2


def test_a_duplicate_event_sends_once(twilio, sms_row, django_capture_on_commit_callbacks):
    service = sms_row.service
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            outbox.messages_queue(service_id=service.pk, trigger=Trigger.SERVICE_REGISTERED)
        sending.message_send(message_id=sms_row.pk)
        with transaction.atomic():
            outbox.messages_queue(service_id=service.pk, trigger=Trigger.SERVICE_REGISTERED)
    assert len(twilio.messages) == 1
    assert service.messages.count() == 1


def test_a_retried_task_sends_once(twilio, sms_row):
    from lastmile.tasks import send_message

    send_message.delay(sms_row.pk)
    send_message.delay(sms_row.pk)  # the broker redelivers, or someone retries it by hand
    sweep(later(120))
    assert len(twilio.messages) == 1
    sms_row.refresh_from_db()
    assert sms_row.status == MessageStatus.SENT and sms_row.tries == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_sends_of_one_row_send_once(postgres, settings):
    """Four workers given the same row at once (on PostgreSQL, each in its own connection):
    the conditional claim lets one of them send."""
    import threading

    from django.db import connection

    from tests.factories import AccountFactory, ServiceFactory

    account = AccountFactory(slug="race")
    service = ServiceFactory(account=account)
    message = OutboxMessage.objects.create(
        account=account,
        service=service,
        trigger=Trigger.DELIVERED,
        channel=Channel.SMS,
        to="+5511999990001",
        body="Delivered.",
    )
    with fakes.FakeTwilio() as twilio:
        fakes.use_twilio(settings, twilio)
        twilio.delay_s = 0.3
        barrier = threading.Barrier(4)

        def send():
            try:
                barrier.wait()
                sending.message_send(message_id=message.pk)
            finally:
                connection.close()

        threads = [threading.Thread(target=send) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    message.refresh_from_db()
    assert len(twilio.messages) == 1
    assert message.status == MessageStatus.SENT and message.tries == 1


# What operators see -------------------------------------------------------------------------------


def detail_url(service):
    return reverse("services:detail", args=[service.pk])


def test_the_service_page_lists_its_messages(client_of, manager_a):
    account = manager_a.account
    agency = agency_with_templates(account)
    service = service_registered(account, agency=agency)
    OutboxMessage.objects.filter(service=service, channel=Channel.SMS).update(
        status=MessageStatus.FAILED, error="Twilio 21211: Invalid 'To' Phone Number"
    )
    page = client_of(manager_a).get(detail_url(service)).content.decode()
    assert 'data-testid="messages-panel"' in page
    assert page.count("<tr data-message=") == 2
    assert "Service registered" in page and "+5511999990001" in page
    assert "maria@example.com" in page
    assert "Twilio 21211: Invalid &#x27;To&#x27; Phone Number" in page
    assert 'data-testid="rating-panel"' not in page  # not done: nothing to rate yet


def test_the_rating_panel_shows_stars_and_the_comment_escaped(client_of, manager_a):
    from lastmile.models import Rating
    from services.models import ServiceStatus
    from tests.factories import ServiceFactory

    service = ServiceFactory(account=manager_a.account, status=ServiceStatus.DONE)
    client = client_of(manager_a)
    assert 'data-testid="rating-empty"' in client.get(detail_url(service)).content.decode()
    Rating.objects.create(
        account=manager_a.account, service=service, stars=4, comment="<script>x()</script>"
    )
    page = client.get(detail_url(service)).content.decode()
    assert "★★★★☆" in page and "4 stars out of 5" in page
    assert "&lt;script&gt;x()&lt;/script&gt;" in page and "<script>x()" not in page
    assert 'data-testid="messages-empty"' in page


def test_another_accounts_service_page_shows_nothing(client_of, manager_b, account_a):
    service = service_registered(account_a, agency=agency_with_templates(account_a))
    assert client_of(manager_b).get(detail_url(service)).status_code == 404


ADMIN_LOG = "/admin/lastmile/outboxmessage/"


def test_the_message_log_filters_by_status_channel_trigger_and_date(client_of, manager_a):
    account = manager_a.account
    service = service_registered(account, agency=agency_with_templates(account))
    OutboxMessage.objects.filter(service=service, channel=Channel.SMS).update(
        status=MessageStatus.FAILED
    )
    client = client_of(manager_a)

    def listed(query=""):
        response = client.get(f"{ADMIN_LOG}?{query}")
        assert response.status_code == 200
        return {message.channel for message in response.context["cl"].result_list}

    assert listed() == {Channel.SMS, Channel.EMAIL}
    assert listed("status__exact=failed") == {Channel.SMS}
    assert listed("channel__exact=email") == {Channel.EMAIL}
    assert listed(f"trigger__exact={Trigger.DELIVERED}") == set()
    midnight = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    today = {"created_at__gte": midnight, "created_at__lt": midnight + timedelta(days=1)}
    yesterday = {"created_at__gte": midnight - timedelta(days=1), "created_at__lt": midnight}
    assert listed(urlencode(today)) == {Channel.SMS, Channel.EMAIL}
    assert listed(urlencode(yesterday)) == set()


def test_the_message_log_is_read_only_and_escapes_what_customers_typed(client_of, manager_a):
    account = manager_a.account
    evil = customer_of(account, name="<script>alert(1)</script>")
    service = service_registered(account, agency=agency_with_templates(account), customer=evil)
    email = service.messages.get(channel=Channel.EMAIL)
    client = client_of(manager_a)
    page = client.get(f"{ADMIN_LOG}{email.pk}/change/").content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # the text part
    assert "&amp;lt;script&amp;gt;" in page  # the HTML part, shown as source
    assert "<script>alert(1)" not in page
    assert client.get(f"{ADMIN_LOG}add/").status_code == 403
    assert client.post(f"{ADMIN_LOG}{email.pk}/delete/", {"post": "yes"}).status_code == 403
    assert OutboxMessage.objects.filter(pk=email.pk).exists()


def test_the_message_log_shows_nothing_of_another_account(client_of, manager_b, account_a):
    service = service_registered(account_a, agency=agency_with_templates(account_a))
    message = service.messages.first()
    client = client_of(manager_b)
    assert list(client.get(ADMIN_LOG).context["cl"].result_list) == []
    assert client.get(f"{ADMIN_LOG}{message.pk}/change/").status_code == 404


def test_a_branch_operator_sees_only_the_messages_of_the_branchs_services(client_of, account_a):
    from accounts.models import Role
    from tests.factories import BranchFactory, UserFactory

    mine, theirs = BranchFactory(account=account_a), BranchFactory(account=account_a)
    operator = UserFactory(account=account_a, role=Role.OPERATOR, branch=mine)
    agency = agency_with_templates(account_a)
    seen = service_registered(account_a, agency=agency, branch=mine)
    service_registered(account_a, agency=agency, branch=theirs, order_number="OTHER-1")
    listed = client_of(operator).get(ADMIN_LOG).context["cl"].result_list
    assert {message.service_id for message in listed} == {seen.pk}
