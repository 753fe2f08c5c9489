"""URLs the message providers call back: Twilio's status callbacks, Anymail's tracking webhooks."""

from django.urls import path

from . import callbacks

app_name = "lastmile_hooks"
urlpatterns = [
    path("twilio/status/<int:message_id>/", callbacks.twilio_status, name="twilio_status"),
    path("anymail/<slug:esp>/tracking/", callbacks.anymail_tracking, name="anymail_tracking"),
]
