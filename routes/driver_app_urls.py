"""URLs of the reference driver app (a progressive web app on the public driver API)."""

from django.urls import path

from . import driver_app_views as views

app_name = "driver_app"
urlpatterns = [
    path("", views.shell, name="shell"),
    path("manifest.webmanifest", views.manifest, name="manifest"),
    path("sw.js", views.service_worker, name="service_worker"),
]
