"""The web admin's message log and ratings: written by the outbox and the Last Mile page only,
read here, scoped like every admin page (and, for users narrowed to a branch, partner or carrier,
to the messages of the services they may see)."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from accounts import access
from accounts.admin import TenantAdmin
from services.models import Service

from .models import OutboxMessage, Rating


class ServiceScopedAdmin(TenantAdmin):
    """Read-only rows that belong to a service: the user sees those of the services they may."""

    access_area = "records"

    def get_queryset(self, request):
        services = access.scope(request.user, Service.objects.all())
        return super().get_queryset(request).filter(service__in=services)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ServiceScopedAdmin):
    list_display = [
        "created_at",
        "service",
        "channel",
        "trigger",
        "attempt",
        "to",
        "status",
        "tries",
        "sent_at",
        "delivered_at",
        "cost",
    ]
    list_filter = ["status", "channel", "trigger", ("created_at", admin.DateFieldListFilter)]
    date_hierarchy = "created_at"
    search_fields = ["to", "provider_id", "service__order_number", "service__external_id"]
    list_select_related = ["service", "account"]
    fields = [
        "service",
        "trigger",
        "channel",
        "attempt",
        "event_id",
        "to",
        "language",
        "status",
        "error",
        "tries",
        "next_try_at",
        "provider",
        "provider_id",
        "cost",
        "cost_currency",
        "created_at",
        "sent_at",
        "delivered_at",
        "subject",
        "body",
        "html_source",
    ]
    readonly_fields = fields

    @admin.display(description=_("HTML"))
    def html_source(self, message):
        # The e-mail's HTML as text (escaped by the admin), never rendered here: it carries
        # customers' names and the operator's markup.
        return message.html or "—"


@admin.register(Rating)
class RatingAdmin(ServiceScopedAdmin):
    list_display = ["created_at", "service", "stars", "comment"]
    list_filter = ["stars", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["service__order_number", "comment"]
    list_select_related = ["service", "account"]
    fields = ["service", "stars", "comment", "created_at"]
    readonly_fields = fields
