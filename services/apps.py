from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ServicesConfig(AppConfig):
    name = "services"
    verbose_name = _("Services")

    def ready(self):
        from accounts import demo

        from .demo import seed_services

        demo.register(seed_services)

        from .signals import service_event_recorded
        from .webhooks import on_service_event_recorded

        service_event_recorded.connect(
            on_service_event_recorded, dispatch_uid="services.webhooks.on_service_event_recorded"
        )
