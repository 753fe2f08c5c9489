"""URLs where tracker apps (OsmAnd protocol, e.g. Traccar Client) send positions."""

from django.urls import path

from . import trackers

app_name = "trackers"
urlpatterns = [
    # Tracker apps append their query to the server URL as typed, with or without the slash, and
    # a redirect would lose a POST's body: both forms answer.
    path("osmand", trackers.osmand, name="osmand"),
    path("osmand/", trackers.osmand),
]
