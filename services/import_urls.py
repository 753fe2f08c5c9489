"""URLs of the services import, included by services.urls under "import/" (its namespace)."""

from django.urls import path

from . import import_views

urlpatterns = [
    path("", import_views.upload, name="import"),
    path("template.csv", import_views.template_csv, name="import_template"),
    path("template.xlsx", import_views.template_xlsx, name="import_template_xlsx"),
    path("<int:pk>/", import_views.job, name="import_job"),
    path("<int:pk>/status/", import_views.job_status, name="import_status"),
    path("<int:pk>/rejected.csv", import_views.job_rejected, name="import_rejected"),
]
