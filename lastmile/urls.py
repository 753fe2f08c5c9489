"""URLs of the customers' Last Mile pages."""

from django.urls import path, re_path

from . import views

app_name = "lastmile"
urlpatterns = [
    path("<str:token>", views.page, name="page"),
    path("<str:token>/live", views.live, name="live"),
    # Anything else under /t/ gets the same plain 404 as an unknown token.
    re_path(r"", views.not_found),
]
