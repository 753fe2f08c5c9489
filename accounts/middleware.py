"""Per request: the account's time zone and language, and when the user was last seen."""

import zoneinfo
from datetime import timedelta

from django.conf import settings
from django.utils import timezone, translation

from .models import User

LAST_SEEN_RESOLUTION = timedelta(seconds=60)


class AccountLocaleMiddleware:
    """Activates the account's time zone, and its language unless the user chose another one."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        account = getattr(user, "account", None) if user and user.is_authenticated else None
        if account is not None:
            timezone.activate(zoneinfo.ZoneInfo(account.time_zone))
            if settings.LANGUAGE_COOKIE_NAME not in request.COOKIES:
                translation.activate(account.language)
                request.LANGUAGE_CODE = translation.get_language()
            record_last_seen(user)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


def record_last_seen(user, now=None):
    """Stores when the user was last seen, writing at most once a minute."""
    now = now or timezone.now()
    if user.last_seen_at and now - user.last_seen_at < LAST_SEEN_RESOLUTION:
        return
    User.objects.filter(pk=user.pk).update(last_seen_at=now)
    user.last_seen_at = now
