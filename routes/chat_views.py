"""The support chat pages: the conversations with drivers a user answers (polled by htmx), one
conversation (its messages polled with the last id seen, a reply form), and closing it with a
chat ticket type, which may turn its failed stop into done.

Managers, operators and call-centre users (accounts.access's CHAT); who sees which conversation
is decided by routes.chat_selectors. Anyone else, and any conversation outside the user's scope,
gets a 404. Writes go through routes.chat; their DomainErrors become form errors.
"""

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRefresh, reswap, retarget

from accounts import access
from tracking.lib.errors import DomainError

from . import chat, chat_selectors
from .chat_forms import CloseForm, ConversationFilterForm, ReplyForm
from .models import ConversationStatus, MessageAuthor

AUTHOR_LABELS = dict(MessageAuthor.choices)


def chat_section(view):
    """Logged in, in an account, and allowed in the chat section; anyone else gets a 404."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        user = request.user
        if not access.can_see_section(user, access.CHAT) or user.account_id is None:
            raise Http404
        return view(request, *args, **kwargs)

    return wrapper


def _wants_partial(request):
    return bool(request.htmx) and not request.htmx.history_restore_request


def _int(value):
    value = str(value or "").strip()
    return int(value) if value.isdigit() else None


@chat_section
def index(request):
    """The open (or closed) conversations, newest activity first; htmx polls the list."""
    user = request.user
    status = ConversationFilterForm(request.GET).status_value()
    limit = chat_selectors.LIST_LIMIT
    conversations = chat_selectors.conversation_list(user=user, status=status, limit=limit + 1)
    for conversation in conversations:
        conversation.last_author_label = AUTHOR_LABELS.get(conversation.last_author, "")
    context = {
        "conversations": conversations[:limit],
        "more": len(conversations) > limit,
        "limit": limit,
        "status": status,
        "unread_total": chat_selectors.unread_total(conversations),
        "today": timezone.localdate(),
        # Asked only when there is nothing to show, to say why.
        "has_scope": bool(conversations) or chat_selectors.has_chat_scope(user),
    }
    partial = _wants_partial(request)
    template = "routes/chat/_partials/list.html" if partial else "routes/chat/index.html"
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@chat_section
def conversation(request, pk):
    """One conversation; opening it marks the driver's messages as read by support."""
    return _conversation_page(request, chat_selectors.conversation_detail(user=request.user, pk=pk))


def _conversation_page(request, conversation, *, close_form=None):
    user = request.user
    thread = chat_selectors.conversation_messages(conversation)
    chat.messages_mark_read(messages=thread, reader=MessageAuthor.SUPPORT)
    is_open = conversation.status == ConversationStatus.OPEN
    if is_open and close_form is None:
        close_form = CloseForm(user=user, conversation=conversation)
    context = {
        "conversation": conversation,
        # Not "messages": that is the flashed messages' name in every template.
        "thread": thread,
        "last_id": thread[-1].pk if thread else 0,
        "is_open": is_open,
        "reply_form": ReplyForm() if is_open else None,
        "close_form": close_form,
        "can_see_route": access.can_see_section(user, access.ROUTES),
        "today": timezone.localdate(),
    }
    return render(request, "routes/chat/conversation.html", context)


@chat_section
@require_http_methods(["GET", "POST"])
def conversation_messages(request, pk):
    """GET: the messages after `after` (the page polls). POST: support's reply, then the same.
    Both answer htmx with the new messages to append and the next poll; without htmx, the page."""
    conversation = chat_selectors.conversation_detail(user=request.user, pk=pk)
    if request.method == "POST":
        return _reply(request, conversation)
    if not request.htmx:
        return redirect("routes:chat_conversation", pk=conversation.pk)
    if conversation.status != ConversationStatus.OPEN:
        return HttpResponseClientRefresh()  # closed meanwhile: show it closed
    return _new_messages(request, conversation, after_id=_int(request.GET.get("after")))


def _reply(request, conversation):
    form = ReplyForm(request.POST)
    if form.is_valid():
        try:
            chat.message_post(
                conversation=conversation,
                author=MessageAuthor.SUPPORT,
                text=form.cleaned_data["text"],
                user=request.user,
            )
        except DomainError as error:
            form.add_error("text", error.message)
    if not request.htmx:
        for error in form.errors.get("text", []):
            messages.error(request, error)
        return redirect("routes:chat_conversation", pk=conversation.pk)
    if form.errors:
        context = {"conversation": conversation, "reply_form": form}
        response = render(request, "routes/chat/_partials/reply_form.html", context)
        return reswap(retarget(response, "#chat-reply"), "outerHTML")
    # A fresh form replaces the sent one.
    after_id = _int(request.POST.get("after"))
    return _new_messages(request, conversation, after_id=after_id, reply_form=ReplyForm())


def _new_messages(request, conversation, *, after_id, reply_form=None):
    """The messages after after_id to append (marked read by support) and the next poll."""
    after_id = after_id or 0
    new = chat_selectors.conversation_messages(conversation, after_id=after_id)
    chat.messages_mark_read(messages=new, reader=MessageAuthor.SUPPORT)
    context = {
        "conversation": conversation,
        "thread": new,
        "last_id": new[-1].pk if new else after_id,
        "reply_form": reply_form,
        "today": timezone.localdate(),
    }
    response = render(request, "routes/chat/_partials/poll.html", context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@chat_section
@require_POST
def close(request, pk):
    """Closes the conversation with a ticket type (and, if asked, reverses its stop's failure)."""
    user = request.user
    conversation = chat_selectors.conversation_detail(user=user, pk=pk)
    form = CloseForm(request.POST, user=user, conversation=conversation)
    if form.is_valid():
        ticket_type = form.cleaned_data["ticket_type"]
        reverse_failure = form.cleaned_data["reverse_failure"]
        try:
            chat.conversation_close(
                conversation=conversation,
                user=user,
                ticket_type=ticket_type,
                reverse_failure=reverse_failure,
            )
        except DomainError as error:
            if error.code == "conversation_closed":  # closed by someone else meanwhile
                messages.error(request, error.message)
                return redirect("routes:chat_conversation", pk=conversation.pk)
            _add_domain_error(form, error)
        else:
            text = _("Conversation closed: %(ticket)s.") % {"ticket": ticket_type.description}
            if reverse_failure:
                text += " " + _("The stop is now done.")
            messages.success(request, text)
            return redirect("routes:chat_conversation", pk=conversation.pk)
    return _conversation_page(request, conversation, close_form=form)


def _add_domain_error(form, error):
    field = next((name for name in error.fields if name in form.fields), None)
    form.add_error(field, error.message)
