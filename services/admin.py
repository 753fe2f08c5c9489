"""The web admin's read-only view of services: they are written by the app's actions only."""

from django.contrib import admin

from accounts.admin import TenantAdmin, related_only

from .models import Package, Service, ServiceEvent


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class PackageInline(ReadOnlyInline):
    model = Package
    fields = ["barcode", "description"]


class ServiceEventInline(ReadOnlyInline):
    model = ServiceEvent
    fields = ["recorded_at", "received_at", "kind", "actor_display", "from_status", "to_status",
              "reason", "failure_reason", "note"]  # fmt: skip

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("actor_user", "actor_driver", "reason", "failure_reason")
        )


@admin.register(Service)
class ServiceAdmin(TenantAdmin):
    """Services are written by the app's actions; the admin shows them read-only."""

    access_area = "records"
    list_display = ["__str__", "type", "status", "customer", "city", "deadline", "created_at"]
    list_filter = ["status", "type", related_only("branch")]
    search_fields = [
        "order_number", "external_id", "invoice_number", "customer__name", "street", "city",
    ]  # fmt: skip
    list_select_related = ["customer", "account"]
    inlines = [PackageInline, ServiceEventInline]
    exclude = ["tracking_token"]


# Outgoing webhooks.
from . import admin_webhooks  # noqa: E402, F401
