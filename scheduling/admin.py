"""The web admin's pages for delivery windows and scheduling policies (schedules themselves change
only through scheduling.actions, so they are not here)."""

from django.contrib import admin

from accounts.admin import TenantAdmin, related_only

from .models import DeliveryWindow, SchedulingPolicy


@admin.register(DeliveryWindow)
class DeliveryWindowAdmin(TenantAdmin):
    access_area = "settings"
    list_display = ["name", "branch", "weekday", "start", "end", "capacity", "is_active"]
    list_filter = [related_only("branch"), "weekday", "is_active"]
    search_fields = ["name"]
    list_select_related = ["branch"]
    ordering = ["branch__name", "weekday", "start"]


@admin.register(SchedulingPolicy)
class SchedulingPolicyAdmin(TenantAdmin):
    access_area = "settings"
    list_display = ["__str__", "cutoff_hours", "horizon_days"]
    list_filter = [related_only("branch")]
    list_select_related = ["branch"]
    ordering = ["branch__name"]
