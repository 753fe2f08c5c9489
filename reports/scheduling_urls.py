"""URLs of the scheduling report, included by reports.urls (its app_name: reports)."""

from django.urls import path

from . import scheduling_views

urlpatterns = [
    path("scheduling/", scheduling_views.scheduling_report, name="scheduling"),
    path("scheduling/export.csv", scheduling_views.scheduling_csv, name="scheduling_csv"),
    path("scheduling/export.xlsx", scheduling_views.scheduling_xlsx, name="scheduling_xlsx"),
]
