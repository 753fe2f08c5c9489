from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LastMileConfig(AppConfig):
    name = "lastmile"
    verbose_name = _("Last Mile")

    def ready(self):
        from anymail.signals import tracking

        from routes.signals import etas_refreshed
        from services import panels as service_panels
        from services.signals import service_event_written

        from . import callbacks, panels, triggers

        # Outbox rows are written in the event's own transaction (see lastmile.outbox).
        service_event_written.connect(
            triggers.on_service_event_written,
            dispatch_uid="lastmile.triggers.on_service_event_written",
        )
        etas_refreshed.connect(on_etas_refreshed, dispatch_uid="lastmile.apps.on_etas_refreshed")
        tracking.connect(
            callbacks.on_anymail_tracking, dispatch_uid="lastmile.callbacks.on_anymail_tracking"
        )
        service_panels.register(panels.messages_panel)
        service_panels.register(panels.rating_panel)


def on_etas_refreshed(sender, *, route_id, **kwargs):
    """New ETAs may make a driver "arriving" or a stop "out of deadline": check after commit."""
    from .tasks import check_route

    check_route.delay_on_commit(route_id)
