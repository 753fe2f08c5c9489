"""Reads for the support chat pages: the conversations a user may answer, one conversation and
its messages, and the ticket types that close one.

Who sees which conversation:
- managers and operators: their account's, narrowed like routes are (a branch user sees the
  conversations of the branch's routes), through accounts.access.scope;
- call-centre users: their chat scope, two lists set on the user. `chat_carriers` are carriers:
  a conversation is theirs when its route's carrier is one of them. `chat_states` are states
  (UF) where the deliveries happen: a conversation about a stop is theirs when the stop's service
  address is in one of them; one about the whole route when any of its services is, or its
  branch is. A list left empty does not narrow; both empty means no chat is theirs yet (a
  manager sets the scope), never every chat of the account.
Anything else is not there (a 404 on pages).
"""

from django.db.models import Count, Exists, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce, Left
from django.http import Http404

from accounts import access
from accounts.models import ChatTicketType, Role

from .chat import MAX_MESSAGES
from .models import Conversation, ConversationStatus, Message, MessageAuthor, Route, Stop

# The list shows at most this many conversations (and says when there are more).
LIST_LIMIT = 100
# A conversation's page shows its latest messages, at most this many.
PAGE_MESSAGES = 500
PREVIEW_CHARS = 120


def has_chat_scope(user):
    """Whether the user has any chat to answer: false only for a call-centre user whose chat
    scope is empty."""
    if user.role != Role.CALL_CENTRE:
        return True
    return bool(user.chat_states) or user.chat_carriers.exists()


def conversations_for(user):
    """The conversations (of any status) the user may see and answer."""
    conversations = Conversation.objects.filter(
        account_id=user.account_id, route__in=access.scope(user, Route.objects.all())
    )
    if user.role != Role.CALL_CENTRE:
        return conversations
    carrier_ids = list(user.chat_carriers.values_list("pk", flat=True))
    states = [state.upper() for state in user.chat_states or [] if state]
    if not carrier_ids and not states:
        return conversations.none()
    if carrier_ids:
        conversations = conversations.filter(route__carrier_id__in=carrier_ids)
    if states:
        route_in_states = Exists(
            Stop.objects.filter(route_id=OuterRef("route_id"), service__state__in=states)
        ) | Q(route__branch__state__in=states)
        conversations = conversations.filter(
            Q(stop__isnull=False, stop__service__state__in=states)
            | (Q(stop__isnull=True) & route_in_states)
        )
    return conversations


def conversation_list(*, user, status=ConversationStatus.OPEN, limit=LIST_LIMIT):
    """The user's conversations with that status, newest activity first, at most limit, each
    with its unread count (the driver's messages support has not read), its last message (text
    and author) and what the list shows of its route and stop. One query."""
    last = Message.objects.filter(conversation_id=OuterRef("pk")).order_by("-pk")
    return list(
        conversations_for(user)
        .filter(status=status)
        .select_related("route__driver", "stop__service__customer", "ticket_type", "closed_by")
        .annotate(
            unread_count=Count(
                "messages",
                filter=Q(messages__author=MessageAuthor.DRIVER, messages__read_at__isnull=True),
            ),
            last_text=Subquery(last.values(preview=Left("text", PREVIEW_CHARS))[:1]),
            last_author=Subquery(last.values("author")[:1]),
            activity_at=Coalesce("last_message_at", "created_at"),
        )
        .order_by("-activity_at", "-pk")[:limit]
    )


def unread_total(conversations):
    return sum(conversation.unread_count for conversation in conversations)


def conversation_detail(*, user, pk):
    """One conversation the user may see, with what its page shows; Http404 otherwise."""
    conversation = (
        conversations_for(user)
        .select_related(
            "route__driver",
            "route__vehicle",
            "stop__service__customer",
            "stop__failure_reason",
            "ticket_type",
            "closed_by",
        )
        .filter(pk=pk)
        .first()
    )
    if conversation is None:
        raise Http404
    return conversation


def conversation_messages(conversation, *, after_id=None):
    """The conversation's messages, oldest first, with who wrote them: after the message
    after_id, at most MAX_MESSAGES (a poll); or, without after_id, the latest PAGE_MESSAGES."""
    messages = Message.objects.filter(conversation=conversation).select_related("user")
    if after_id is not None:
        return list(messages.filter(pk__gt=after_id).order_by("pk")[:MAX_MESSAGES])
    return list(messages.order_by("-pk")[:PAGE_MESSAGES])[::-1]


def ticket_types(user):
    """The account's active chat ticket types: the ways a conversation can be closed."""
    return ChatTicketType.objects.filter(account_id=user.account_id, is_active=True).order_by(
        "description", "pk"
    )
