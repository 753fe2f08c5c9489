from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SchedulingConfig(AppConfig):
    name = "scheduling"
    verbose_name = _("Schedule")

    def ready(self):
        from accounts import demo
        from services.imports import register_columns
        from services.signals import service_event_recorded

        from .demo import seed_scheduling
        from .imports import HANDLER
        from .receivers import on_service_event_recorded

        register_columns(HANDLER)
        demo.register(seed_scheduling)
        service_event_recorded.connect(
            on_service_event_recorded,
            dispatch_uid="scheduling.receivers.on_service_event_recorded",
        )
