"""URLs of reports."""

from django.urls import path, re_path

from . import views

app_name = "reports"
urlpatterns = [
    path("", views.index, name="index"),
    path("deliveries/", views.delivery_report, name="deliveries"),
    re_path(
        r"^deliveries/export\.(?P<fmt>csv|xlsx)$", views.delivery_export, name="deliveries_export"
    ),
]
