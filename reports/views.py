"""The reports' pages: the list of reports and each report with its exports.

Seeing the section at all is accounts.access's REPORTS (managers, partner and carrier users;
anyone else gets a 404); what each user sees inside it is access.scope's.
"""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts import access

from . import deliveries, driver_status, exports, messages
from .forms import MessageFilterForm, ReportFilterForm
from .models import ExportJob


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


def report_form(request, form_class=ReportFilterForm):
    """The report's filters from the query string, and the user's time zone."""
    tzinfo = _tzinfo(request.user)
    today = timezone.localdate(timezone=tzinfo)
    return form_class(request.GET, user=request.user, today=today), tzinfo


# Each filtered report: (page title, breadcrumb label); its results are
# reports/_partials/<name>.html.
TITLES = {
    "deliveries": (gettext_lazy("Deliveries report"), gettext_lazy("Deliveries")),
    "messages": (gettext_lazy("SMS and e-mail report"), gettext_lazy("SMS and e-mail")),
    "scheduling": (gettext_lazy("Scheduling report"), gettext_lazy("Scheduling")),
    "working_hours": (gettext_lazy("Working hours report"), gettext_lazy("Working hours")),
    "ranking": (gettext_lazy("Ranking report"), gettext_lazy("Ranking")),
}


def render_report(request, name, context):
    """A filtered report: its page (reports/report.html), or for htmx only its results."""
    partial = bool(request.htmx) and not request.htmx.history_restore_request
    results = f"reports/_partials/{name}.html"
    title, label = TITLES[name]
    context = {
        **context,
        "query": request.GET.urlencode(),
        "results_template": results,
        "report_title": title,
        "report_label": label,
    }
    response = render(request, results if partial else "reports/report.html", context)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _delivery_report(request):
    form, tzinfo = report_form(request)
    report = deliveries.delivery_report(user=request.user, filters=form.filters(), tzinfo=tzinfo)
    return form, report


@reports_section
def index(request):
    """The list of reports and the user's exports of the last days (reports.export_jobs)."""
    exports = ExportJob.objects.filter(
        account_id=request.user.account_id, created_by=request.user
    ).order_by("-created_at", "-pk")[:10]
    return render(request, "reports/index.html", {"exports": exports})


@reports_section
def delivery_report(request):
    form, report = _delivery_report(request)
    headers = exports.column_headers()
    context = {
        "form": form,
        "report": report,
        "headers": headers,
        "total_cards": [(key, label, report.totals[key]) for key, label in headers.items()],
        "chart": _chart(report),
    }
    return render_report(request, "deliveries", context)


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
    form, tzinfo = report_form(request, MessageFilterForm)
    report = messages.message_report(user=request.user, filters=form.filters(), tzinfo=tzinfo)
    return form, report


@reports_section
def message_report(request):
    form, report = _message_report(request)
    headers = exports.message_headers()
    cost_headers = exports.cost_headers(report)
    context = {
        "form": form,
        "report": report,
        "headers": headers,
        "cost_headers": cost_headers,
        "cost_cards": list(zip(cost_headers, report.totals["costs"], strict=True)),
        "total_cards": [(key, label, report.totals[key]) for key, label in headers.items()],
        "chart": _message_chart(report),
    }
    return render_report(request, "messages", context)


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
