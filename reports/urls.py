"""URLs of reports."""

from django.urls import path, re_path

from . import export_views, people_urls, scheduling_urls, views

app_name = "reports"
urlpatterns = [
    path("", views.index, name="index"),
    path("deliveries/", views.delivery_report, name="deliveries"),
    re_path(
        r"^deliveries/export\.(?P<fmt>csv|xlsx)$", views.delivery_export, name="deliveries_export"
    ),
    path("messages/", views.message_report, name="messages"),
    re_path(r"^messages/export\.(?P<fmt>csv|xlsx)$", views.message_export, name="messages_export"),
    path("drivers/", views.driver_status_report, name="driver_status"),
    re_path(
        r"^drivers/export\.(?P<fmt>csv|xlsx)$",
        views.driver_status_export,
        name="driver_status_export",
    ),
    re_path(r"^(?P<report>deliveries|messages)/rows$", export_views.row_export, name="row_export"),
    path("exports/<int:pk>/", export_views.export_job, name="export_job"),
    path("exports/<int:pk>/download", export_views.export_download, name="export_download"),
]

# The reports whose views live in their own modules.
urlpatterns += scheduling_urls.urlpatterns + people_urls.urlpatterns
