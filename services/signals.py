"""The one signal of the event log: sent after commit for every service event, with its id.

Receivers (notifications, webhooks, ETA) only enqueue work; they never do it inline.
"""

from django.dispatch import Signal

# Sent with event_id (int) and account_id (int).
service_event_recorded = Signal()
