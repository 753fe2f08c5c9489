"""Forms of the Last Mile page: the window the customer picks, and the rating."""

from datetime import date

from django import forms
from django.utils.translation import gettext_lazy as _

from scheduling.models import DeliveryWindow

from .actions import MAX_COMMENT_CHARS

STARS = [1, 2, 3, 4, 5]


class SlotChoiceForm(forms.Form):
    """One of the slots offered (selectors.Choice.value); only the account's windows exist."""

    slot = forms.RegexField(regex=r"^\d{4}-\d{2}-\d{2}_\d{1,18}$", max_length=40)

    def __init__(self, *args, service, **kwargs):
        super().__init__(*args, **kwargs)
        self.service = service

    def clean(self):
        cleaned = super().clean()
        value = cleaned.get("slot")
        if not value:
            return cleaned
        day, window_id = value.split("_")
        try:
            cleaned["day"] = date.fromisoformat(day)
        except ValueError as exc:
            raise forms.ValidationError(_("Choose one of the dates and windows offered.")) from exc
        window = DeliveryWindow.objects.filter(account_id=self.service.account_id, pk=window_id)
        cleaned["window"] = window.first()
        if cleaned["window"] is None:
            raise forms.ValidationError(_("Choose one of the dates and windows offered."))
        return cleaned


class RatingForm(forms.Form):
    stars = forms.TypedChoiceField(
        label=_("Your rating"),
        choices=[(value, value) for value in STARS],
        coerce=int,
        error_messages={
            "required": _("Choose from 1 to 5 stars."),
            "invalid_choice": _("Choose from 1 to 5 stars."),
        },
    )
    comment = forms.CharField(
        label=_("Comment (optional)"),
        required=False,
        max_length=MAX_COMMENT_CHARS,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
