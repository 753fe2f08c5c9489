"""Sending the outbox against the local fakes of Twilio and Postmark: what is recorded, which
errors are retried (and when), which are final, and what is never sent twice."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import Trigger
from lastmile import sending
from lastmile.models import Channel, MessageStatus, OutboxMessage
from lastmile.tasks import send_message, sweep_outbox
from tests.factories import ServiceFactory
from tests.lastmile import fakes
from tracking.lib import sms

pytestmark = pytest.mark.django_db


def queued(account, channel=Channel.SMS, **values):
    """An outbox row as the outbox writes it (without the event, which is not the point here)."""
    service = values.pop("service", None) or ServiceFactory(account=account)
    defaults = {
        "trigger": Trigger.DELIVERED,
        "to": "+5511999990001" if channel == Channel.SMS else "maria@example.com",
        "body": "Acme Express: your order PED-10422 was delivered.",
    }
    if channel == Channel.EMAIL:
        defaults |= {
            "subject": "Your order PED-10422 was delivered",
            "html": "<p>Your order <b>PED-10422</b> was delivered.</p>",
        }
    return OutboxMessage.objects.create(
        account=account, service=service, channel=channel, **(defaults | values)
    )


def send(message, now=None):
    status = sending.message_send(message_id=message.pk, now=now)
    message.refresh_from_db()
    return status


def at(minutes):
    return timezone.now() + timedelta(minutes=minutes)


# SMS through Twilio ------------------------------------------------------------------------------


def test_an_sms_is_sent_once_and_recorded(twilio, account_a, settings):
    twilio.price = "-0.00750"
    message = queued(account_a)
    assert send(message) == MessageStatus.SENT
    [sent] = twilio.messages
    assert (sent["to"], sent["from"], sent["body"]) == (message.to, fakes.TWILIO_FROM, message.body)
    assert sent["status_callback"] == f"{settings.SITE_URL}/hooks/twilio/status/{message.pk}/"
    assert message.provider == "twilio" and message.provider_id == sent["sid"]
    assert message.cost == Decimal("0.00750") and message.cost_currency == "USD"
    assert message.sent_at is not None and message.tries == 1 and message.error == ""
    assert send(message) is None  # sent: nothing to claim
    assert len(twilio.messages) == 1


@pytest.mark.parametrize("code", [21211, 21614])
def test_an_invalid_number_fails_at_once_with_the_reason(twilio, account_a, code):
    twilio.fail_next(400, {"code": code, "message": "Invalid 'To' Phone Number", "status": 400})
    message = queued(account_a)
    assert send(message) == MessageStatus.FAILED
    assert str(code) in message.error and "Invalid 'To' Phone Number" in message.error
    assert sending.messages_due(now=at(120)) == []


def test_a_busy_provider_is_retried_after_the_backoff_then_given_up(twilio, account_a):
    message = queued(account_a)
    now = timezone.now()
    for backoff in (1, 5, 15, 60):
        twilio.fail_next(429, {"code": 20429, "message": "Too Many Requests", "status": 429})
        assert send(message, now=now) == MessageStatus.QUEUED
        assert message.next_try_at == now + timedelta(minutes=backoff)
        assert message.provider == ""  # refused: certainly not sent, nothing to ask next time
        assert send(message, now=now + timedelta(minutes=backoff - 0.5)) is None  # not yet due
        now = message.next_try_at
    twilio.fail_next(429, {"code": 20429, "message": "Too Many Requests", "status": 429})
    assert send(message, now=now) == MessageStatus.FAILED
    assert message.tries == sending.MAX_TRIES and "429" in message.error
    assert twilio.messages == []


def test_a_server_error_asks_twilio_before_sending_again(twilio, account_a):
    twilio.fail_next(503, {"code": 20500, "message": "Service Unavailable", "status": 503})
    message = queued(account_a)
    assert send(message) == MessageStatus.QUEUED
    assert message.provider == "twilio"  # it may have been taken: ask first next time
    assert send(message, now=at(2)) == MessageStatus.SENT
    assert len(twilio.messages) == 1
    methods = [method for method, _path in twilio.requests]
    assert methods == ["POST", "GET", "POST"]


def test_an_unreachable_provider_is_retried(account_a, settings):
    with fakes.FakeTwilio() as gone:
        fakes.use_twilio(settings, gone)
    message = queued(account_a)  # the fake is stopped: connection refused
    assert send(message) == MessageStatus.QUEUED
    with fakes.FakeTwilio() as twilio:
        fakes.use_twilio(settings, twilio)
        assert send(message, now=at(2)) == MessageStatus.SENT
    assert len(twilio.messages) == 1


def test_a_message_left_sending_by_a_worker_that_timed_out_waits_for_the_stale_claim(
    twilio, account_a
):
    message = queued(account_a)
    sending.message_claim(message_id=message.pk)
    assert sending.messages_due(now=at(4)) == []
    assert sending.messages_due(now=at(6)) == [message.pk]


# E-mail through Anymail's Postmark backend -------------------------------------------------------


def test_an_email_goes_with_html_text_and_our_id_in_its_metadata(postmark, account_a):
    message = queued(account_a, channel=Channel.EMAIL)
    assert send(message) == MessageStatus.SENT
    [email] = postmark.messages
    assert email["To"] == "maria@example.com"
    assert email["Subject"] == message.subject
    assert email["TextBody"] == message.body and email["HtmlBody"] == message.html
    assert email["Metadata"] == {"outbox_id": str(message.pk)}
    assert email["Tag"] == Trigger.DELIVERED
    assert message.provider == "postmark" and message.provider_id == email["MessageID"]


def test_an_invalid_address_fails_at_once(postmark, account_a):
    postmark.fail_next(422, {"ErrorCode": 300, "Message": "Invalid 'To' address: 'maria@exa'."})
    message = queued(account_a, channel=Channel.EMAIL, to="maria@exa")
    assert send(message) == MessageStatus.FAILED
    assert "maria@exa" in message.error


def test_an_esp_outage_is_retried(postmark, account_a):
    postmark.fail_next(500, {"ErrorCode": 500, "Message": "Internal Server Error"})
    message = queued(account_a, channel=Channel.EMAIL)
    assert send(message) == MessageStatus.QUEUED and message.provider == ""
    assert send(message, now=at(2)) == MessageStatus.SENT
    assert len(postmark.messages) == 1


def test_an_esp_that_times_out_is_not_sent_again(postmark, account_a):
    postmark.delay_s = 1.5  # the e-mail is taken, the answer comes after the client gave up
    message = queued(account_a, channel=Channel.EMAIL)
    assert send(message) == MessageStatus.QUEUED
    assert message.provider == "postmark"  # it may have been taken: ask first next time
    postmark.delay_s = 0
    assert send(message, now=at(2)) == MessageStatus.SENT
    assert len(postmark.messages) == 1
    assert message.provider_id == postmark.messages[0]["MessageID"]


def test_an_email_whose_worker_died_before_sending_is_sent_once(postmark, account_a):
    message = queued(account_a, channel=Channel.EMAIL)
    sending.message_claim(message_id=message.pk)  # ...and the worker dies
    for message_id in sending.messages_due(now=at(6)):
        sending.message_send(message_id=message_id, now=at(6))
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert len(postmark.messages) == 1


def test_an_email_whose_worker_died_during_the_call_is_not_sent_again(postmark, account_a):
    message = queued(account_a, channel=Channel.EMAIL)
    sending.message_claim(message_id=message.pk)
    OutboxMessage.objects.filter(pk=message.pk).update(provider="postmark")  # handed over...
    # ...Postmark took it, and the worker died before the answer: Postmark's search finds it.
    postmark.messages.append(
        {"To": message.to, "MessageID": "pm-1", "Metadata": {"outbox_id": str(message.pk)}}
    )
    assert send(message, now=at(6)) == MessageStatus.SENT
    assert message.provider_id == "pm-1"
    assert len(postmark.messages) == 1


# The tasks and the local backends ----------------------------------------------------------------


def test_the_sweep_sends_what_lost_its_enqueue_and_what_is_due(account_a):
    lost = queued(account_a)
    OutboxMessage.objects.filter(pk=lost.pk).update(
        created_at=timezone.now() - timedelta(minutes=2)
    )
    fresh = queued(account_a, trigger=Trigger.DELIVERY_STARTED)  # its own task is on the way
    retry = queued(account_a, trigger=Trigger.ROUTE_STARTED)
    OutboxMessage.objects.filter(pk=retry.pk).update(
        next_try_at=timezone.now() - timedelta(seconds=1)
    )
    assert sweep_outbox.delay().get() == 2
    assert {m.to for m in sms.outbox} == {lost.to}
    assert len(sms.outbox) == 2
    fresh.refresh_from_db()
    assert fresh.status == MessageStatus.QUEUED


def test_the_send_task_is_idempotent(account_a):
    message = queued(account_a)
    send_message.delay(message.pk)
    send_message.delay(message.pk)
    assert len(sms.outbox) == 1
    assert sms.outbox[0].provider_id == OutboxMessage.objects.get().provider_id
    assert send_message.acks_late is True


def test_the_file_backend_writes_one_file_per_message(account_a, settings, tmp_path):
    settings.SMS_BACKEND = "tracking.lib.sms.FileBackend"
    settings.SMS_FILE_PATH = str(tmp_path)
    message = queued(account_a)
    assert send(message) == MessageStatus.SENT
    [written] = list(tmp_path.glob("*.json"))
    data = json.loads(written.read_text())
    assert data["to"] == message.to and data["body"] == message.body
    assert message.provider == "file" and message.provider_id == data["provider_id"]


def test_the_console_backends_print_both_channels(account_a, settings, capsys):
    settings.SMS_BACKEND = "tracking.lib.sms.ConsoleBackend"
    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    send(queued(account_a))
    send(queued(account_a, channel=Channel.EMAIL))
    printed = capsys.readouterr().out
    assert "SMS to +5511999990001" in printed
    assert "Subject: Your order PED-10422 was delivered" in printed
    assert set(OutboxMessage.objects.values_list("status", flat=True)) == {MessageStatus.SENT}


# A real worker -----------------------------------------------------------------------------------


@pytest.fixture
def twilio_for_workers(monkeypatch):
    """The fake, and the environment a worker process needs to send to it (set before the
    worker starts)."""
    with fakes.FakeTwilio() as fake:
        monkeypatch.setenv("SMS_BACKEND", "tracking.lib.sms.TwilioBackend")
        monkeypatch.setenv("TWILIO_ACCOUNT_SID", fakes.TWILIO_SID)
        monkeypatch.setenv("TWILIO_AUTH_TOKEN", fakes.TWILIO_TOKEN)
        monkeypatch.setenv("TWILIO_FROM_NUMBER", fakes.TWILIO_FROM)
        monkeypatch.setenv("TWILIO_BASE_URL", fake.url)
        yield fake


@pytest.mark.redis
@pytest.mark.postgres
def test_a_real_worker_sends_an_outbox_row_once(twilio_for_workers, celery_worker, account_a):
    import time

    from django.db import transaction

    from lastmile import outbox
    from tests.lastmile.fakes import agency_with_templates, service_registered

    agency = agency_with_templates(account_a)
    service = service_registered(account_a, agency=agency)  # committed: tasks go to the worker
    message = service.messages.get(channel=Channel.SMS)
    with transaction.atomic():  # the same event again: nothing more
        outbox.messages_queue(service_id=service.pk, trigger=Trigger.SERVICE_REGISTERED)
    send_message.delay(message.pk)  # and a retried task
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        message.refresh_from_db()
        if message.status == MessageStatus.SENT:
            break
        time.sleep(0.2)
    time.sleep(1)  # time for a second send, were there one
    assert message.status == MessageStatus.SENT, celery_worker.log_path.read_text()
    assert len(twilio_for_workers.messages) == 1
    assert message.provider_id == twilio_for_workers.messages[0]["sid"]
