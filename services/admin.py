from django.contrib import admin

from accounts.admin import TenantAdmin, related_only

from .models import Service


@admin.register(Service)
class ServiceAdmin(TenantAdmin):
    """Services are written by the app's actions; the admin shows them read-only."""

    access_area = "records"
    list_display = ["__str__", "type", "status", "customer", "city", "deadline", "created_at"]
    list_filter = ["status", "type", related_only("branch")]
    search_fields = ["order_number", "external_id", "customer__name", "street", "city"]
    list_select_related = ["customer", "account"]
