from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RoutesConfig(AppConfig):
    name = "routes"
    verbose_name = _("Routes")

    def ready(self):
        from accounts import demo
        from services.signals import service_event_recorded

        from .demo import seed_routes
        from .receivers import on_service_event_recorded

        demo.register(seed_routes)
        service_event_recorded.connect(
            on_service_event_recorded,
            dispatch_uid="routes.receivers.on_service_event_recorded",
        )
