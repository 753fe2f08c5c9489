"""Forms of the scheduling pages: the calendar's filters, choosing a slot, the bulk file."""

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts import access
from accounts.models import Branch

from .models import DeliveryWindow

WEEK, DAY = "week", "day"


class CalendarForm(forms.Form):
    """The calendar's GET parameters; anything invalid falls back to the defaults."""

    date = forms.DateField(label=_("Date"), required=False)
    view = forms.ChoiceField(
        label=_("View"), choices=[(WEEK, _("Week")), (DAY, _("Day"))], required=False
    )
    branch = forms.ModelChoiceField(
        label=_("Branch"),
        queryset=Branch.objects.none(),
        required=False,
        empty_label=_("Account default windows"),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["branch"].queryset = access.scope(user, Branch.objects.all()).order_by("name")
        if user.branch_id:
            # A user of one branch sees that branch's calendar only.
            self.fields["branch"].required = True
            self.fields["branch"].empty_label = None

    def value(self, name, default):
        self.is_valid()
        return self.cleaned_data.get(name) or default


class SlotForm(forms.Form):
    """One (date, window) chosen for a service; only the service's account's windows exist."""

    date = forms.DateField()
    window = forms.ModelChoiceField(queryset=DeliveryWindow.objects.none())

    def __init__(self, *args, account, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["window"].queryset = DeliveryWindow.objects.filter(account=account)


class BulkForm(forms.Form):
    file = forms.FileField(
        label=_("Spreadsheet (CSV or XLSX)"),
        widget=forms.ClearableFileInput(attrs={"class": "form-control", "accept": ".csv,.xlsx"}),
    )
