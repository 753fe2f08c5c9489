"""URLs of the customers' Last Mile pages."""

app_name = "lastmile"
urlpatterns = []
