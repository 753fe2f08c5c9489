"""The live tracking page: a day's routes in the user's scope on a map and in a list, kept up to
date without reloading by polling `tracking/data/`, which answers only what changed.

Managers and operators see their account's (or branch's) routes, carrier users their carrier's
(accounts.access's TRACKING and scope); anyone else gets a 404, like the other sections.

Each answer is a snapshot of the day (routes.tracking_selectors) compared with the one the page
has: the page sends the version it was given (`since`), the server keeps recent snapshots in the
cache by user and version, and answers the routes, stops and drivers that differ (or everything,
when that version is no longer in the cache). A quiet refresh is a few dozen bytes.
"""

import re
from datetime import timedelta
from functools import wraps

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import Http404, JsonResponse, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts import access
from services.forms import DateInput

from . import selectors
from . import tracking_selectors as tracking
from .forms import DriverField
from .models import RouteStatus, StopStatus
from .views import MAP_ATTRIBUTION, MAP_TILES, hours_minutes

# How often the page asks for changes; tests make it shorter.
POLL_S = 10
# How long a snapshot is kept for the next refresh to be compared with (then: everything).
SNAPSHOT_CACHE_S = 120
FILTER_NAMES = ("branch", "carrier", "driver", "status")
VERSION_FORMAT = re.compile(r"^[0-9a-f]{24}$")
COMPLIANCE_LABELS = {
    tracking.ON_TIME: gettext_lazy("On time"),
    tracking.AT_RISK: gettext_lazy("At risk"),
    tracking.LATE: gettext_lazy("Late"),
}


def tracking_section(view):
    """Logged in, in an account, and allowed in the tracking section; anyone else gets a 404."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        user = request.user
        if not access.can_see_section(user, access.TRACKING) or user.account_id is None:
            raise Http404
        return view(request, *args, **kwargs)

    return wrapper


class TrackingFilterForm(forms.Form):
    """The day and what narrows it. An invalid value is ignored (and shown next to its field);
    a user limited to one branch or carrier is not offered that filter."""

    date = forms.DateField(label=gettext_lazy("Date"), required=False, widget=DateInput)
    branch = forms.ModelChoiceField(label=gettext_lazy("Branch"), queryset=None, required=False)
    carrier = forms.ModelChoiceField(label=gettext_lazy("Carrier"), queryset=None, required=False)
    driver = DriverField(label=gettext_lazy("Driver"), queryset=None, required=False)
    status = forms.ChoiceField(label=gettext_lazy("Status"), required=False)

    def __init__(self, data=None, *, user, today):
        super().__init__(data)
        self.today = today
        choices = {
            "branch": (user.branch_id, selectors.branches_in_scope(user), _("All branches")),
            "carrier": (user.carrier_id, tracking.carriers_in_scope(user), _("All carriers")),
            "driver": (None, selectors.drivers_in_scope(user), _("All drivers")),
        }
        for name, (own, queryset, empty_label) in choices.items():
            if own:
                del self.fields[name]  # the user sees that one only
            else:
                self.fields[name].queryset = queryset
                self.fields[name].empty_label = empty_label
        self.fields["status"].choices = [("", _("All statuses")), *RouteStatus.choices]
        for field in self.fields.values():
            if isinstance(field.widget, forms.Select):
                field.widget.attrs["class"] = "form-select form-select-sm"
                field.widget.attrs["data-autosubmit"] = ""
            else:
                field.widget.attrs["class"] = "form-control form-control-sm"
        self.is_valid()

    def filters(self):
        data = self.cleaned_data
        return tracking.TrackingFilters(
            day=data.get("date") or self.today,
            branch=data.get("branch"),
            carrier=data.get("carrier"),
            driver=data.get("driver"),
            status=data.get("status") or "",
        )


@tracking_section
def index(request):
    user = request.user
    today = user.account.today()
    form = TrackingFilterForm(request.GET, user=user, today=today)
    filters = form.filters()
    day = filters.day
    now = timezone.now()
    snapshot = tracking.tracking_snapshot(user=user, filters=filters, now=now)
    payload = _payload(user, snapshot, since="")
    payload["now"] = tracking.epoch_s(now)
    # The refreshes ask for the same day and filters.
    query = QueryDict(mutable=True)
    query.update(
        {name: request.GET[name] for name in ("date", *FILTER_NAMES) if request.GET.get(name)}
    )
    context = {
        "form": form,
        "day": day,
        "today": today,
        "previous_day": day - timedelta(days=1),
        "next_day": day + timedelta(days=1),
        "filtered": any(getattr(filters, name) for name in FILTER_NAMES),
        "rows": [_row(route, snapshot, now) for route in snapshot["routes"].values()],
        "payload": payload,
        "config": _page_config(user, query.urlencode()),
        "map_tiles": MAP_TILES,
        "map_attribution": MAP_ATTRIBUTION,
    }
    return render(request, "routes/tracking/index.html", context)


@tracking_section
def data(request):
    """What changed since the page's version (`since`), and the path of the route selected on
    the map (`route`) from the page's cursor (`after`). Another account's route is ignored."""
    user = request.user
    form = TrackingFilterForm(request.GET, user=user, today=user.account.today())
    now = timezone.now()
    snapshot = tracking.tracking_snapshot(user=user, filters=form.filters(), now=now)
    payload = _payload(user, snapshot, since=request.GET.get("since", ""))
    payload["now"] = tracking.epoch_s(now)
    route_id = _digits(request.GET.get("route"))
    if route_id is not None and str(route_id) in snapshot["routes"]:
        payload["track"] = tracking.route_track(
            route_id=route_id, after=_digits(request.GET.get("after"))
        )
    response = JsonResponse(payload)
    response["Cache-Control"] = "no-store"
    return response


def _snapshot_key(user, version):
    return f"routes:tracking:snapshot:{user.pk}:{version}"


def _payload(user, snapshot, *, since):
    """The answer for a page that has version `since`: nothing when it is current, the changes
    when its snapshot is still in the cache, else everything ("full")."""
    version = tracking.snapshot_version(snapshot)
    key = _snapshot_key(user, version)
    if since == version:
        cache.touch(key, SNAPSHOT_CACHE_S)
        return {"version": version, "full": False}
    previous = None
    if VERSION_FORMAT.match(since or ""):
        previous = cache.get(_snapshot_key(user, since))
    cache.set(key, snapshot, SNAPSHOT_CACHE_S)
    # Items are lists of values, named once in "columns": about half the bytes of objects.
    answer = {"version": version, "full": previous is None, "columns": tracking.COLUMNS}
    if previous is None:
        return answer | {kind: list(snapshot[kind].values()) for kind in tracking.KINDS}
    changed, removed = tracking.snapshot_changes(previous, snapshot)
    return answer | changed | {"removed": removed}


def _digits(value):
    value = (value or "").strip()
    return int(value) if value.isdigit() and len(value) <= 20 else None


# What the page shows ------------------------------------------------------------------------------


def _page_config(user, query):
    """What the page's script needs besides the data: URLs, timings and its words."""
    return {
        "dataUrl": reverse("routes:tracking_data") + (f"?{query}" if query else ""),
        # Carrier users follow the routes without the routes section: no link to the route.
        "detailUrl": reverse("routes:detail", args=[0])
        if access.can_see_section(user, access.ROUTES)
        else "",
        "pollMs": POLL_S * 1000,
        "labels": _labels(),
    }


