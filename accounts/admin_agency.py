"""The web admin's agency pages: the brand, a notification template per trigger, and a preview."""

import re

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Case, IntegerField, When
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

from tracking.lib.images import normalise_image

from . import access
from .admin import TenantAdmin
from .models import Agency, NotificationTemplate, Trigger
from .notification_defaults import agency_create_default_templates, default_template_values
from .notifications import (
    TAGS,
    as_tag,
    render,
    sample_values,
    sms_length,
    validate_template,
)
from .settings_forms import LOGO_MAX_PX, TenantModelForm

TEMPLATE_FIELDS = ("sms_body", "email_subject", "email_text", "email_html")
COLOUR_PATTERN = re.compile(r"#[0-9a-fA-F]{6}")


class AgencyForm(TenantModelForm):
    unique_per_account = ("name",)

    class Meta:
        model = Agency
        fields = ["account", "name", "logo", "header_colour", "is_active"]
        widgets = {"header_colour": forms.TextInput(attrs={"type": "color"})}

    def clean_header_colour(self):
        return (self.cleaned_data.get("header_colour") or "").upper()

    def clean_logo(self):
        logo = self.cleaned_data.get("logo")
        if logo and hasattr(logo, "content_type"):  # a new upload
            return normalise_image(logo, max_side_px=LOGO_MAX_PX, keep_transparency=True)
        return logo


def _normalise_newlines(text):
    return (text or "").replace("\r\n", "\n")


class NotificationTemplateForm(forms.ModelForm):
    class Meta:
        model = NotificationTemplate
        fields = [
            "trigger", "sms_enabled", "email_enabled", "sms_body", "email_subject", "email_text",
            "email_html",
        ]  # fmt: skip
        widgets = {
            "sms_body": forms.Textarea(attrs={"rows": 3, "cols": 80}),
            "email_subject": forms.TextInput(attrs={"size": 80}),
            "email_text": forms.Textarea(attrs={"rows": 8, "cols": 80}),
            "email_html": forms.Textarea(attrs={"rows": 10, "cols": 80, "spellcheck": "false"}),
        }

    def clean(self):
        cleaned = super().clean()
        for name in TEMPLATE_FIELDS:
            if name not in cleaned:
                continue
            cleaned[name] = _normalise_newlines(cleaned[name])
            try:
                validate_template(cleaned[name])
            except ValidationError as error:
                self.add_error(name, error)
        if cleaned.get("sms_enabled") and not (cleaned.get("sms_body") or "").strip():
            self.add_error("sms_body", _("Write the SMS text, or switch the SMS off."))
        if cleaned.get("email_enabled"):
            if not (cleaned.get("email_subject") or "").strip():
                self.add_error(
                    "email_subject", _("Write the e-mail subject, or switch the e-mail off.")
                )
            if not (cleaned.get("email_text") or cleaned.get("email_html") or "").strip():
                self.add_error(
                    "email_text", _("Write the e-mail text or its HTML, or switch the e-mail off.")
                )
        return cleaned


class SettingsInline(admin.StackedInline):
    """An inline whose permissions follow its parent's access area, not Django's permission rows."""

    access_area = "settings"

    def _can(self, request, action):
        return access.admin_can(request.user, self.access_area, action)

    def has_view_permission(self, request, obj=None):
        return self._can(request, access.VIEW) or self._can(request, access.CHANGE)

    def has_add_permission(self, request, obj=None):
        return self._can(request, access.ADD)

    def has_change_permission(self, request, obj=None):
        return self._can(request, access.CHANGE)

    def has_delete_permission(self, request, obj=None):
        return self._can(request, access.DELETE)


