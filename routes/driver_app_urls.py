"""URLs of the reference driver app (a progressive web app on the public driver API)."""

app_name = "driver_app"
urlpatterns = []
