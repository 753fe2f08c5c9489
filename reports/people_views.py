"""The people reports' pages: working hours and ranking, each a page, its htmx partial and its
CSV and XLSX exports (the same pattern as reports.views)."""

from django.utils import timezone
from django.utils.translation import gettext as _

from . import exports
from . import ranking as ranking_module
from . import working_hours as hours_module
from .views import _tzinfo, render_report, report_form, reports_section


def _filename(prefix, report, extension):
    first, last = report.filters.first_day, report.filters.last_day
    return f"{prefix}-{first:%Y-%m-%d}-{last:%Y-%m-%d}.{extension}"


# Working hours ----------------------------------------------------------------------------------


def _working_hours_report(request):
    form, tzinfo = report_form(request)
    report = hours_module.working_hours_report(
        user=request.user, filters=form.filters(), tzinfo=tzinfo
    )
    return form, report


def working_hours_headers():
    return {
        "driving": _("Driving (h)"),
        "at_customers": _("At customers (h)"),
        "idle": _("Idle (h)"),
    }


def _working_hours_chart(report):
    """Stacked bars per driver (over the period): driving, at customers, idle, in hours."""
    per_driver = {}
    for row in report.rows:
        totals = per_driver.setdefault(
            row["driver_id"], {"name": row["name"], **dict.fromkeys(hours_module.DURATIONS)}
        )
        for key in hours_module.DURATIONS:
            totals[key] = (totals[key] or hours_module.ZERO) + row[key]
    drivers = sorted(per_driver.values(), key=lambda driver: driver["name"])
    return {
        "labels": [driver["name"] for driver in drivers],
        "series": [
            {"label": label, "key": key, "data": [hours_module.hours(d[key]) for d in drivers]}
            for key, label in working_hours_headers().items()
        ],
    }


def _working_hours_tables(report):
    tz = timezone.get_current_timezone()

    def local(value):
        return timezone.localtime(value, tz).replace(tzinfo=None) if value else None

    header = [
        _("Day"), _("Driver"), _("First start"), _("Last finish"),
        *working_hours_headers().values(), _("Distance (km)"), _("Routes"),
        _("Routes with planned distance"),
    ]  # fmt: skip
    rows = [
        [
            row["day"],
            row["name"],
            local(row["first_start"]),
            local(row["last_finish"]),
            *(hours_module.hours(row[key]) for key in hours_module.DURATIONS),
            round(row["distance_m"] / 1000, 1),
            row["routes"],
            row["planned_routes"],
        ]
        for row in report.rows
    ]
    return [(_("Working hours"), header, rows)]


@reports_section
def working_hours(request):
    form, report = _working_hours_report(request)
    totals = report.totals
    cards = [
        ("drivers", _("Drivers"), totals["drivers"]),
        *(
            (key, label, hours_module.hours(totals[key]))
            for key, label in working_hours_headers().items()
        ),
        ("distance", _("Distance (km)"), round(totals["distance_m"] / 1000, 1)),
    ]
    context = {
        "form": form,
        "report": report,
        "total_cards": cards,
        "rows": [
            {**row, **{f"{key}_h": hours_module.hours(row[key]) for key in hours_module.DURATIONS}}
            for row in report.rows
        ],
        "chart": _working_hours_chart(report),
    }
    return render_report(request, "working_hours", context)


def _working_hours_export(request, extension):
    _form, report = _working_hours_report(request)
    with timezone.override(_tzinfo(request.user)):
        tables = _working_hours_tables(report)
    return tables, _filename("working-hours", report, extension)


@reports_section
def working_hours_csv(request):
    return exports.csv_tables_response(*_working_hours_export(request, "csv"))


@reports_section
def working_hours_xlsx(request):
    return exports.xlsx_tables_response(*_working_hours_export(request, "xlsx"))


# Ranking ----------------------------------------------------------------------------------------


def _ranking_report(request):
    form, _tz = report_form(request)
    return form, ranking_module.ranking_report(user=request.user, filters=form.filters())


def ranking_headers():
    """The numbers' headers, in ranking.COLUMNS' order."""
    return {
        "success_rate": _("Success rate (%)"),
        "done": _("Done stops"),
        "failed": _("Failed stops"),
        "on_time_rate": _("On-time rate (%)"),
        "on_time": _("On time"),
        "with_deadline": _("Done with a deadline"),
        "average_rating": _("Average rating"),
        "ratings": _("Ratings"),
        "services_per_hour": _("Services per hour"),
        "hours": _("Hours worked"),
    }


def _ranking_tables(report):
    headers = [ranking_headers()[key] for key in ranking_module.COLUMNS]

    def rows(groups):
        return [
            [row["rank"], row["name"], *(row[key] for key in ranking_module.COLUMNS)]
            for row in groups
        ]

    return [
        (_("Drivers"), [_("Rank"), _("Driver"), *headers], rows(report.drivers)),
        (_("Carriers"), [_("Rank"), _("Carrier"), *headers], rows(report.carriers)),
    ]


@reports_section
def ranking(request):
    form, report = _ranking_report(request)
    headers = ranking_headers()
    context = {
        "form": form,
        "report": report,
        "headers": [headers[key] for key in ranking_module.COLUMNS],
        "columns": ranking_module.COLUMNS,
    }
    return render_report(request, "ranking", context)


@reports_section
def ranking_csv(request):
    _form, report = _ranking_report(request)
    return exports.csv_tables_response(_ranking_tables(report), _filename("ranking", report, "csv"))


@reports_section
def ranking_xlsx(request):
    _form, report = _ranking_report(request)
    return exports.xlsx_tables_response(
        _ranking_tables(report), _filename("ranking", report, "xlsx")
    )
