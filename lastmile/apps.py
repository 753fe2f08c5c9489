from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LastMileConfig(AppConfig):
    name = "lastmile"
    verbose_name = _("Last Mile")
