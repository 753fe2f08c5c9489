"""Signals of the routes app, for higher apps to react without routes importing them."""

from django.dispatch import Signal

# Sent with route_id (int) after a route's ETAs were computed and stored (routes.positions).
# Receivers only enqueue work (lastmile checks "driver arriving" and "out of deadline").
etas_refreshed = Signal()
