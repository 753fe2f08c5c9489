"""Support chat between a route's driver and the call centre: conversations about a route or one of
its stops, their messages, and who has read them. The driver API and the operators' chat pages
both go through these functions."""

from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from services.actions import Actor
from tracking.lib.errors import Conflict, Invalid

from .actions import stop_reverse_failure
from .models import Conversation, ConversationStatus, Message, MessageAuthor

MAX_TEXT = 2000
# The most messages one read returns; a client polls again with the last id to get the rest.
MAX_MESSAGES = 200
# Whose messages a reader marks as read: the driver reads support's, support reads the driver's.
# System messages are notes for both sides and are never counted as unread.
READS = {MessageAuthor.DRIVER: MessageAuthor.SUPPORT, MessageAuthor.SUPPORT: MessageAuthor.DRIVER}


def conversation_open(*, route, stop=None):
    """The open conversation about the route (stop=None) or one of its stops, opened when there is
    none. Safe when two requests open it at once: the one-open constraints pick the winner and the
    other request gets the same conversation. Raises Invalid for a stop of another route."""
    if stop is not None and stop.route_id != route.pk:
        raise Invalid(_("Not found."), fields={"stop": [_("Not a stop of this route.")]})
    lookup = {"route": route, "stop": stop, "status": ConversationStatus.OPEN}
    conversation = Conversation.objects.filter(**lookup).first()
    if conversation is not None:
        return conversation
    try:
        with transaction.atomic():
            return Conversation.objects.create(account_id=route.account_id, **lookup)
    except IntegrityError:
        return Conversation.objects.get(**lookup)


def message_post(*, conversation, author, text, user=None):
    """Adds a message to an open conversation and moves its last_message_at. Raises Invalid for an
    empty or over-long text and Conflict when the conversation was closed."""
    text = (text or "").strip()
    if not text:
        raise Invalid(_("Write a message."), fields={"text": [_("Write a message.")]})
    if len(text) > MAX_TEXT:
        message = _("Write at most %(count)d characters.") % {"count": MAX_TEXT}
        raise Invalid(message, fields={"text": [message]})
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().get(pk=conversation.pk)
        if conversation.status != ConversationStatus.OPEN:
            raise Conflict(_("This conversation is closed."), code="conversation_closed")
        message = Message.objects.create(
            account_id=conversation.account_id,
            conversation=conversation,
            author=author,
            user=user,
            text=text,
        )
        conversation.last_message_at = message.created_at
        conversation.save(update_fields=["last_message_at"])
    return message


def message_send(*, route, author, text, stop=None, user=None):
    """Posts to the open conversation about (route, stop), opening one when none is open."""
    with transaction.atomic():
        conversation = conversation_open(route=route, stop=stop)
        return message_post(conversation=conversation, author=author, text=text, user=user)


def conversation_open_for_failure(*, stop):
    """Opens (or reuses) the failed stop's conversation and posts a system message saying why it
    failed, in the account's language, so support sees it without asking."""
    reason = stop.failure_reason
    with translation.override(stop.account.language):
        text = _("Stop %(sequence)s (%(address)s) failed: %(reason)s.") % {
            "sequence": stop.sequence,
            "address": stop.service.address_line or stop.service,
            "reason": reason.description if reason else _("no reason given"),
        }
    if stop.failure_description:
        text = f"{text}\n{stop.failure_description}"
    return message_send(
        route=stop.route, stop=stop, author=MessageAuthor.SYSTEM, text=text[:MAX_TEXT]
    )


def messages_after(*, route, after_id=None, limit=MAX_MESSAGES):
    """The messages of all the route's conversations after the message after_id (every one when
    None), oldest first, at most limit, with their conversation."""
    messages = Message.objects.filter(
        account_id=route.account_id, conversation__route=route
    ).select_related("conversation")
    if after_id:
        messages = messages.filter(pk__gt=after_id)
    return list(messages.order_by("pk")[:limit])


def messages_mark_read(*, messages, reader):
    """Marks as read now the messages (already loaded) that the other side wrote and that `reader`
    (MessageAuthor.DRIVER or SUPPORT) has not read yet; updates the instances too. Returns how
    many were marked."""
    unread = [
        message
        for message in messages
        if message.author == READS[reader] and message.read_at is None
    ]
    if not unread:
        return 0
    now = timezone.now()
    Message.objects.filter(pk__in=[message.pk for message in unread], read_at__isnull=True).update(
        read_at=now
    )
    for message in unread:
        message.read_at = now
    return len(unread)


def conversation_close(*, conversation, user, ticket_type, reverse_failure=False):
    """Closes an open conversation with how it was resolved (an active chat ticket type of its
    account), by the user, leaving the driver a system message that says so. With
    reverse_failure its failed stop also becomes done (routes.actions.stop_reverse_failure), in
    the same transaction: both happen or neither. Raises Invalid for a missing, inactive or
    foreign ticket type and for reversing a conversation about no stop, Conflict when it is
    closed already or the stop cannot be reversed."""
    if (
        ticket_type is None
        or ticket_type.account_id != conversation.account_id
        or not ticket_type.is_active
    ):
        message = _("Choose how the conversation was resolved.")
        raise Invalid(message, fields={"ticket_type": [message]})
    with transaction.atomic():
        # Locked alone: PostgreSQL cannot lock the nullable side of the join to the stop.
        conversation = Conversation.objects.select_for_update().get(pk=conversation.pk)
        if conversation.status != ConversationStatus.OPEN:
            raise Conflict(_("This conversation is closed."), code="conversation_closed")
        stop = conversation.stop
        if reverse_failure:
            if stop is None:
                message = _("This conversation is about the route, not about a failed stop.")
                raise Invalid(message, fields={"reverse_failure": [message]})
            stop = stop_reverse_failure(
                stop=stop,
                actor=Actor.for_user(user),
                ticket_type=ticket_type,
                conversation=conversation,
            )
        with translation.override(conversation.account.language):
            text = _("Support closed this conversation: %(ticket)s.") % {
                "ticket": ticket_type.description
            }
            if reverse_failure:
                text += " " + _("Stop %(sequence)s is now done.") % {"sequence": stop.sequence}
        note = Message.objects.create(
            account_id=conversation.account_id,
            conversation=conversation,
            author=MessageAuthor.SYSTEM,
            user=user,
            text=text[:MAX_TEXT],
        )
        conversation.status = ConversationStatus.CLOSED
        conversation.ticket_type = ticket_type
        conversation.closed_by = user
        conversation.closed_at = note.created_at
        conversation.last_message_at = note.created_at
        conversation.save(
            update_fields=["status", "ticket_type", "closed_by", "closed_at", "last_message_at"]
        )
    return conversation
