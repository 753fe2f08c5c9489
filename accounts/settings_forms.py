"""Validation of the account settings entities, shared by the web admin and the spreadsheet imports.

Every form knows its account (passed in, set by the admin, or the instance's), so uniqueness per
account and references to other rows are checked against that account only.
"""

from django import forms
from django.utils.translation import gettext_lazy as _
from localflavor.br.br_states import STATE_CHOICES

from tracking.lib import br
from tracking.lib.images import normalise_image

from .models import (
    Branch,
    Carrier,
    Customer,
    Driver,
    Partner,
    PartyKind,
    Role,
    User,
    Vehicle,
)

LOGO_MAX_PX = 512
PHOTO_MAX_PX = 480


class TenantModelForm(forms.ModelForm):
    """A ModelForm bound to one account: unique-per-account fields and foreign keys are checked
    against it, and nothing of another account can be referenced."""

    # Fields whose value must be unique among the account's rows when given; by default those of
    # the model's (account, field) unique constraints.
    unique_per_account = None
    # The account, when the form class is made for one (the admin sets it per request).
    bound_account = None
    # Fields stored compactly but typed with punctuation ("123.456.789-09", "ABC-1234"): the form
    # accepts this many characters and the clean_ method stores the compact form.
    TYPED_LENGTHS = {"document": 18, "cpf": 14, "plate": 10, "phone": 30}

    def __init__(self, *args, account=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.account = account or self.bound_account
        for name, length in self.TYPED_LENGTHS.items():
            field = self.fields.get(name)
            if isinstance(field, forms.CharField) and (field.max_length or 0) < length:
                self.fields[name] = forms.CharField(
                    max_length=length,
                    required=field.required,
                    label=field.label,
                    help_text=field.help_text,
                    widget=forms.TextInput(attrs=field.widget.attrs),
                )
        if self.instance.pk and getattr(self.instance, "account_id", None):
            self.account = self.instance.account
        if self.account is not None:
            self.fields.pop("account", None)
            for field in self.fields.values():
                queryset = getattr(field, "queryset", None)
                if queryset is not None and _has_account(queryset.model):
                    field.queryset = queryset.filter(account=self.account)

    def current_account(self):
        return self.account or self.cleaned_data.get("account")

    def region(self):
        account = self.current_account()
        return account.country if account else "BR"

    def clean(self):
        cleaned = super().clean()
        account = self.current_account()
        if account is None:
            return cleaned
        model = self._meta.model
        for name in self._unique_per_account():
            value = cleaned.get(name)
            if not value:
                continue
            clash = model.objects.filter(account=account, **{name: value}).exclude(
                pk=self.instance.pk
            )
            if clash.exists():
                self.add_error(
                    name,
                    _("Another %(model)s of this account already has this %(field)s.")
                    % {
                        "model": model._meta.verbose_name,
                        "field": model._meta.get_field(name).verbose_name,
                    },
                )
        for name, value in cleaned.items():
            if hasattr(value, "account_id") and value.account_id != account.pk:
                self.add_error(name, _("Select a valid choice."))
        return cleaned

    def _unique_per_account(self):
        if self.unique_per_account is not None:
            return self.unique_per_account
        names = []
        for constraint in self._meta.model._meta.constraints:
            fields = getattr(constraint, "fields", ())
            if len(fields) == 2 and fields[0] == "account":
                names.append(fields[1])
        return names

    def save(self, commit=True):
        if self.account is not None and not self.instance.account_id:
            self.instance.account = self.account
        return super().save(commit=commit)


def _has_account(model):
    return any(field.name == "account" for field in model._meta.get_fields())


class ContactCleaning:
    """Cleans phone and postal code, and the document according to the kind."""

    def clean_phone(self):
        phone = self.cleaned_data.get("phone", "")
        return br.normalise_phone(phone, self.region()) if phone else ""

    def clean_postal_code(self):
        code = self.cleaned_data.get("postal_code", "")
        return br.normalise_postal_code(code) if code else ""

    def clean_country(self):
        country = (self.cleaned_data.get("country") or "").strip().upper()
        return country or self.region()

    def clean_state(self):
        return (self.cleaned_data.get("state") or "").upper()

    def clean_document(self):
        document = self.cleaned_data.get("document", "")
        if not document:
            return ""
        kind = self.cleaned_data.get("kind") or getattr(self.instance, "kind", None)
        if kind == PartyKind.PERSON:
            return br.normalise_cpf(document)
        if kind == PartyKind.COMPANY:
            return br.normalise_cnpj(document)
        return br.normalise_document(document)


STATE_FIELD_CHOICES = [("", "---------"), *STATE_CHOICES]
ADDRESS_FIELDS = [
    "postal_code", "street", "number", "complement", "district", "city", "state", "country",
    "lat", "lng",
]  # fmt: skip


class CustomerForm(ContactCleaning, TenantModelForm):
    state = forms.ChoiceField(label=_("state"), choices=STATE_FIELD_CHOICES, required=False)

    class Meta:
        model = Customer
        fields = [
            "account", "kind", "name", "trade_name", "document", "email", "phone",
            "external_code", "language", *ADDRESS_FIELDS,
        ]  # fmt: skip


class BranchForm(ContactCleaning, TenantModelForm):
    state = forms.ChoiceField(label=_("state"), choices=STATE_FIELD_CHOICES, required=False)

    class Meta:
        model = Branch
        fields = [
            "account", "name", "kind", "trade_name", "document", "prefix", "time_zone",
            "contact_name", "email", "phone", *ADDRESS_FIELDS, "is_active",
        ]  # fmt: skip


class CarrierForm(ContactCleaning, TenantModelForm):
    state = forms.ChoiceField(label=_("state"), choices=STATE_FIELD_CHOICES, required=False)

    class Meta:
        model = Carrier
        fields = [
            "account", "name", "kind", "trade_name", "document", "contact_name", "email",
            "phone", *ADDRESS_FIELDS, "is_active",
        ]  # fmt: skip


class PartnerForm(TenantModelForm):
    class Meta:
        model = Partner
        fields = ["account", "name", "document", "is_active"]

    def clean_document(self):
        document = self.cleaned_data.get("document", "")
        return br.normalise_document(document) if document else ""


class VehicleForm(TenantModelForm):
    class Meta:
        model = Vehicle
        fields = [
            "account", "type", "plate", "capacity_kg", "capacity_m3", "speed_kmh",
            "default_driver", "is_active",
        ]  # fmt: skip

    def clean_plate(self):
        return br.normalise_plate(self.cleaned_data.get("plate", ""))


class DriverForm(TenantModelForm):
    new_password = forms.CharField(
        label=_("New password"),
        required=False,
        strip=False,
        min_length=8,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_("What the driver types in the app. Leave empty to keep the current one."),
    )

    class Meta:
        model = Driver
        fields = [
            "account", "first_name", "last_name", "cpf", "rg", "employee_number", "username",
            "email", "phone", "photo", "time_zone", "external_code", "branch", "carrier",
            "vehicle", "is_active",
        ]  # fmt: skip

    def clean_username(self):
        return (self.cleaned_data.get("username") or "").strip().lower()

    def clean_cpf(self):
        cpf = self.cleaned_data.get("cpf", "")
        return br.normalise_cpf(cpf) if cpf else ""

    def clean_phone(self):
        phone = self.cleaned_data.get("phone", "")
        return br.normalise_phone(phone, self.region()) if phone else ""

    def clean_photo(self):
        photo = self.cleaned_data.get("photo")
        if photo and hasattr(photo, "content_type"):  # a new upload
            return normalise_image(photo, max_side_px=PHOTO_MAX_PX)
        return photo

    def save(self, commit=True):
        driver = super().save(commit=False)
        if self.cleaned_data.get("new_password"):
            driver.set_password(self.cleaned_data["new_password"])
        if commit:
            driver.save()
            self.save_m2m()
        return driver


# Which scope each role may (or must) have.
ROLE_SCOPES = {
    Role.MANAGER: {"branch"},
    Role.OPERATOR: {"branch"},
    Role.PARTNER: {"partner"},
    Role.CARRIER: {"carrier"},
    Role.CALL_CENTRE: set(),
    Role.INTEGRATION: {"branch"},
}
REQUIRED_SCOPE = {Role.PARTNER: "partner", Role.CARRIER: "carrier"}


class UserForm(TenantModelForm):
    chat_states = forms.MultipleChoiceField(
        label=_("chat states (UF)"),
        choices=STATE_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("For call-centre users: the states whose drivers' chats they answer."),
    )

    class Meta:
        model = User
        fields = [
            "email", "first_name", "last_name", "role", "is_active", "branch", "partner",
            "carrier", "chat_carriers", "chat_states",
        ]  # fmt: skip

    def clean_email(self):
        email = User.objects.normalize_email(self.cleaned_data["email"]).lower()
        if User.objects.filter(email__iexact=email).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError(_("A user with this e-mail already exists."))
        return email

    def clean(self):
        cleaned = super().clean()
        role = cleaned.get("role") or self.instance.role
        allowed = ROLE_SCOPES.get(role, set())
        for scope in ("branch", "partner", "carrier"):
            if cleaned.get(scope) and scope not in allowed:
                self.add_error(
                    scope,
                    _("A %(role)s user cannot be limited to a %(scope)s.")
                    % {"role": Role(role).label.lower(), "scope": self.fields[scope].label.lower()},
                )
        required = REQUIRED_SCOPE.get(role)
        if required and not cleaned.get(required):
            self.add_error(
                required,
                _("A %(role)s user must be linked to a %(scope)s.")
                % {"role": Role(role).label.lower(), "scope": self.fields[required].label.lower()},
            )
        if role != Role.CALL_CENTRE:
            cleaned["chat_states"] = []
            if "chat_carriers" in cleaned:
                cleaned["chat_carriers"] = cleaned["chat_carriers"].none()
        return cleaned
