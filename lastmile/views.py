"""The customers' Last Mile page (/t/<token>): no login, the unguessable token is the key.

An unknown, malformed or expired token gets one plain 404 page, the same for all, that says
nothing about any service or account. A found one is shown in the customer's language (the
account's when the customer has none) and the service's time zone, never indexed, and its address
(which holds the token) is never sent on as a referrer.
"""

from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.messages.storage.cookie import CookieStorage
from django.core.cache import cache
from django.shortcuts import redirect, render
from django.utils import timezone, translation
from django.utils.cache import add_never_cache_headers, patch_cache_control, patch_vary_headers
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from scheduling.selectors import service_tzinfo
from tracking.lib.errors import DomainError

from . import actions, selectors
from .forms import STARS, RatingForm, SlotChoiceForm

# How often the page asks for its live part (ETA, driver) while the service is under way.
LIVE_REFRESH_S = 30
# A page with nothing live may be kept by the customer's browser this long (never by a shared
# cache).
PAGE_MAX_AGE_S = 10
# A page that holds nothing of its visitor's (no form, so no CSRF token; no flash message) is kept
# this long in the cache and given to whoever opens the same link meanwhile: a burst of opens of
# one link (the SMS just sent, a messaging app's link preview, reloads) costs one render, not one
# each (a render is about 12 ms of CPU and seven queries; a cached page a cache read). Short next
# to LIVE_REFRESH_S: the live part is at most this much older than the database; the customer's
# own changes (a rating, a new date) drop the copy at once. 0 turns it off.
PAGE_CACHE_S = 5
REFERRER_POLICY = "strict-origin"


def _protect(response):
    """Headers of every response under /t/: not indexed, no path in any referrer, not stored by
    default. Not "no-referrer": with it browsers send "Origin: null" on the page's own forms,
    which the CSRF check refuses; "strict-origin" sends the site's origin and never the path
    that holds the token (to our own site either)."""
    response.headers["Referrer-Policy"] = REFERRER_POLICY
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    if not response.has_header("Cache-Control"):
        add_never_cache_headers(response)
    return response


def not_found(request, *args, **kwargs):
    """The one page for every token that leads nowhere (and anything else under /t/)."""
    return _protect(render(request, "lastmile/not_found.html", status=404))


def customer_link(view):
    """Looks the token up (the plain 404 page when it leads nowhere) and runs the view with the
    service, in the customer's language and the service's time zone."""

    @wraps(view)
    def wrapper(request, token):
        service = selectors.service_by_token(token)
        if service is None:
            return not_found(request)
        language = service.customer.language_code
        with translation.override(language), timezone.override(service_tzinfo(service)):
            response = view(request, service)
        response.headers["Content-Language"] = language
        return _protect(response)

    return wrapper


def _page_cache_key(token):
    return f"lastmile:page:{token}"


def _anonymous_read(request):
    """A GET or HEAD without a session or flash messages: its page holds nothing of its own."""
    cookies = request.COOKIES
    return request.method in ("GET", "HEAD") and not (
        settings.SESSION_COOKIE_NAME in cookies or CookieStorage.cookie_name in cookies
    )


@require_http_methods(["GET", "HEAD", "POST"])
def page(request, token):
    """The page, from the cache when a copy of it is there (see PAGE_CACHE_S)."""
    if not PAGE_CACHE_S or not isinstance(token, str) or not selectors.TOKEN_RE.match(token):
        return _page(request, token)
    key = _page_cache_key(token)
    cacheable = _anonymous_read(request)
    if cacheable:
        response = cache.get(key)
        if response is not None:
            return response
    response = _page(request, token)
    if request.method == "POST":
        cache.delete(key)
    elif (
        cacheable
        and response.status_code == 200
        # A form's CSRF token, or a cookie, is the visitor's own.
        and not request.META.get("CSRF_COOKIE_NEEDS_UPDATE")
        and not response.cookies
    ):
        patch_vary_headers(response, ["Cookie"])
        cache.set(key, response, PAGE_CACHE_S)
    return response


@customer_link
def _page(request, service):
    if request.method == "POST":
        if "slot" in request.POST:
            return _schedule(request, service)
        return _rate(request, service)
    content = selectors.lastmile_page(service)
    response = _render_page(request, content, RatingForm())
    if content.live.polling:
        # Under way the state changes any minute and the page reloads itself when it does: a
        # copy kept by the browser would bring the old state back.
        patch_cache_control(response, private=True, no_cache=True)
    else:
        patch_cache_control(response, private=True, max_age=PAGE_MAX_AGE_S)
    return response


@require_GET
@customer_link
def live(request, service):
    """The part that refreshes (htmx, every LIVE_REFRESH_S): status, ETA, the driver's point."""
    status = selectors.live_status(service, selectors.service_stops(service))
    context = {"service": service, "live": status, "refresh_s": LIVE_REFRESH_S}
    return render(request, "lastmile/_partials/live.html", context)


def _render_page(request, content, rating_form, status=200):
    context = {
        "page": content,
        "service": content.service,
        "rating_form": rating_form,
        "stars": STARS,
        "refresh_s": LIVE_REFRESH_S,
    }
    return render(request, "lastmile/page.html", context, status=status)


def _schedule(request, service):
    form = SlotChoiceForm(request.POST, service=service)
    if not form.is_valid():
        messages.error(request, _("Choose one of the dates and windows offered."))
        return redirect("lastmile:page", token=service.tracking_token)
    day, window = form.cleaned_data["day"], form.cleaned_data["window"]
    try:
        actions.customer_schedule(service=service, day=day, window=window)
    except DomainError as error:
        messages.error(request, error.message)
        return redirect("lastmile:page", token=service.tracking_token)
    when = f"{date_format(day, 'l, j F')}, {window.start:%H:%M}–{window.end:%H:%M}"
    messages.success(request, _("Done: your delivery is now set for %(when)s.") % {"when": when})
    return redirect("lastmile:page", token=service.tracking_token)


def _rate(request, service):
    if getattr(service, "rating", None) is not None:
        messages.info(request, _("This service was already rated."))
        return redirect("lastmile:page", token=service.tracking_token)
    form = RatingForm(request.POST)
    if not form.is_valid():
        content = selectors.lastmile_page(service)
        if content.can_rate:  # the errors beside the fields
            return _render_page(request, content, form, status=400)
    try:
        _rating, created = actions.rating_create(
            service=service,
            stars=form.cleaned_data.get("stars"),
            comment=form.cleaned_data.get("comment", ""),
        )
    except DomainError as error:
        messages.error(request, error.message)
        return redirect("lastmile:page", token=service.tracking_token)
    if created:
        messages.success(request, _("Thank you for your rating."))
    else:
        messages.info(request, _("This service was already rated."))
    return redirect("lastmile:page", token=service.tracking_token)
