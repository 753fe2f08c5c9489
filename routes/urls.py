"""URLs of routes, live tracking and chat."""

app_name = "routes"
urlpatterns = []