def _labels():
    return {
        "routeStatus": dict(RouteStatus.choices),
        "stopStatus": dict(StopStatus.choices),
        "compliance": COMPLIANCE_LABELS,
        "noDeadline": _("No deadline"),
        "online": _("Online"),
        "offline": _("Offline"),
        "stale": _("Last position at %(time)s"),
        "noPosition": _("No position yet"),
        "stops": _("%(done)s done · %(failed)s failed · %(left)s left"),
        "eta": _("ETA %(time)s"),
        "due": _("due %(time)s"),
        "updated": _("Updated at %(time)s"),
        "retrying": _("Could not update; trying again…"),
        "stopped": _("Updates stopped: reload the page."),
    }


def _row(values, snapshot, now):
    """The list's row of a route, as the page's script also fills it."""
    route = dict(zip(tracking.COLUMNS["routes"], values, strict=True))
    driver = snapshot["drivers"].get(str(route["driver"]))
    driver = dict(zip(tracking.COLUMNS["drivers"], driver, strict=True)) if driver else {}
    elapsed_s = None
    if route["started"] is not None:
        elapsed_s = (route["finished"] or tracking.epoch_s(now)) - route["started"]
    compliance = route["compliance"]
    return {
        "route": route,
        "driver": driver,
        "status_label": RouteStatus(route["status"]).label,
        "stops_text": _("%(done)s done · %(failed)s failed · %(left)s left") % route,
        "compliance_label": COMPLIANCE_LABELS[compliance] if compliance else _("No deadline"),
        "compliance_count": route["late"] or route["at_risk"] or "",
        "elapsed": hours_minutes(elapsed_s) if elapsed_s is not None else "–",
        "planned": hours_minutes(route["planned_s"]),
        "over_time": elapsed_s is not None and elapsed_s > route["planned_s"],
        "travelled_km": _km(route["travelled_m"]),
        "planned_km": _km(route["planned_m"]),
    }


def _km(distance_m):
    return formats.number_format((distance_m or 0) / 1000, 1, use_l10n=True)
