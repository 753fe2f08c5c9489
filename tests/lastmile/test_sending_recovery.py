"""An e-mail whose worker died in the middle of its send is settled by asking Postmark (found by
the soak: a worker killed between recording the hand-over and the call left an e-mail marked
"may have been sent" that Postmark never received, so the customer never got it)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from lastmile import sending
from lastmile.models import Channel, MessageStatus, OutboxMessage
from tests.lastmile.test_sending import queued

pytestmark = pytest.mark.django_db


def _cut_off_during_the_call(message, provider="postmark"):
    """What a worker killed after recording the hand-over and before the answer leaves."""
    sending.message_claim(message_id=message.pk)
    OutboxMessage.objects.filter(pk=message.pk).update(provider=provider)


def _sweep_later(minutes=6):
    now = timezone.now() + timedelta(minutes=minutes)
    for message_id in sending.messages_due(now=now):
        sending.message_send(message_id=message_id, now=now)


def test_an_email_that_never_reached_postmark_is_sent_once(postmark, account_a):
    message = queued(account_a, channel=Channel.EMAIL)
    _cut_off_during_the_call(message)
    _sweep_later()
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT and message.tries == 2
    assert [email["Metadata"] for email in postmark.messages] == [{"outbox_id": str(message.pk)}]
    assert message.provider_id == postmark.messages[0]["MessageID"]
    # Asked first, then sent.
    assert [method for method, _path in postmark.requests] == ["GET", "POST"]


def test_an_email_postmark_has_is_recorded_without_a_second_send(postmark, account_a):
    message = queued(account_a, channel=Channel.EMAIL)
    _cut_off_during_the_call(message)
    # Another message to the same customer, sent before: the search is by our own id.
    other = queued(account_a, channel=Channel.EMAIL, status=MessageStatus.SENT)
    postmark.messages += [
        {"To": other.to, "MessageID": "pm-other", "Metadata": {"outbox_id": str(other.pk)}},
        {"To": message.to, "MessageID": "pm-1", "Metadata": {"outbox_id": str(message.pk)}},
    ]
    _sweep_later()
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT and message.provider_id == "pm-1"
    assert [method for method, _path in postmark.requests] == ["GET"]


def test_postmark_that_cannot_be_asked_is_asked_again_later(postmark, account_a):
    message = queued(account_a, channel=Channel.EMAIL)
    _cut_off_during_the_call(message)
    postmark.fail_next(500, {"ErrorCode": 500, "Message": "Internal Server Error"})
    _sweep_later()
    message.refresh_from_db()
    assert message.status == MessageStatus.QUEUED and message.provider == "postmark"
    assert postmark.messages == []
    _sweep_later(minutes=30)
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert len(postmark.messages) == 1


def test_an_esp_that_cannot_be_asked_still_gives_up_rather_than_risk_a_duplicate(
    account_a, settings
):
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    message = queued(account_a, channel=Channel.EMAIL)
    _cut_off_during_the_call(message, provider="test")
    _sweep_later()
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED
    assert "may have sent it" in message.error
