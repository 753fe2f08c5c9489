"""The scheduling report's pages: the report (the page, or its results partial for htmx) and its
CSV and XLSX exports. Same pattern as reports.views' deliveries report; its URLs are
reports.scheduling_urls'."""

from django.utils.translation import gettext as _

from . import exports, scheduling
from .views import render_report, report_form, reports_section


def column_headers():
    """The counts' headers, in scheduling.COLUMNS' order (translated now, in the request)."""
    return {
        "total": _("Scheduled"),
        "done": _("Done"),
        "on_date": _("On the scheduled date"),
        "late": _("Late"),
        "failed": _("Failed"),
        "cancelled": _("Cancelled"),
        "not_yet": _("Not yet"),
        "in_window": _("Inside the window"),
        "outside_window": _("Outside the window"),
    }


def _scheduling_report(request):
    form, _tz = report_form(request)
    report = scheduling.scheduling_report(user=request.user, filters=form.filters())
    return form, report


def _rows(groups):
    return [[group["group"], *(group[name] for name in scheduling.COLUMNS)] for group in groups]


@reports_section
def scheduling_report(request):
    form, report = _scheduling_report(request)
    headers = column_headers()
    context = {
        "form": form,
        "report": report,
        "headers": headers,
        "total_cards": [(key, label, report.totals[key]) for key, label in headers.items()],
        "tables": [
            (_("By day"), _("Day"), "table-day", _rows(report.by_day)),
            (_("By origin"), _("Origin"), "table-origin", _rows(report.by_origin)),
        ],
        "chart": _chart(report),
    }
    return render_report(request, "scheduling", context)


def _chart(report):
    """Stacked bars by day: on the scheduled date, late, failed, not yet, cancelled. A series'
    key picks its colour in static/js/reports.js."""
    days = report.by_day

    def series(label, colour, name):
        return {"label": label, "key": colour, "data": [row[name] for row in days]}

    return {
        "labels": [row["group"].isoformat() for row in days],
        "series": [
            series(_("On the scheduled date"), "done", "on_date"),
            series(_("Late"), "bounced", "late"),
            series(_("Failed"), "failed", "failed"),
            series(_("Not yet"), "queued", "not_yet"),
            series(_("Cancelled"), "other", "cancelled"),
        ],
    }


def _tables(report):
    """(title, header row, rows) per table of the report."""
    headers = column_headers()
    counts = [headers[name] for name in scheduling.COLUMNS]
    period = f"{report.filters.first_day:%Y-%m-%d} – {report.filters.last_day:%Y-%m-%d}"
    return [
        (
            _("Totals"),
            [_("Period"), *counts],
            [[period, *(report.totals[name] for name in scheduling.COLUMNS)]],
        ),
        (_("By day"), [_("Day"), *counts], _rows(report.by_day)),
        (_("By origin"), [_("Origin"), *counts], _rows(report.by_origin)),
    ]


def _filename(report, extension):
    first, last = report.filters.first_day, report.filters.last_day
    return f"scheduling-{first:%Y-%m-%d}-{last:%Y-%m-%d}.{extension}"


@reports_section
def scheduling_csv(request):
    _form, report = _scheduling_report(request)
    return exports.csv_tables_response(_tables(report), _filename(report, "csv"))


@reports_section
def scheduling_xlsx(request):
    _form, report = _scheduling_report(request)
    return exports.xlsx_tables_response(_tables(report), _filename(report, "xlsx"))
