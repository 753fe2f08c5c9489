"""The operators' forms for services: the list's filters, a service, status changes, bulk actions.

Forms validate and shape input; every write goes through services.actions (the views call them).
"""

import re

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts import access
from accounts.models import (
    Agency,
    Branch,
    Carrier,
    Driver,
    FailureReason,
    Partner,
    StatusChangeReason,
)
from accounts.settings_forms import STATE_FIELD_CHOICES, ContactCleaning, TenantModelForm
from tracking.lib import br

from . import selectors
from .models import TRANSITIONS, Service, ServiceStatus, ServiceType

S = ServiceStatus
# The moves an operator may make by hand, a subset of TRANSITIONS. Routing, un-routing, starting
# and pausing belong to routes and drivers; failed -> pending is a reschedule (it counts the
# attempt) and failed -> done is a reversible chat ticket's, so neither is offered here.
MANUAL_TRANSITIONS = {
    S.PENDING: [S.CANCELLED],
    S.ROUTED: [S.CANCELLED],
    S.IN_PROGRESS: [S.DONE, S.FAILED],
    S.PAUSED: [S.FAILED],
    S.FAILED: [S.RETURNED, S.CANCELLED],
    S.DONE: [],
    S.CANCELLED: [],
    S.RETURNED: [],
}
assert all(set(MANUAL_TRANSITIONS[status]) <= TRANSITIONS[status] for status in S)
MANUAL_TARGETS = [S.DONE, S.FAILED, S.RETURNED, S.CANCELLED]

PAGE_SIZES = [25, 50, 100, 200]
DEFAULT_PAGE_SIZE = 50
MAX_PACKAGES = 500


def manual_targets(status):
    """The statuses an operator may move a service in `status` to by hand."""
    return MANUAL_TRANSITIONS.get(status, [])


def _style(form, *, small=False):
    """Bootstrap classes on every widget."""
    for field in form.fields.values():
        widget = field.widget
        if isinstance(widget, forms.CheckboxInput):
            css = "form-check-input"
        elif isinstance(widget, forms.Select):
            css = "form-select form-select-sm" if small else "form-select"
        else:
            css = "form-control form-control-sm" if small else "form-control"
        widget.attrs["class"] = f"{widget.attrs.get('class', '')} {css}".strip()


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%d")


class DriverChoiceField(forms.ModelChoiceField):
    """Drivers by name, with the username that tells two of the same name apart."""

    def label_from_instance(self, obj):
        return f"{obj} ({obj.username})"


class ServiceFilterForm(forms.Form):
    """The services list's filters, sort and page size; an invalid value is ignored (and shown
    as an error next to its field), never a reason to fail the page."""

    q = forms.CharField(label=_("Search"), required=False, max_length=200)
    type = forms.ChoiceField(label=_("Type"), required=False)
    status = forms.ChoiceField(label=_("Status"), required=False)
    created_from = forms.DateField(label=_("Created from"), required=False, widget=DateInput)
    created_to = forms.DateField(label=_("Created until"), required=False, widget=DateInput)
    deadline_from = forms.DateField(label=_("Deadline from"), required=False, widget=DateInput)
    deadline_to = forms.DateField(label=_("Deadline until"), required=False, widget=DateInput)
    branch = forms.ModelChoiceField(
        label=_("Branch"), queryset=Branch.objects.none(), required=False
    )
    carrier = forms.ModelChoiceField(
        label=_("Carrier"), queryset=Carrier.objects.none(), required=False
    )
    partner = forms.ModelChoiceField(
        label=_("Partner"), queryset=Partner.objects.none(), required=False
    )
    # Services with a stop (an attempt) on one of the driver's routes.
    driver = DriverChoiceField(label=_("Driver"), queryset=Driver.objects.none(), required=False)
    customer = forms.CharField(
        label=_("Customer"),
        required=False,
        max_length=200,
        help_text=_("Name or CPF / CNPJ"),
    )
    invoice = forms.CharField(label=_("Invoice number"), required=False, max_length=60)
    order = forms.CharField(label=_("Order number"), required=False, max_length=60)
    sort = forms.CharField(required=False, widget=forms.HiddenInput)
    per_page = forms.TypedChoiceField(
        label=_("Per page"),
        required=False,
        coerce=int,
        choices=[(size, size) for size in PAGE_SIZES],
        empty_value=DEFAULT_PAGE_SIZE,
    )

    per_page_choices = [(size, size) for size in PAGE_SIZES]

    def __init__(self, data=None, *, user):
        super().__init__(data)
        self.fields["type"].choices = [("", _("All types")), *ServiceType.choices]
        self.fields["status"].choices = [("", _("All statuses")), *ServiceStatus.choices]
        for name, model, empty in (
            ("branch", Branch, _("All branches")),
            ("carrier", Carrier, _("All carriers")),
            ("partner", Partner, _("All partners")),
        ):
            if getattr(user, f"{name}_id"):
                # The user sees only this one anyway: nothing to choose.
                del self.fields[name]
                continue
            self.fields[name].queryset = access.scope(user, model.objects.all()).only(
                "pk", "name", *(["trade_name"] if model is Carrier else [])
            )
            self.fields[name].empty_label = empty
        # The drivers the user may see (a branch's or carrier's own, when narrowed to one).
        self.fields["driver"].queryset = access.scope(user, Driver.objects.all()).only(
            "pk", "first_name", "last_name", "username"
        )
        self.fields["driver"].empty_label = _("All drivers")
        _style(self, small=True)
        self.is_valid()

    def clean_sort(self):
        sort = self.cleaned_data.get("sort") or ""
        return sort if sort.lstrip("-") in selectors.SORTS else ""

    def filters(self):
        data = self.cleaned_data
        names = selectors.ServiceFilters.__dataclass_fields__
        return selectors.ServiceFilters(
            **{name: data[name] for name in names if data.get(name) not in (None, "")}
        )

    @property
    def sort_key(self):
        return self.cleaned_data.get("sort") or selectors.DEFAULT_SORT

    @property
    def page_size(self):
        return self.cleaned_data.get("per_page") or DEFAULT_PAGE_SIZE

    def is_filtered(self):
        return any(vars(self.filters()).values())


