"""Project-wide pages: the dashboard home, which sums up every app, and the health check."""

import logging
import sys

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.db import InterfaceError, OperationalError, connection
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache

from accounts import access
from accounts.models import Driver
from routes import alerts
from services import selectors as service_selectors
from tracking.lib.errors import error_payload

logger = logging.getLogger(__name__)

# The dashboard's counts for today: (key, label, colour).
HOME_CARDS = [
    ("pending", _("Pending"), ""),
    ("routed", _("In a route"), ""),
    ("in_progress", _("In progress"), ""),
    ("done", _("Done today"), "success"),
    ("failed", _("Failed today"), "danger"),
    ("drivers", _("Active drivers"), ""),
]


@login_required
def home(request):
    user = request.user
    context = {}
    if user.account is not None and access.can_see_section(user, access.SERVICES):
        today = user.account.today()
        counts = service_selectors.service_day_counts(
            user=user, day=today, tzinfo=user.account.tzinfo
        )
        counts["drivers"] = access.scope(user, Driver.objects.filter(is_active=True)).count()
        services_url = reverse("services:index")
        context["today"] = today
        context["cards"] = [
            {
                "key": key,
                "label": label,
                "value": counts[key],
                "tone": tone,
                "url": f"{services_url}?status={key}" if key != "drivers" else None,
            }
            for key, label, tone in HOME_CARDS
        ]
    if user.account is not None and _sees_routes(user):
        context["alerts"] = alerts.alerts_for(user=user)
        context["account_tz"] = user.account.tzinfo
    return render(request, "home.html", context)


def _sees_routes(user):
    return access.can_see_section(user, access.ROUTES) or access.can_see_section(
        user, access.TRACKING
    )


@never_cache
def healthz(request):
    """Whether the database, the cache/broker and (with a broker) a worker answer; 503 if not."""
    checks = {"database": _check(_database), "cache": _check(_cache)}
    if settings.REDIS_URL:
        checks["broker"] = _check(_broker)
        checks["worker"] = _check(_worker)
    healthy = all(check["ok"] for check in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "error", "checks": checks}, status=200 if healthy else 503
    )


def _check(probe):
    try:
        detail = probe()
    except Exception as exc:  # a health check reports every failure instead of raising it
        logger.warning("healthz: %s failed: %s", probe.__name__.strip("_"), exc)
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    return {"ok": True, **({"detail": detail} if detail else {})}


def _database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return connection.vendor


def _cache():
    cache.set("healthz", "ok", 10)
    if cache.get("healthz") != "ok":
        raise RuntimeError("the cache did not return what was written")
    return None


def _broker():
    from tracking.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
    return None


def _worker():
    from tracking.celery import app

    replies = app.control.ping(timeout=settings.HEALTHZ_WORKER_TIMEOUT_S)
    if not replies:
        raise RuntimeError("no worker answered")
    return f"{len(replies)} worker(s)"


# Errors -----------------------------------------------------------------------------------------

# How long a client is told to wait when the database cannot be reached (a restart takes seconds).
RETRY_AFTER_S = 5
# Paths whose clients read the APIs' error shape rather than a page.
JSON_PREFIXES = ("/api/", "/gps/")


def server_error(request):
    """Django's last resort for an exception (handler500), in the view or in a middleware.

    A database that cannot be reached (restarting, failing over, out of connections) answers
    503 with Retry-After rather than 500: the phones and browsers try again, their retries carry
    Idempotency-Keys so nothing is done twice, and Django connects afresh on the next request.
    The APIs' clients get the APIs' error shape. Rendered without a request context, whose
    processors could need the database. (Django has logged the exception by the time this runs.)
    """
    exception = sys.exc_info()[1]
    unavailable = isinstance(exception, OperationalError | InterfaceError)
    if request.path.startswith(JSON_PREFIXES):
        if unavailable:
            payload = error_payload("unavailable", "The service is briefly unavailable; try again.")
        else:
            payload = error_payload("server_error", "Something went wrong; the error was recorded.")
        response = JsonResponse(payload, status=503 if unavailable else 500)
    else:
        template = "503.html" if unavailable else "500.html"
        response = HttpResponse(render_to_string(template), status=503 if unavailable else 500)
    if unavailable:
        response["Retry-After"] = str(RETRY_AFTER_S)
    return response
