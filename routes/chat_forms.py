"""The support chat pages' forms: which conversations to list, a reply, and closing a conversation
with a chat ticket type. They shape input; routes.chat does the writes and refuses what the
domain does not allow."""

from django import forms
from django.utils.translation import gettext_lazy as _

from . import chat_selectors
from .chat import MAX_TEXT
from .models import ConversationStatus, StopStatus


class ConversationFilterForm(forms.Form):
    status = forms.ChoiceField(label=_("Show"), choices=ConversationStatus.choices, required=False)

    def status_value(self):
        """The status to list: open unless closed is asked for (a bad value is ignored)."""
        if self.is_valid() and self.cleaned_data["status"]:
            return self.cleaned_data["status"]
        return ConversationStatus.OPEN


class ReplyForm(forms.Form):
    text = forms.CharField(
        label=_("Answer"),
        max_length=MAX_TEXT,
        strip=True,
        error_messages={"required": _("Write a message.")},
        widget=forms.Textarea(
            attrs={"rows": 2, "class": "form-control", "maxlength": MAX_TEXT, "required": True}
        ),
    )


class TicketTypeField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        if obj.reversible:
            return _("%(description)s (reversible)") % {"description": obj.description}
        return obj.description


class CloseForm(forms.Form):
    ticket_type = TicketTypeField(
        label=_("How was it resolved?"),
        queryset=None,
        empty_label=_("Choose a ticket type"),
        error_messages={
            "required": _("Choose how the conversation was resolved."),
            "invalid_choice": _("Choose one of the account's active ticket types."),
        },
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    reverse_failure = forms.BooleanField(
        label=_("Turn the failed stop into done"),
        required=False,
        help_text=_("Only with a reversible ticket type, e.g. the customer came back."),
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
    )

    def __init__(self, data=None, *, user, conversation):
        super().__init__(data)
        self.fields["ticket_type"].queryset = chat_selectors.ticket_types(user)
        stop = conversation.stop
        # Shown only where it can apply; a tick sent anyway is refused by the action.
        self.can_reverse = stop is not None and stop.status == StopStatus.FAILED
