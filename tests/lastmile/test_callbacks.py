"""Provider callbacks: Twilio's signed status callbacks and Anymail's tracking webhooks move
messages forward (never back), settle unknown outcomes, and refuse whatever is not authentic."""

import base64
import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from twilio.request_validator import RequestValidator

from accounts.models import Trigger
from lastmile import sending
from lastmile.models import Channel, MessageStatus, OutboxMessage
from tests.factories import ServiceFactory
from tests.lastmile import fakes

pytestmark = pytest.mark.django_db

SID = "SM" + "1" * 32


@pytest.fixture(autouse=True)
def _providers(settings):
    settings.TWILIO_AUTH_TOKEN = fakes.TWILIO_TOKEN
    settings.ANYMAIL = {"WEBHOOK_SECRET": fakes.WEBHOOK_SECRET}


def message_of(account, channel=Channel.SMS, **values):
    defaults = {
        "service": ServiceFactory(account=account),
        "trigger": Trigger.DELIVERED,
        "to": "+5511999990001" if channel == Channel.SMS else "maria@example.com",
        "body": "Delivered.",
        "status": MessageStatus.SENT,
        "provider": "twilio" if channel == Channel.SMS else "postmark",
        "provider_id": SID if channel == Channel.SMS else "pm-1",
    }
    return OutboxMessage.objects.create(account=account, channel=channel, **(defaults | values))


# Twilio ------------------------------------------------------------------------------------------


def twilio_url(message):
    return f"/hooks/twilio/status/{message.pk}/"


def twilio_post(client, settings, path, params, *, token=fakes.TWILIO_TOKEN, signed_path=None):
    signature = RequestValidator(token).compute_signature(
        f"{settings.SITE_URL}{signed_path or path}", params
    )
    return client.post(path, params, headers={"X-Twilio-Signature": signature})


def test_a_signed_delivered_callback_marks_the_message_delivered(client, settings, account_a):
    message = message_of(account_a)
    response = twilio_post(
        client,
        settings,
        twilio_url(message),
        {"MessageSid": SID, "MessageStatus": "delivered", "Price": "-0.0075", "PriceUnit": "USD"},
    )
    assert response.status_code == 204
    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED and message.delivered_at is not None
    assert message.cost == Decimal("0.0075") and message.cost_currency == "USD"


@pytest.mark.parametrize("twilio_status", ["undelivered", "failed"])
def test_an_undelivered_callback_fails_the_message_with_the_code(
    client, settings, account_a, twilio_status
):
    message = message_of(account_a)
    twilio_post(
        client,
        settings,
        twilio_url(message),
        {"MessageSid": SID, "MessageStatus": twilio_status, "ErrorCode": "30003",
         "ErrorMessage": "Unreachable destination handset"},
    )  # fmt: skip
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED
    assert message.error == "Twilio 30003: Unreachable destination handset"


def test_statuses_never_move_back(client, settings, account_a):
    message = message_of(account_a)
    url = twilio_url(message)
    twilio_post(client, settings, url, {"MessageSid": SID, "MessageStatus": "delivered"})
    twilio_post(client, settings, url, {"MessageSid": SID, "MessageStatus": "sent"})
    twilio_post(client, settings, url, {"MessageSid": SID, "MessageStatus": "undelivered"})
    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED


def test_a_callback_settles_a_send_whose_answer_never_came(client, settings, account_a):
    # The send timed out: queued for a retry that would first ask Twilio. The callback tells.
    message = message_of(
        account_a,
        status=MessageStatus.QUEUED,
        provider_id="",
        tries=1,
        next_try_at=timezone.now() + timedelta(minutes=1),
    )
    twilio_post(client, settings, twilio_url(message), {"MessageSid": SID, "MessageStatus": "sent"})
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT and message.provider_id == SID
    assert sending.messages_due(now=timezone.now() + timedelta(hours=2)) == []


def test_a_callback_naming_another_send_changes_nothing(client, settings, account_a):
    message = message_of(account_a)
    other = "SM" + "2" * 32
    twilio_post(
        client, settings, twilio_url(message), {"MessageSid": other, "MessageStatus": "failed"}
    )
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT and message.provider_id == SID