class NotificationTemplateInline(SettingsInline):
    """One template per trigger. Triggers the agency has no row for are offered filled in with the
    defaults; left untouched they are created from the same defaults after the agency is saved."""

    model = NotificationTemplate
    form = NotificationTemplateForm
    max_num = len(Trigger)
    # A trigger is silenced by switching its SMS and e-mail off; its row stays, one per trigger.
    can_delete = False
    fieldsets = [
        (None, {"fields": ["trigger", ("sms_enabled", "email_enabled"), "sms_body"]}),
        (
            _("E-mail"),
            {"fields": ["email_subject", "email_text", "email_html"], "classes": ["collapse"]},
        ),
    ]

    def get_queryset(self, request):
        in_trigger_order = Case(
            *(When(trigger=trigger, then=index) for index, trigger in enumerate(Trigger.values)),
            output_field=IntegerField(),
        )
        return super().get_queryset(request).order_by(in_trigger_order)

    def get_extra(self, request, obj=None, **kwargs):
        return len(self.missing_triggers(obj))

    def missing_triggers(self, agency):
        if agency is None or agency.pk is None:
            return list(Trigger.values)
        existing = set(agency.templates.values_list("trigger", flat=True))
        return [trigger for trigger in Trigger.values if trigger not in existing]

    def initial_forms(self, request, agency):
        """The defaults, in the account's language, for each trigger the agency has no row for."""
        account = agency.account if agency is not None and agency.account_id else None
        account = account or request.user.account
        language = account.language if account is not None else None
        return [
            default_template_values(trigger, language) for trigger in self.missing_triggers(agency)
        ]


@admin.register(Agency)
class AgencyAdmin(TenantAdmin):
    form = AgencyForm
    inlines = [NotificationTemplateInline]
    list_display = ["name", "header_colour", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["name"]

    def get_formset_kwargs(self, request, obj, inline, prefix):
        kwargs = super().get_formset_kwargs(request, obj, inline, prefix)
        if isinstance(inline, NotificationTemplateInline):
            kwargs["initial"] = inline.initial_forms(request, obj)
        return kwargs

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # After the inline rows are saved, so the templates the user wrote win over the defaults
        # (on a change, this only fills in a trigger that is still missing).
        agency_create_default_templates(agency=form.instance)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        samples = sample_values(obj)
        context["notification_tags"] = [
            (as_tag(name), description, samples[name])
            for name, (description, _sample) in TAGS.items()
        ]
        context["preview_url"] = self.preview_url(obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    # Preview -----------------------------------------------------------------------------------

    def get_urls(self):
        preview = self.admin_site.admin_view(self.preview_view)
        names = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            # Before the default URLs, whose "<object_id>/" would take "preview/".
            path("preview/", preview, name=f"{names}_preview"),
            path("<path:object_id>/preview/", preview, name=f"{names}_preview"),
            *super().get_urls(),
        ]

    def preview_url(self, agency):
        name = f"admin:{self.opts.app_label}_{self.opts.model_name}_preview"
        args = [agency.pk] if agency is not None and agency.pk else []
        return reverse(name, args=args, current_app=self.admin_site.name)

    def preview_view(self, request, object_id=None):
        """A template rendered on sample data (the agency's own name, logo and colour when it is
        one of the user's), as an HTML fragment for the change page."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        agency = None
        if object_id is not None:
            agency = self.get_object(request, object_id)  # scoped to the user's account
            if agency is None:
                raise Http404
        data = request.POST if request.method == "POST" else request.GET
        return TemplateResponse(
            request, "admin/accounts/agency/preview.html", preview(agency, data)
        )


def preview(agency, data):
    """The preview's context: each template of data rendered with sample values, and the errors
    (unknown tags) of each, labelled with its field."""
    values = sample_values(agency)
    name = (data.get("name") or "").strip()
    if name:
        values["agency_name"] = name[:120]
    colour = data.get("header_colour") or ""
    if COLOUR_PATTERN.fullmatch(colour):
        values["agency_colour"] = colour.upper()
    texts = {field: _normalise_newlines(data.get(field)) for field in TEMPLATE_FIELDS}
    errors = []
    for field, text in texts.items():
        try:
            validate_template(text)
        except ValidationError as error:
            label = NotificationTemplate._meta.get_field(field).verbose_name
            errors += [(label, message) for message in error.messages]
    sms = render(texts["sms_body"], values)
    trigger = data.get("trigger")
    return {
        "trigger": Trigger(trigger).label if trigger in Trigger.values else "",
        "errors": errors,
        "sms": sms,
        "sms_length": sms_length(sms),
        "email_subject": render(texts["email_subject"], values),
        "email_text": render(texts["email_text"], values),
        "email_html": render(texts["email_html"], values, html=True),
    }
