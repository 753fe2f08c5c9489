"""What the providers tell us after sending: Twilio's status callbacks and Anymail's tracking
webhooks (both authenticated) move outbox messages to delivered, failed or bounced.

Statuses only move forward (a late "sent" never undoes "delivered"), and a callback for a message
whose send had an unknown outcome settles it: the provider's id is recorded, so the message is
not sent again.
"""

import logging
from decimal import Decimal, InvalidOperation

from anymail import urls as anymail_urls
from anymail.signals import EventType
from anymail.utils import get_anymail_setting
from django.conf import settings
from django.db import transaction
from django.http import Http404, HttpResponse, HttpResponseForbidden
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.request_validator import RequestValidator

from .models import Channel, MessageStatus, OutboxMessage

logger = logging.getLogger(__name__)

M = MessageStatus
# Which statuses each news may replace: news never moves a message back. "delivered" may replace
# "failed": a send whose outcome was unknown is marked failed, and this is the proof it went out.
MOVES_FROM = {
    M.SENT: {M.QUEUED, M.SENDING},
    M.DELIVERED: {M.QUEUED, M.SENDING, M.SENT, M.FAILED},
    M.FAILED: {M.QUEUED, M.SENDING, M.SENT},
    # An e-mail can bounce after the receiving server first accepted it.
    M.BOUNCED: {M.QUEUED, M.SENDING, M.SENT, M.DELIVERED, M.FAILED},
}

TWILIO_STATUSES = {
    "sent": M.SENT,
    "delivered": M.DELIVERED,
    "read": M.DELIVERED,
    "undelivered": M.FAILED,
    "failed": M.FAILED,
    "canceled": M.FAILED,
}

ANYMAIL_STATUSES = {
    EventType.SENT: M.SENT,
    EventType.DELIVERED: M.DELIVERED,
    EventType.BOUNCED: M.BOUNCED,
    EventType.REJECTED: M.FAILED,
    EventType.FAILED: M.FAILED,
}


def message_record_status(
    *, message, status, provider_id="", error="", cost=None, cost_currency="", at=None
):
    """Applies a provider's news to the message (locked): the new status when it moves forward,
    the provider id when the message had none, the cost when it had none. Returns whether the
    status changed."""
    at = at or timezone.now()
    with transaction.atomic():
        row = OutboxMessage.objects.select_for_update().get(pk=message.pk)
        fields = ["updated_at"]
        if provider_id and not row.provider_id:
            row.provider_id = provider_id[:120]
            fields.append("provider_id")
        if cost is not None and row.cost is None:
            row.cost, row.cost_currency = cost, cost_currency[:3]
            fields += ["cost", "cost_currency"]
        moved = row.status in MOVES_FROM.get(status, ())
        if moved:
            row.status = status
            fields.append("status")
            if row.sent_at is None:
                row.sent_at = at
                fields.append("sent_at")
            if status == M.DELIVERED:
                row.delivered_at = at
                row.error = ""
                fields += ["delivered_at", "error"]
            elif status in (M.FAILED, M.BOUNCED):
                row.error = error[:2000] or row.error
                fields.append("error")
        row.updated_at = timezone.now()
        row.save(update_fields=fields)
    return moved


# Twilio ------------------------------------------------------------------------------------------


def twilio_signature_valid(request):
    """Whether X-Twilio-Signature signs this request with our auth token. Twilio signs the URL it
    was given (SITE_URL + path, see lastmile.sending), whatever proxies say the host is."""
    token = settings.TWILIO_AUTH_TOKEN
    signature = request.headers.get("X-Twilio-Signature", "")
    if not token or not signature:
        return False
    url = f"{settings.SITE_URL}{request.get_full_path()}"
    return RequestValidator(token).validate(url, request.POST.dict(), signature)


@csrf_exempt
@require_POST
def twilio_status(request, message_id):
    """Twilio's status callback for one outbox message; unsigned or forged: 403."""
    if not twilio_signature_valid(request):
        return HttpResponseForbidden()
    status = TWILIO_STATUSES.get(request.POST.get("MessageStatus", "").lower())
    message = OutboxMessage.objects.filter(pk=message_id, channel=Channel.SMS).first()
    sid = request.POST.get("MessageSid", "")
    if message is None or status is None:
        return HttpResponse(status=204)
    if message.provider_id and sid and message.provider_id != sid:
        # Another send of the same row would mean a duplicate: never let it rewrite this one.
        logger.warning("twilio callback for message %s names %s, not %s", message.pk, sid,
                       message.provider_id)  # fmt: skip
        return HttpResponse(status=204)
    code = request.POST.get("ErrorCode", "")
    error = f"Twilio {code}: {request.POST.get('ErrorMessage', '')}".strip(": ") if code else ""
    message_record_status(
        message=message,
        status=status,
        provider_id=sid,
        error=error or request.POST.get("MessageStatus", ""),
        cost=_price(request.POST.get("Price")),
        cost_currency=request.POST.get("PriceUnit", ""),
    )
    return HttpResponse(status=204)


def _price(value):
    if not value:
        return None
    try:
        return abs(Decimal(value))
    except InvalidOperation:
        return None


# Anymail -----------------------------------------------------------------------------------------

# esp ("postmark", "mailgun", ...) -> Anymail's tracking webhook view for it.
TRACKING_VIEWS = {
    pattern.name.removesuffix("_tracking_webhook"): pattern.callback
    for pattern in anymail_urls.urlpatterns
    if pattern.name and pattern.name.endswith("_tracking_webhook")
}


@csrf_exempt
def anymail_tracking(request, esp):
    """Anymail's tracking webhook for the ESP, refused (403) while no ANYMAIL_WEBHOOK_SECRET is
    set: Anymail itself would then accept anyone's call with a warning. With the secret, Anymail
    checks it (HTTP basic authentication) and the ESP's own signature, and answers 400 to a
    forged call."""
    view = TRACKING_VIEWS.get(esp)
    if view is None:
        raise Http404
    if not get_anymail_setting("webhook_secret", default=None):
        return HttpResponseForbidden()
    return view(request)


def on_anymail_tracking(sender, *, event, esp_name, **kwargs):
    """Receiver of anymail.signals.tracking: finds the outbox message by the provider's message
    id, else by the outbox id we put in the message's metadata, and records the news."""
    status = ANYMAIL_STATUSES.get(event.event_type)
    if status is None:
        return
    message = _email_message(event.message_id, (event.metadata or {}).get("outbox_id"))
    if message is None:
        return
    error = event.description or event.mta_response or event.reject_reason or event.event_type
    message_record_status(
        message=message,
        status=status,
        provider_id=str(event.message_id or ""),
        error=str(error),
        at=event.timestamp,
    )


def _email_message(provider_id, outbox_id):
    emails = OutboxMessage.objects.filter(channel=Channel.EMAIL)
    if provider_id:
        message = emails.filter(provider_id=str(provider_id)).first()
        if message is not None:
            return message
    if outbox_id and str(outbox_id).isdigit():
        message = emails.filter(pk=int(outbox_id)).first()
        # A message recorded with another provider id is another send's: leave it.
        if message is not None and message.provider_id in ("", str(provider_id or "")):
            return message
    return None