@pytest.mark.parametrize(
    "how", ["unsigned", "wrong token", "signed for another message", "no token configured"]
)
def test_unsigned_or_forged_callbacks_are_refused(client, settings, account_a, how):
    message = message_of(account_a)
    other = message_of(account_a, trigger=Trigger.ROUTE_STARTED)
    params = {"MessageSid": SID, "MessageStatus": "failed"}
    url = twilio_url(message)
    if how == "unsigned":
        response = client.post(url, params)
    elif how == "wrong token":
        response = twilio_post(client, settings, url, params, token="not-the-token")
    elif how == "signed for another message":
        response = twilio_post(client, settings, url, params, signed_path=twilio_url(other))
    else:
        settings.TWILIO_AUTH_TOKEN = ""
        response = twilio_post(client, settings, url, params, token="anything")
    assert response.status_code == 403
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT


def test_the_twilio_callback_takes_posts_only(client, account_a):
    assert client.get(twilio_url(message_of(account_a))).status_code == 405


# Anymail (Postmark) ------------------------------------------------------------------------------

POSTMARK_HOOK = "/hooks/anymail/postmark/tracking/"


def postmark_post(client, payload, *, secret=fakes.WEBHOOK_SECRET):
    headers = {}
    if secret is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(secret.encode()).decode()
    return client.post(
        POSTMARK_HOOK, json.dumps(payload), content_type="application/json", headers=headers
    )


def delivery(message_id, **extra):
    return {
        "RecordType": "Delivery",
        "MessageID": message_id,
        "Recipient": "maria@example.com",
        "DeliveredAt": "2030-03-04T10:00:00Z",
        "Details": "Test delivery webhook details",
        "Metadata": {},
        **extra,
    }


def test_a_delivery_webhook_marks_the_email_delivered(client, account_a):
    message = message_of(account_a, channel=Channel.EMAIL)
    assert postmark_post(client, delivery("pm-1")).status_code == 200
    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED and message.delivered_at is not None


def test_a_hard_bounce_marks_the_email_bounced_with_the_reason(client, account_a):
    message = message_of(account_a, channel=Channel.EMAIL)
    bounce = {
        "RecordType": "Bounce",
        "Type": "HardBounce",
        "TypeCode": 1,
        "MessageID": "pm-1",
        "Email": "maria@example.com",
        "BouncedAt": "2030-03-04T10:00:00Z",
        "Description": "The server was unable to deliver your message (ex: unknown user).",
        "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
    }
    postmark_post(client, bounce)
    message.refresh_from_db()
    assert message.status == MessageStatus.BOUNCED
    assert "unable to deliver" in message.error


def test_an_email_that_timed_out_is_found_by_its_metadata(client, account_a):
    message = message_of(
        account_a,
        channel=Channel.EMAIL,
        status=MessageStatus.FAILED,
        provider_id="",
        error="may have sent it",
    )
    postmark_post(client, delivery("pm-9", Metadata={"outbox_id": str(message.pk)}))
    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED
    assert message.provider_id == "pm-9" and message.error == ""


def test_metadata_cannot_take_over_a_message_sent_under_another_id(client, account_a):
    message = message_of(account_a, channel=Channel.EMAIL, provider_id="pm-1")
    bounce_of_other = delivery("pm-other", Metadata={"outbox_id": str(message.pk)})
    postmark_post(client, {**bounce_of_other, "RecordType": "Bounce", "Type": "HardBounce"})
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT


@pytest.mark.parametrize("secret", [None, "hook:wrong"])
def test_a_webhook_without_the_secret_is_refused(client, account_a, secret):
    message = message_of(account_a, channel=Channel.EMAIL)
    assert postmark_post(client, delivery("pm-1"), secret=secret).status_code == 400
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT


def test_without_a_configured_secret_every_webhook_is_refused(client, settings, account_a):
    settings.ANYMAIL = {}
    message = message_of(account_a, channel=Channel.EMAIL)
    assert postmark_post(client, delivery("pm-1"), secret=None).status_code == 403
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT


def test_an_unknown_esp_is_404(client):
    assert client.post("/hooks/anymail/nope/tracking/").status_code == 404