_PACKAGE_LINE = re.compile(r"^(?P<barcode>[^\t;]*)(?:[\t;](?P<description>.*))?$")


def parse_packages(text):
    """Packages typed one per line: the barcode, then optionally a tab or `;` and a description.
    Returns [{"barcode", "description"}]; raises ValidationError listing the bad lines."""
    packages, errors, seen = [], [], set()
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        match = _PACKAGE_LINE.match(line)
        barcode = match["barcode"].strip()
        description = (match["description"] or "").strip()
        if not barcode:
            errors.append(gettext("Line %(n)s: the barcode is missing.") % {"n": number})
        elif len(barcode) > 80:
            errors.append(
                gettext("Line %(n)s: a barcode has at most 80 characters.") % {"n": number}
            )
        elif barcode in seen:
            errors.append(
                gettext("Line %(n)s: the barcode %(barcode)s appears twice.")
                % {"n": number, "barcode": barcode}
            )
        elif len(description) > 200:
            errors.append(
                gettext("Line %(n)s: a description has at most 200 characters.") % {"n": number}
            )
        seen.add(barcode)
        packages.append({"barcode": barcode, "description": description})
    if len(packages) > MAX_PACKAGES:
        errors.append(gettext("At most %(n)s packages per service.") % {"n": MAX_PACKAGES})
    if errors:
        raise ValidationError(errors)
    return packages


def format_packages(packages):
    """The textarea's text for existing packages (what parse_packages reads back)."""
    return "\n".join(
        f"{package.barcode}; {package.description}" if package.description else package.barcode
        for package in packages
    )


class DateTimeLocalInput(forms.DateTimeInput):
    """A datetime-local input: the browser shows the value in the account's time zone, which the
    middleware has made the current one (forms convert from and to it)."""

    input_type = "datetime-local"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%dT%H:%M")


ADDRESS_FIELDS = [
    "postal_code", "street", "number", "complement", "district", "city", "state", "country",
    "lat", "lng",
]  # fmt: skip
# The form's fields for a new customer and the Customer field each one fills.
NEW_CUSTOMER_FIELDS = {
    "customer_name": "name",
    "customer_document": "document",
    "customer_email": "email",
    "customer_phone": "phone",
}
SCOPE_FIELDS = ["branch", "partner", "carrier"]


def customer_label(customer):
    parts = [customer.name]
    if customer.document:
        parts.append(br.format_document(customer.document))
    if customer.city:
        parts.append(customer.city)
    return " · ".join(parts)


