"""Sending the outbox: a task claims one row, hands it to the SMS backend or to Django's e-mail
API once, and records what the provider answered; failures are retried with backoff or end the
row as failed with the reason.

Exactly once, as far as the providers allow:
- A claim is a conditional UPDATE (queued and due, or `sending` with a claim older than
  STALE_CLAIM, i.e. a dead worker's): two tasks for one row (a retried task, the sweep, a
  redelivered message) never both hold it.
- Right before the provider call the row records the provider it goes to, and right after the
  call the provider's id, each in its own short transaction. A row with a provider but no
  provider id was handed over with an unknown outcome: the worker died during the call, or the
  answer did not come in time (a timeout, a 5xx).
- Such a row is never sent again blindly. Twilio has no idempotency key for messages, but its
  message list can be asked whether it accepted a message to that number with that text since
  the row was written: found, the row is recorded as sent; not found, it is sent. Postmark is
  asked the same way, through its outbound message search by the outbox id that every e-mail
  carries in its metadata (EMAIL_FINDERS). Another e-mail provider cannot be asked through
  Anymail: the row is marked failed ("may have been sent"), and the provider's tracking
  webhook, which finds the row by the id in the message metadata, corrects it if the e-mail was
  in fact sent; one that never left (the worker died between the record and the call) is lost.
Residual risk: the provider accepted a message but does not list it yet when asked (we ask a
minute later at the earliest), or a worker dies in the milliseconds between an unaskable
e-mail provider's answer and the record (the row is then failed, not sent twice).
"""

import logging
import smtplib
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from email.utils import make_msgid

import requests
from anymail.exceptions import (
    AnymailConfigurationError,
    AnymailError,
    AnymailInvalidAddress,
    AnymailRecipientsRefused,
    AnymailRequestsAPIError,
)
from django.conf import settings
from django.core import mail
from django.db.models import Case, F, Q, TextField, Value, When
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from tracking.lib import sms

from .models import Channel, MessageStatus, OutboxMessage

logger = logging.getLogger(__name__)

# A claim older than this is a dead worker's (the send task is killed after 60 s).
STALE_CLAIM = timedelta(minutes=5)
# Waits before each retry of a transient failure; after the last, the message fails.
BACKOFF = [timedelta(minutes=minutes) for minutes in (1, 5, 15, 60)]
MAX_TRIES = len(BACKOFF) + 1
# A queued row whose task never came (its enqueue was lost) is picked up after this.
LOST_ENQUEUE = timedelta(minutes=1)
# Clocks differ: a provider's "created at" may be a little before our row's.
CLOCK_SKEW = timedelta(minutes=2)


@dataclass(frozen=True)
class Failure:
    text: str
    permanent: bool = False
    # The provider may have accepted it: never send again without asking it first.
    maybe_sent: bool = False


@dataclass(frozen=True)
class Accepted:
    provider_id: str
    cost: Decimal | None = None
    cost_currency: str = ""


def message_claim(*, message_id, now=None):
    """Takes the message for sending when it is queued and due, or left `sending` by a dead
    worker: one conditional UPDATE (status sending, tries + 1). Returns the message, or None
    when it is not claimable (sent, failed, not due, or held by a live worker)."""
    now = now or timezone.now()
    due = Q(status=MessageStatus.QUEUED) & (Q(next_try_at__isnull=True) | Q(next_try_at__lte=now))
    stale = Q(status=MessageStatus.SENDING, claimed_at__lt=now - STALE_CLAIM)
    claimed = OutboxMessage.objects.filter(due | stale, pk=message_id).update(
        status=MessageStatus.SENDING,
        claimed_at=now,
        tries=F("tries") + 1,
        next_try_at=None,
        updated_at=now,
    )
    if not claimed:
        return None
    return OutboxMessage.objects.get(pk=message_id)


def message_send(*, message_id, now=None):
    """Claims the message, sends it once and records the outcome. Idempotent: a message that
    is not claimable is left alone. Returns the message's status afterwards (None when it was not
    claimed)."""
    message = message_claim(message_id=message_id, now=now)
    if message is None:
        return None
    sender = _Sender.for_message(message)
    if message.provider and not message.provider_id:
        _settle_unknown(message, sender)
    elif message.tries > MAX_TRIES:
        # Taken over from dead workers more often than it may be tried.
        _fail(message, message.error or _("Gave up after %(tries)s tries.") % {"tries": MAX_TRIES})
    else:
        _hand_over(message, sender)
    return OutboxMessage.objects.values_list("status", flat=True).get(pk=message.pk)


def _settle_unknown(message, sender):
    """The last hand-over's outcome is unknown: ask the provider when it can be asked, and send
    only when it did not accept the message; otherwise give up rather than risk a duplicate."""
    if not sender.can_find_sent(message.provider):
        _fail(
            message,
            _(
                "The provider did not confirm the message and may have sent it; it was not sent "
                "again to avoid a duplicate."
            ),
        )
        return
    try:
        accepted = sender.find_sent(message)
    except (sms.SmsError, LookupFailed) as exc:
        _retry_or_fail(message, str(exc), keep_provider=True)
        return
    if accepted is not None:
        _record_sent(message, accepted)
    elif message.tries > MAX_TRIES:
        _fail(message, message.error or _("Gave up after %(tries)s tries.") % {"tries": MAX_TRIES})
    else:
        _hand_over(message, sender)


