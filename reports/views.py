"""The reports' pages: the list of reports and each report with its exports.

Seeing the section at all is accounts.access's REPORTS (managers and partner users; anyone else
gets a 404); what each user sees inside it is access.scope's.
"""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _

from accounts import access

from . import deliveries, driver_status, exports, messages
from .forms import MessageFilterForm, ReportFilterForm


def reports_section(view):
    """Logged in and allowed in the reports section; anyone else gets a 404."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not access.can_see_section(request.user, access.REPORTS):
            raise Http404
        return view(request, *args, **kwargs)

    return wrapper


def _tzinfo(user):
    return user.account.tzinfo if user.account_id else timezone.get_current_timezone()


def _delivery_report(request):
    tzinfo = _tzinfo(request.user)
    today = timezone.localdate(timezone=tzinfo)
    form = ReportFilterForm(request.GET, user=request.user, today=today)
    report = deliveries.delivery_report(user=request.user, filters=form.filters(), tzinfo=tzinfo)
    return form, report


@reports_section
def index(request):
    return render(request, "reports/index.html")


@reports_section
def delivery_report(request):
    form, report = _delivery_report(request)
    partial = bool(request.htmx) and not request.htmx.history_restore_request
    template = "reports/_partials/deliveries.html" if partial else "reports/deliveries.html"
    headers = exports.column_headers()
    context = {
        "form": form,
        "report": report,
        "headers": headers,
        "total_cards": [(key, label, report.totals[key]) for key, label in headers.items()],
        "query": request.GET.urlencode(),
        "chart": _chart(report),
    }
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _chart(report):
    """Stacked bars by day: done, failed, and the rest (returned, cancelled, open)."""
    days = report.by_day
    return {
        "labels": [row["group"].isoformat() for row in days],
        "series": [
            {"label": _("Done"), "key": "done", "data": [row["done"] for row in days]},
            {"label": _("Failed"), "key": "failed", "data": [row["failed"] for row in days]},
            {
                "label": _("Other"),
                "key": "other",
                "data": [row["total"] - row["done"] - row["failed"] for row in days],
            },
        ],
    }


@reports_section
def delivery_export(request, fmt):
    _form, report = _delivery_report(request)
    if fmt == "csv":
        return exports.csv_response(report)
    return exports.xlsx_response(report)


# SMS and e-mail ---------------------------------------------------------------------------------


def _message_report(request):
    tzinfo = _tzinfo(request.user)
    today = timezone.localdate(timezone=tzinfo)
    form = MessageFilterForm(request.GET, user=request.user, today=today)
    report = messages.message_report(user=request.user, filters=form.filters(), tzinfo=tzinfo)
    return form, report


@reports_section
def message_report(request):
    form, report = _message_report(request)
    partial = bool(request.htmx) and not request.htmx.history_restore_request
    template = "reports/_partials/messages.html" if partial else "reports/messages.html"
    headers = exports.message_headers()
    cost_headers = exports.cost_headers(report)
    context = {
        "form": form,
        "report": report,
        "headers": headers,
        "cost_headers": cost_headers,
        "cost_cards": list(zip(cost_headers, report.totals["costs"], strict=True)),
        "total_cards": [(key, label, report.totals[key]) for key, label in headers.items()],
        "query": request.GET.urlencode(),
        "chart": _message_chart(report),
    }
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _message_chart(report):
    """Stacked bars by day, one series per delivery status."""
    days = report.by_day
    return {
        "labels": [row["group"].isoformat() for row in days],
        "series": [
            {"label": label, "key": key, "data": [row[key] for row in days]}
            for key, label in exports.message_headers().items()
            if key != "total"
        ],
    }


@reports_section
def message_export(request, fmt):
    _form, report = _message_report(request)
    if fmt == "csv":
        return exports.message_csv_response(report)
    return exports.message_xlsx_response(report)


# Driver status ----------------------------------------------------------------------------------


def _driver_status_report(request):
    tzinfo = _tzinfo(request.user)
    now = timezone.now()
    return driver_status.driver_status_report(
        user=request.user, now=now, today=timezone.localdate(now, timezone=tzinfo)
    )


@reports_section
def driver_status_report(request):
    report = _driver_status_report(request)
    return render(request, "reports/driver_status.html", {"report": report})


@reports_section
def driver_status_export(request, fmt):
    report = _driver_status_report(request)
    if fmt == "csv":
        return exports.driver_status_csv_response(report)
    return exports.driver_status_xlsx_response(report)
