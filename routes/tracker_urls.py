"""URLs where tracker apps (OsmAnd protocol, e.g. Traccar Client) send positions."""

app_name = "trackers"
urlpatterns = []
