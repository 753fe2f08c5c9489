"""URLs of the people reports (working hours, ranking), added to reports.urls' urlpatterns."""

from django.urls import path

from . import people_views

urlpatterns = [
    path("working-hours/", people_views.working_hours, name="working_hours"),
    path("working-hours/export.csv", people_views.working_hours_csv, name="working_hours_csv"),
    path("working-hours/export.xlsx", people_views.working_hours_xlsx, name="working_hours_xlsx"),
    path("ranking/", people_views.ranking, name="ranking"),
    path("ranking/export.csv", people_views.ranking_csv, name="ranking_csv"),
    path("ranking/export.xlsx", people_views.ranking_xlsx, name="ranking_xlsx"),
]
