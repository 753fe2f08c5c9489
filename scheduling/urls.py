"""URLs of delivery windows and schedules."""

from django.urls import path

from . import views

app_name = "scheduling"
urlpatterns = [
    path("", views.index, name="index"),
    path("windows/<int:pk>/<str:day>/", views.window, name="window"),
    path("services/<int:pk>/", views.service, name="service"),
    path("bulk/", views.bulk, name="bulk"),
]
