"""The web admin's read-only view of routes: they change through the app's actions only."""

from django.contrib import admin

from accounts.admin import TenantAdmin, related_only
from services.admin import ReadOnlyInline

from .models import Route, Stop


class StopInline(ReadOnlyInline):
    model = Stop
    fields = ["sequence", "service", "status", "planned_arrival", "eta", "arrived_at", "left_at",
              "receiver_name", "failure_reason"]  # fmt: skip

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("service", "failure_reason")


@admin.register(Route)
class RouteAdmin(TenantAdmin):
    access_area = "records"
    list_display = [
        "__str__", "date", "status", "driver", "vehicle", "branch", "planned_distance_m",
    ]  # fmt: skip
    list_filter = ["status", related_only("branch"), related_only("driver")]
    search_fields = ["driver__first_name", "driver__username", "vehicle__plate"]
    list_select_related = ["driver", "vehicle", "branch", "account"]
    date_hierarchy = "date"
    inlines = [StopInline]