def _hand_over(message, sender):
    # Recorded before the call, in its own transaction: a row with a provider and no provider id
    # afterwards is one whose outcome is unknown (see the module's docstring).
    marked = OutboxMessage.objects.filter(
        pk=message.pk, status=MessageStatus.SENDING, claimed_at=message.claimed_at
    ).update(provider=sender.provider, updated_at=timezone.now())
    if not marked:
        return
    message.provider = sender.provider
    try:
        accepted = sender.send(message)
    except SendFailed as exc:
        failure = exc.failure
        if failure.permanent:
            _fail(message, failure.text)
        elif failure.maybe_sent and not sender.can_find_sent(message.provider):
            _fail(
                message,
                _("%(error)s. The provider may have sent it; it was not sent again to avoid a"
                  " duplicate.") % {"error": failure.text.rstrip(".")},
            )  # fmt: skip
        else:
            _retry_or_fail(message, failure.text, keep_provider=failure.maybe_sent)
        return
    _record_sent(message, accepted)


def _record_sent(message, accepted):
    """One UPDATE (no read-then-write transaction: SQLite would refuse it under load). A
    provider's callback may have come first: a status it set (delivered, failed) is newer news
    and stays, and so do the provider id and cost it recorded."""
    now = timezone.now()
    unsent = Q(status__in=[MessageStatus.QUEUED, MessageStatus.SENDING])
    changes = {
        "provider_id": Case(
            When(provider_id="", then=Value(accepted.provider_id)), default=F("provider_id")
        ),
        "status": Case(When(unsent, then=Value(MessageStatus.SENT)), default=F("status")),
        "sent_at": Coalesce(F("sent_at"), Value(now)),
        "error": Case(When(unsent, then=Value("")), default=F("error"), output_field=TextField()),
        "updated_at": now,
    }
    if accepted.cost is not None:
        changes["cost"] = Coalesce(F("cost"), Value(accepted.cost))
        changes["cost_currency"] = Case(
            When(cost__isnull=True, then=Value(accepted.cost_currency)),
            default=F("cost_currency"),
        )
    OutboxMessage.objects.filter(pk=message.pk).update(**changes)


def _retry_or_fail(message, text, *, keep_provider):
    if message.tries >= MAX_TRIES:
        _fail(message, text)
        return
    OutboxMessage.objects.filter(pk=message.pk, status=MessageStatus.SENDING).update(
        status=MessageStatus.QUEUED,
        # Counted from the claim: the try began then.
        next_try_at=message.claimed_at + BACKOFF[min(message.tries, len(BACKOFF)) - 1],
        error=text[:2000],
        # Only a failure that may have reached the provider keeps it: the next try asks first.
        provider=message.provider if keep_provider else "",
        updated_at=timezone.now(),
    )


def _fail(message, text):
    OutboxMessage.objects.filter(
        pk=message.pk, status__in=[MessageStatus.QUEUED, MessageStatus.SENDING]
    ).update(status=MessageStatus.FAILED, error=text[:2000], updated_at=timezone.now())


def messages_due(*, now=None, limit=500):
    """The ids of messages to (re)send now: queued ones whose retry is due or whose first
    enqueue was lost, and ones left `sending` by a dead worker."""
    now = now or timezone.now()
    due = (
        Q(status=MessageStatus.QUEUED, next_try_at__lte=now)
        | Q(
            status=MessageStatus.QUEUED, next_try_at__isnull=True, created_at__lt=now - LOST_ENQUEUE
        )
        | Q(status=MessageStatus.SENDING, claimed_at__lt=now - STALE_CLAIM)
    )
    return list(
        OutboxMessage.objects.filter(due)
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )


# Talking to the providers ------------------------------------------------------------------------


class LookupFailed(Exception):
    """The provider could not be asked whether it took a message (try again later)."""


class SendFailed(Exception):
    """The provider did not take the message; failure says how (permanent, maybe sent)."""

    def __init__(self, failure):
        super().__init__(failure.text)
        self.failure = failure


class _Sender:
    """One channel's way out: the SMS backend or Django's e-mail connection."""

    @staticmethod
    def for_message(message):
        return _SmsSender() if message.channel == Channel.SMS else _EmailSender()


