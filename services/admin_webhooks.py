"""Webhook endpoints and their delivery log in the web admin, scoped like every account setting."""

from django import forms
from django.contrib import admin
from django.contrib.admin.options import IS_POPUP_VAR
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import localize
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.admin import TenantAdmin, related_only
from accounts.settings_forms import TenantModelForm

from . import webhooks
from .webhook_models import WebhookDelivery, WebhookEndpoint, WebhookEventType

RECENT_DELIVERIES = 50


class WebhookEndpointForm(TenantModelForm):
    # Typed without a scheme, an address is taken as https (the only scheme accepted outside
    # this machine).
    url = forms.URLField(
        label=_("URL"),
        max_length=500,
        assume_scheme="https",
        help_text=WebhookEndpoint._meta.get_field("url").help_text,
    )
    event_types = forms.MultipleChoiceField(
        label=_("events"),
        choices=WebhookEventType.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=_("Leave all unticked to receive every event."),
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "description", "event_types", "is_active"]


def _delivery_url(delivery):
    return reverse("admin:services_webhookdelivery_change", args=[delivery.pk])


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(TenantAdmin):
    """Managers register URLs and choose events; operators look. The secret is shown only to
    those who may change the endpoint."""

    access_area = "settings"
    form = WebhookEndpointForm
    list_display = ["__str__", "url", "events", "is_active", "consecutive_failures", "disabled_at"]
    list_filter = ["is_active"]
    search_fields = ["url", "description"]
    list_select_related = ["account"]
    actions = ["send_test_ping", "reenable", "rotate_secret"]
    readonly_fields = [
        "events",
        "signing_secret",
        "consecutive_failures",
        "disabled_at",
        "disabled_reason",
        "created_at",
        "recent_deliveries",
    ]

    def get_fields(self, request, obj=None):
        fields = ["url", "description", "event_types", "is_active"]
        if obj is None:
            return fields
        if self.has_change_permission(request, obj):
            fields.append("signing_secret")
        else:
            # Viewers read the chosen events by name; the secret is for those who configure.
            fields[2] = "events"
        return [
            *fields,
            "consecutive_failures",
            "disabled_at",
            "disabled_reason",
            "created_at",
            "recent_deliveries",
        ]

    @admin.display(description=_("events"))
    def events(self, endpoint):
        if not endpoint.event_types:
            return _("All")
        labels = dict(WebhookEventType.choices)
        return ", ".join(str(labels.get(value, value)) for value in endpoint.event_types)

    @admin.display(description=_("signing secret"))
    def signing_secret(self, endpoint):
        return format_html(
            "<code>{}</code><br><small>{}</small>",
            endpoint.secret,
            _(
                "Check the X-LastMile-Signature header of each request with this secret. "
                "The “Rotate the signing secret” action in the list replaces it."
            ),
        )

    @admin.display(description=_("recent deliveries"))
    def recent_deliveries(self, endpoint):
        deliveries = endpoint.deliveries.order_by("-created_at", "-pk")[:RECENT_DELIVERIES]
        rows = format_html_join(
            "",
            '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>'
            "<td>{}</td><td>{}</td></tr>",
            (
                (
                    _delivery_url(delivery),
                    localize(timezone.localtime(delivery.created_at)),
                    delivery.event_type,
                    delivery.get_status_display(),
                    delivery.attempts,
                    delivery.last_status_code or "—",
                    f"{delivery.response_ms} ms" if delivery.response_ms is not None else "—",
                    delivery.last_error or "",
                )
                for delivery in deliveries
            ),
        )
        if not rows:
            return _("Nothing was sent yet.")
        everything = reverse("admin:services_webhookdelivery_changelist")
        return format_html(
            "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th>"
            "<th>{}</th><th>{}</th></tr></thead><tbody>{}</tbody></table>"
            '<p><a href="{}?endpoint__id__exact={}">{}</a></p>',
            _("created at"),
            _("event type"),
            _("status"),
            _("attempts"),
            _("last HTTP status"),
            _("response time"),
            _("last error"),
            rows,
            everything,
            endpoint.pk,
            _("All deliveries to this endpoint"),
        )

    def save_model(self, request, obj, form, change):
        switched_on = change and "is_active" in form.changed_data and obj.is_active
        super().save_model(request, obj, form, change)
        if switched_on:
            # Ticking "active" again is a re-enable: the failure count starts over.
            webhooks.webhook_endpoint_enable(endpoint=obj)

    def response_add(self, request, obj, post_url_continue=None):
        response = super().response_add(request, obj, post_url_continue)
        if "_addanother" in request.POST or IS_POPUP_VAR in request.POST:
            return response
        # The new endpoint's page shows the secret the receiver needs.
        return HttpResponseRedirect(reverse("admin:services_webhookendpoint_change", args=[obj.pk]))

    def get_deleted_objects(self, objs, request):
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        # The delivery log goes with its endpoint, although nobody deletes log rows one by one.
        log = str(WebhookDelivery._meta.verbose_name)
        perms_needed = {name for name in perms_needed if str(name) != log}
        return deleted, counts, perms_needed, protected

    @admin.action(description=_("Send a test ping"), permissions=["change"])
    def send_test_ping(self, request, queryset):
        count = 0
        for endpoint in queryset:
            webhooks.webhook_endpoint_ping(endpoint=endpoint)
            count += 1
        self.message_user(
            request,
            ngettext(
                "A test ping was queued for %d endpoint; its outcome is in the delivery log.",
                "A test ping was queued for %d endpoints; their outcome is in the delivery log.",
                count,
            )
            % count,
        )

    @admin.action(description=_("Re-enable"), permissions=["change"])
    def reenable(self, request, queryset):
        endpoints = list(queryset.filter(is_active=False))
        for endpoint in endpoints:
            webhooks.webhook_endpoint_enable(endpoint=endpoint)
        count = len(endpoints)
        self.message_user(
            request,
            ngettext("%d endpoint was re-enabled.", "%d endpoints were re-enabled.", count) % count,
        )

    @admin.action(description=_("Rotate the signing secret"), permissions=["change"])
    def rotate_secret(self, request, queryset):
        count = 0
        for endpoint in queryset:
            webhooks.webhook_endpoint_rotate_secret(endpoint=endpoint)
            count += 1
        self.message_user(
            request,
            ngettext(
                "%d endpoint has a new signing secret (the old one no longer works); "
                "it is shown on the endpoint's page.",
                "%d endpoints have a new signing secret (the old ones no longer work); "
                "each is shown on its endpoint's page.",
                count,
            )
            % count,
        )


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(TenantAdmin):
    """The delivery log: written by the delivery task only, read here."""

    access_area = "records"
    list_display = [
        "created_at",
        "endpoint",
        "event_type",
        "status",
        "attempts",
        "last_status_code",
        "response_ms",
        "next_attempt_at",
        "delivered_at",
    ]
    list_filter = ["status", related_only("endpoint"), "event_type"]
    list_select_related = ["endpoint", "account"]
    search_fields = ["uuid", "endpoint__url"]
    fields = [
        "uuid",
        "endpoint",
        "event",
        "event_type",
        "status",
        "attempts",
        "last_status_code",
        "last_error",
        "response_ms",
        "next_attempt_at",
        "created_at",
        "delivered_at",
        "payload",
    ]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
