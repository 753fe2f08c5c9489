"""The signals of the event log.

`service_event_recorded` is sent after commit for every service event, with its id; receivers
(notifications, webhooks, ETA) only enqueue work, they never do it inline.

`service_event_written` is sent inside the transaction that writes the event, with the event
itself, for work that must commit or roll back with it: the notification outbox writes its rows
there (a template lookup and an insert; never network, never anything slow).
"""

from django.dispatch import Signal

# Sent with event_id (int) and account_id (int).
service_event_recorded = Signal()

# Sent with event (services.ServiceEvent), in the caller's transaction.
service_event_written = Signal()