class _SmsSender(_Sender):
    def __init__(self):
        self.backend = sms.get_backend()
        self.provider = self.backend.provider or type(self.backend).__name__.lower()

    def can_find_sent(self, provider):
        return self.backend.can_find_sent and provider == self.provider

    def _sms(self, message):
        callback = reverse("lastmile_hooks:twilio_status", args=[message.pk])
        return sms.SmsMessage(
            to=message.to,
            body=message.body,
            meta={"status_callback": f"{settings.SITE_URL}{callback}"},
        )

    def find_sent(self, message):
        found = self.backend.find_sent(self._sms(message), since=message.created_at - CLOCK_SKEW)
        return _accepted(found) if found is not None else None

    def send(self, message):
        try:
            sent = self.backend.send(self._sms(message))
        except sms.SmsError as exc:
            raise SendFailed(
                Failure(str(exc), permanent=exc.permanent, maybe_sent=exc.maybe_sent)
            ) from exc
        except OSError as exc:  # a local backend (the file one) could not write
            raise SendFailed(Failure(str(exc))) from exc
        return _accepted(sent)


def _accepted(sms_message):
    cost = None
    price = sms_message.meta.get("price")
    if price not in (None, ""):
        try:
            # Twilio reports what it charged as a negative amount.
            cost = abs(Decimal(str(price)))
        except InvalidOperation:
            cost = None
    return Accepted(
        provider_id=sms_message.provider_id,
        cost=cost,
        cost_currency=(sms_message.meta.get("price_unit") or "")[:3] if cost is not None else "",
    )


class _EmailSender(_Sender):
    def __init__(self):
        self.connection = mail.get_connection()
        esp = getattr(self.connection, "esp_name", "")
        self.provider = (esp or type(self.connection).__module__.rsplit(".", 1)[-1]).lower()
        self.finder = EMAIL_FINDERS.get(self.provider) if esp else None

    def can_find_sent(self, provider):
        return self.finder is not None and provider == self.provider

    def find_sent(self, message):
        return self.finder(self.connection, message)

    def send(self, message):
        domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2].rstrip(">") or None
        message_id = make_msgid(idstring=f"outbox{message.pk}", domain=domain)
        email = mail.EmailMultiAlternatives(
            subject=message.subject,
            body=message.body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[message.to],
            headers={"Message-ID": message_id},
            connection=self.connection,
        )
        if message.html:
            email.attach_alternative(message.html, "text/html")
        # Anymail sends these to the provider, whose tracking webhooks bring them back.
        email.metadata = {"outbox_id": str(message.pk)}
        email.tags = [message.trigger]
        try:
            email.send()
        except Exception as exc:
            raise SendFailed(_email_failure(exc)) from exc
        status = getattr(email, "anymail_status", None)
        provider_id = status.message_id if status is not None else None
        return Accepted(provider_id=str(provider_id or message_id)[:120])


def _postmark_find_sent(connection, message):
    """Postmark's outbound message search for the e-mail that carries the outbox id in its
    metadata (every one we send does): Accepted when Postmark has it, else None."""
    try:
        response = requests.get(
            f"{connection.api_url}messages/outbound",
            params={"count": 1, "offset": 0, "metadata_outbox_id": str(message.pk)},
            headers={
                "Accept": "application/json",
                "X-Postmark-Server-Token": connection.server_token,
            },
            timeout=connection.timeout,
        )
        response.raise_for_status()
        found = response.json().get("Messages") or []
    except (requests.RequestException, ValueError) as exc:
        raise LookupFailed(f"Postmark: {exc}") from exc
    return Accepted(provider_id=str(found[0]["MessageID"])[:120]) if found else None


# E-mail providers that can be asked whether they took a message, by Anymail's esp_name.
EMAIL_FINDERS = {"postmark": _postmark_find_sent}


def _email_failure(exc):
    text = _error_text(exc)
    if isinstance(exc, AnymailRecipientsRefused | AnymailInvalidAddress):
        return Failure(text, permanent=True)
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return Failure(text, permanent=True)
    if isinstance(exc, AnymailRequestsAPIError):
        # Anymail raises a class that is also the underlying requests exception.
        if isinstance(exc, requests.ConnectTimeout):
            return Failure(text)
        if isinstance(exc, requests.Timeout):
            return Failure(text, maybe_sent=True)
        if isinstance(exc, requests.ConnectionError):
            return Failure(text)  # refused or unreachable: nothing was sent
        status = exc.status_code
        if status is None:
            return Failure(text, maybe_sent=True)
        # The provider answered that it did not send it: too many requests, an outage, or a
        # refusal of this message (invalid address, inactive recipient) that a retry cannot fix.
        return Failure(text, permanent=400 <= status < 500 and status != 429)
    if isinstance(exc, AnymailConfigurationError):
        return Failure(text)
    if isinstance(exc, AnymailError):
        return Failure(text, permanent=True)
    if isinstance(exc, TimeoutError):
        return Failure(text, maybe_sent=True)
    if isinstance(exc, smtplib.SMTPException | OSError):
        return Failure(text)
    logger.exception("outbox: unexpected e-mail error")
    return Failure(text, maybe_sent=True)


def _error_text(exc):
    """One line for the message log: the error and, from Anymail, the provider's own answer."""
    text = str(exc)
    response = getattr(exc, "response", None)
    answer = getattr(response, "text", "")
    if answer and answer not in text:
        text = f"{text}: {answer}"
    return " ".join(text.split())[:500] or type(exc).__name__