class ServiceForm(ContactCleaning, TenantModelForm):
    """A pending service. The customer is either picked among the account's customers or typed
    (name, document, e-mail, phone) to be found or created. The user's own branch, partner or
    carrier, when they are limited to one, is forced and not asked for."""

    state = forms.ChoiceField(label=_("state"), choices=STATE_FIELD_CHOICES, required=False)
    customer_name = forms.CharField(label=_("Name"), max_length=200, required=False)
    customer_document = forms.CharField(label=_("CPF / CNPJ"), max_length=18, required=False)
    customer_email = forms.EmailField(label=_("E-mail"), required=False)
    customer_phone = forms.CharField(label=_("Phone"), max_length=30, required=False)
    packages = forms.CharField(
        label=_("Packages"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
        help_text=_(
            "One barcode per line; optionally a tab or a semicolon and a description "
            "(e.g. 7891234567895; Box 1 of 2)."
        ),
    )

    class Meta:
        model = Service
        fields = [
            "type", "customer", *ADDRESS_FIELDS, "agency", *SCOPE_FIELDS, "invoice_number",
            "invoice_series", "order_number", "external_id", "description", "weight_kg",
            "volume_m3", "declared_value", "service_time_min", "deadline",
        ]  # fmt: skip
        widgets = {
            "deadline": DateTimeLocalInput,
            "description": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, account=user.account, **kwargs)
        self.user = user
        self.forced = {}
        for name in SCOPE_FIELDS:
            if getattr(user, f"{name}_id"):
                self.forced[name] = getattr(user, name)
                del self.fields[name]
        for name, model in (
            ("agency", Agency),
            ("branch", Branch),
            ("partner", Partner),
            ("carrier", Carrier),
        ):
            if name in self.fields:
                # Active ones, and the one the service has even if it was switched off since.
                current = getattr(self.instance, f"{name}_id", None)
                self.fields[name].queryset = model.objects.filter(account=self.account).filter(
                    Q(is_active=True) | Q(pk=current)
                )
        customer = self.fields["customer"]
        customer.required = False
        customer.queryset = selectors.customers_for_services(user=user)
        # Only the chosen customer is rendered: an account has thousands; the rest are found with
        # the search box (services:customer_options fills the select).
        selected = self._selected_customer()
        customer.widget.choices = [("", _("— A new customer (type below) —"))] + (
            [(selected.pk, customer_label(selected))] if selected else []
        )
        if self.account is not None:
            self.fields["deadline"].help_text = _("Date and time in %(zone)s.") % {
                "zone": self.account.time_zone
            }
        if self.instance.pk and not self.is_bound:
            self.initial["packages"] = format_packages(self.instance.packages.all())
        _style(self)

    def _selected_customer(self):
        if self.is_bound:
            pk = self.data.get(self.add_prefix("customer"), "")
            if not str(pk).isdigit():
                return None
            return self.fields["customer"].queryset.filter(pk=pk).first()
        pk = self.initial.get("customer") or self.instance.customer_id
        return self.fields["customer"].queryset.filter(pk=pk).first() if pk else None

    def clean_customer_document(self):
        document = self.cleaned_data.get("customer_document", "")
        return br.normalise_document(document) if document else ""

    def clean_customer_phone(self):
        phone = self.cleaned_data.get("customer_phone", "")
        return br.normalise_phone(phone, self.region()) if phone else ""

    def clean_packages(self):
        return parse_packages(self.cleaned_data.get("packages", ""))

    def clean(self):
        cleaned = super().clean()
        typed = any(
            str(self.data.get(self.add_prefix(name), "")).strip() for name in NEW_CUSTOMER_FIELDS
        )
        if cleaned.get("customer") and typed:
            self.add_error(
                "customer",
                _("Pick a customer or type a new one, not both: clear one of them."),
            )
        elif not cleaned.get("customer") and not typed and "customer" not in self.errors:
            self.add_error("customer", _("Pick a customer or type a new one's name."))
        return cleaned

    def new_customer_data(self):
        """What was typed for the customer (for customer_find_or_create), or None if picked."""
        if self.cleaned_data.get("customer"):
            return None
        return {
            key: self.cleaned_data[name]
            for name, key in NEW_CUSTOMER_FIELDS.items()
            if self.cleaned_data.get(name)
        }

    def service_values(self):
        """The service's fields for service_create / service_update (the customer apart)."""
        values = {
            name: self.cleaned_data[name]
            for name in self._meta.fields
            if name in self.fields and name != "customer"
        }
        return {**values, **self.forced}

    def add_domain_error(self, error):
        """Shows a DomainError from an action next to the fields it names, or above the form."""
        placed = False
        for name in error.fields:
            field = {"customer.name": "customer_name"}.get(name, name)
            if field in self.fields:
                self.add_error(field, error.message)
                placed = True
                break
        if not placed:
            self.add_error(None, error.message)


class StatusChangeForm(forms.Form):
    """A status change by hand: where to, why (a reason of the account, always), and a note."""

    to_status = forms.ChoiceField(label=_("New status"))
    reason = forms.ModelChoiceField(
        label=_("Reason for status change"), queryset=StatusChangeReason.objects.none()
    )
    failure_reason = forms.ModelChoiceField(
        label=_("Failure reason"),
        queryset=FailureReason.objects.none(),
        required=False,
        help_text=_("When the new status is failed."),
    )
    note = forms.CharField(
        label=_("Note"), required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, data=None, *, user, targets, prefix="status"):
        super().__init__(data, prefix=prefix)
        # No status chosen in advance: a change by hand is a decision, not a default.
        self.fields["to_status"].choices = [
            ("", "---------"),
            *((status, S(status).label) for status in targets),
        ]
        self.fields["reason"].queryset = access.scope(
            user, StatusChangeReason.objects.filter(is_active=True)
        )
        if S.FAILED in targets:
            self.fields["failure_reason"].queryset = access.scope(
                user, FailureReason.objects.filter(is_active=True)
            )
        else:
            del self.fields["failure_reason"]
        _style(self)


class RescheduleForm(forms.Form):
    """Puts a failed service back to pending (or returns it after the last attempt)."""

    reason = forms.ModelChoiceField(
        label=_("Reason for status change"), queryset=StatusChangeReason.objects.none()
    )
    note = forms.CharField(
        label=_("Note"), required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, data=None, *, user, prefix="reschedule"):
        super().__init__(data, prefix=prefix)
        self.fields["reason"].queryset = access.scope(
            user, StatusChangeReason.objects.filter(is_active=True)
        )
        _style(self)


MAX_BULK = 1000


class IdListField(forms.Field):
    """Ids posted as repeated values (checkboxes); anything that is not a positive number is
    dropped (it would not be found anyway)."""

    widget = forms.MultipleHiddenInput
    default_error_messages = {"required": _("Select at least one service.")}

    def to_python(self, value):
        ids = []
        for item in value or []:
            item = str(item).strip()
            if item.isdigit() and int(item) > 0:
                ids.append(int(item))
        return list(dict.fromkeys(ids))

    def validate(self, value):
        super().validate(value)
        if len(value) > MAX_BULK:
            raise ValidationError(
                _("Select at most %(n)s services at once."), params={"n": MAX_BULK}
            )


class BulkActionForm(forms.Form):
    """One action on the selected services: a status change, a cancellation or a deletion."""

    STATUS, CANCEL, DELETE = "status", "cancel", "delete"

    action = forms.ChoiceField(
        label=_("Action"),
        choices=[
            (STATUS, _("Change status")),
            (CANCEL, _("Cancel")),
            (DELETE, _("Delete (pending only)")),
        ],
    )
    to_status = forms.ChoiceField(label=_("New status"), required=False)
    reason = forms.ModelChoiceField(
        label=_("Reason for status change"),
        queryset=StatusChangeReason.objects.none(),
        required=False,
    )
    note = forms.CharField(label=_("Note"), required=False, max_length=1000)
    service = IdListField()

    def __init__(self, data=None, *, user):
        super().__init__(data)
        self.fields["to_status"].choices = [
            ("", _("New status…")),
            *((status, S(status).label) for status in MANUAL_TARGETS),
        ]
        self.fields["reason"].queryset = access.scope(
            user, StatusChangeReason.objects.filter(is_active=True)
        )
        self.fields["reason"].empty_label = _("Reason…")
        _style(self, small=True)

    def clean(self):
        cleaned = super().clean()
        action = cleaned.get("action")
        if action == self.STATUS and not cleaned.get("to_status"):
            self.add_error("to_status", _("Choose the new status."))
        if action in (self.STATUS, self.CANCEL) and not cleaned.get("reason"):
            self.add_error("reason", _("Choose a reason for the status change."))
        return cleaned

    @property
    def target_status(self):
        if self.cleaned_data["action"] == self.CANCEL:
            return S.CANCELLED
        return self.cleaned_data.get("to_status") or None
