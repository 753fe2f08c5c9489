from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SchedulingConfig(AppConfig):
    name = "scheduling"
    verbose_name = _("Schedule")

    def ready(self):
        from django.db.models.signals import post_init, post_save

        from accounts import demo
        from services.imports import register_columns
        from services.signals import service_event_recorded

        from .demo import seed_scheduling
        from .imports import HANDLER
        from .receivers import (
            TIME_ZONE_MODELS,
            on_service_event_recorded,
            on_time_zone_saved,
            remember_time_zone,
        )

        register_columns(HANDLER)
        demo.register(seed_scheduling)
        service_event_recorded.connect(
            on_service_event_recorded,
            dispatch_uid="scheduling.receivers.on_service_event_recorded",
        )
        for model in TIME_ZONE_MODELS:
            post_init.connect(remember_time_zone, sender=model, dispatch_uid=f"tz-{model.__name__}")
            post_save.connect(on_time_zone_saved, sender=model, dispatch_uid=f"tz-{model.__name__}")
