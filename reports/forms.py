"""The reports' filter forms: a period of local days and the account's branches, carriers,
partners and drivers the user may see. An invalid value is shown next to its field and ignored."""

from datetime import timedelta

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts import access
from accounts.models import Branch, Carrier, Driver, Partner
from services.forms import DateInput, DriverChoiceField

from .deliveries import DeliveryFilters

DEFAULT_DAYS = 7
# A longer period is one query still, but a by-day table of years reads as nothing.
MAX_DAYS = 366


class ReportFilterForm(forms.Form):
    date_from = forms.DateField(label=_("From"), required=False, widget=DateInput)
    date_to = forms.DateField(label=_("To"), required=False, widget=DateInput)
    branch = forms.ModelChoiceField(
        label=_("Branch"), queryset=Branch.objects.none(), required=False
    )
    carrier = forms.ModelChoiceField(
        label=_("Carrier"), queryset=Carrier.objects.none(), required=False
    )
    partner = forms.ModelChoiceField(
        label=_("Partner"), queryset=Partner.objects.none(), required=False
    )
    driver = DriverChoiceField(label=_("Driver"), queryset=Driver.objects.none(), required=False)
    # The filters a report has no use for (a subclass's choice).
    omitted = ()

    def __init__(self, data=None, *, user, today):
        super().__init__(data)
        self.today = today
        for name in self.omitted:
            del self.fields[name]
        for name, model, empty in (
            ("branch", Branch, _("All branches")),
            ("carrier", Carrier, _("All carriers")),
            ("partner", Partner, _("All partners")),
        ):
            if name in self.omitted:
                continue
            if getattr(user, f"{name}_id"):
                # The user sees only this one anyway: nothing to choose.
                del self.fields[name]
                continue
            self.fields[name].queryset = access.scope(user, model.objects.all()).order_by("name")
            self.fields[name].empty_label = empty
        if "driver" in self.fields:
            self.fields["driver"].queryset = access.scope(user, Driver.objects.all()).order_by(
                "first_name", "last_name"
            )
            self.fields["driver"].empty_label = _("All drivers")
        for field in self.fields.values():
            css = "form-select" if isinstance(field.widget, forms.Select) else "form-control"
            field.widget.attrs["class"] = f"{css} {css}-sm"
        self.is_valid()

    def clean(self):
        data = super().clean()
        first, last = data.get("date_from"), data.get("date_to")
        if first and last and first > last:
            self.add_error("date_to", _("The end of the period is before its start."))
        elif first and last and (last - first).days >= MAX_DAYS:
            self.add_error("date_to", _("A period is at most %(days)s days.") % {"days": MAX_DAYS})
        return data

    def filters(self):
        """The filters of the valid fields; the period defaults to the last 7 days (today
        included) and an invalid period falls back to that default."""
        data = self.cleaned_data
        last = data.get("date_to") or self.today
        first = data.get("date_from") or last - timedelta(days=DEFAULT_DAYS - 1)
        if "date_to" in self.errors or first > last:
            last = self.today
            first = last - timedelta(days=DEFAULT_DAYS - 1)
        return DeliveryFilters(
            first_day=first,
            last_day=last,
            **{
                name: data.get(name)
                for name in ("branch", "carrier", "partner", "driver")
                if data.get(name) is not None
            },
        )


class MessageFilterForm(ReportFilterForm):
    """The SMS and e-mail report's filters: messages have no driver."""

    omitted = ("driver",)
