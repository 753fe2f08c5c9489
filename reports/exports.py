"""Exports of the reports' tables: CSV (one table, a section column) and XLSX (one sheet per
table), both streamed. Text cells go through services.exports' formula guard. csv_response and
xlsx_response are the deliveries report's; the other reports pass their own (title, header, rows)
tables to csv_tables_response and xlsx_tables_response."""

import csv
import tempfile

import openpyxl
from django.http import FileResponse, StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from services.exports import ILLEGAL_XLSX, Echo, safe_text

from .deliveries import COLUMNS
from .messages import COLUMNS as MESSAGE_COLUMNS


def column_headers():
    """The counts' headers, in COLUMNS' order (translated now, in the request)."""
    return {
        "total": _("Total"),
        "done": _("Done"),
        "failed": _("Failed"),
        "returned": _("Returned"),
        "cancelled": _("Cancelled"),
        "open": _("Open"),
        "on_time": _("On time"),
        "late": _("Late"),
        "not_yet_due": _("Not yet due"),
        "first_attempt": _("First-attempt success"),
    }


def _tables(report):
    """(title, header row, rows) per table of the report."""
    headers = column_headers()
    counts = [headers[name] for name in COLUMNS]

    def rows(groups):
        return [[group["group"], *(group[name] for name in COLUMNS)] for group in groups]

    return [
        (_("Totals"), [_("Period"), *counts], [[_period(report), *_totals(report)]]),
        (_("By day"), [_("Day"), *counts], rows(report.by_day)),
        (_("By branch"), [_("Branch"), *counts], rows(report.by_branch)),
        (_("By carrier"), [_("Carrier"), *counts], rows(report.by_carrier)),
        (_("By partner"), [_("Partner"), *counts], rows(report.by_partner)),
        (
            _("Failure reasons"),
            [_("Failure reason"), _("Failed stops")],
            [[row["group"], row["failed_stops"]] for row in report.by_failure_reason],
        ),
    ]


def _period(report):
    return f"{report.filters.first_day:%Y-%m-%d} – {report.filters.last_day:%Y-%m-%d}"


def _totals(report):
    return [report.totals[name] for name in COLUMNS]


def filename(report, extension):
    first, last = report.filters.first_day, report.filters.last_day
    return f"deliveries-{first:%Y-%m-%d}-{last:%Y-%m-%d}.{extension}"


def _cell(value):
    return safe_text(value) if isinstance(value, str) else value


def csv_response(report):
    return csv_tables_response(_tables(report), filename(report, "csv"))


def xlsx_response(report):
    return xlsx_tables_response(_tables(report), filename(report, "xlsx"))


def csv_tables_response(tables, name):
    """The tables one after the other, each row led by its table's title."""
    writer = csv.writer(Echo())

    def lines():
        yield "\ufeff"
        for title, header, rows in tables:
            yield writer.writerow([_("Table"), *header])
            for row in rows:
                yield writer.writerow([title, *(_cell(value) for value in row)])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def xlsx_tables_response(tables, name):
    """A workbook with one sheet per table, written by openpyxl in write-only mode."""
    workbook = openpyxl.Workbook(write_only=True)
    for title, header, rows in tables:
        sheet = workbook.create_sheet(title=title[:31])
        sheet.freeze_panes = "A2"
        sheet.append(header)
        for row in rows:
            sheet.append([_cell(ILLEGAL_XLSX.sub("", v)) if isinstance(v, str) else v for v in row])
    output = tempfile.TemporaryFile()  # noqa: SIM115 - FileResponse closes it
    workbook.save(output)
    output.seek(0)
    return FileResponse(
        output,
        as_attachment=True,
        filename=name,
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )


# The SMS and e-mail report ----------------------------------------------------------------------


def message_headers():
    """The message counts' headers, in messages.COLUMNS' order (translated now, in the request)."""
    return {
        "total": _("Total"),
        "queued": _("Queued"),
        "sent": _("Sent"),
        "delivered": _("Delivered"),
        "failed": _("Failed"),
        "bounced": _("Bounced"),
    }


def cost_headers(report):
    """One header per currency of the report's costs."""
    return [
        _("Cost (%(currency)s)") % {"currency": currency} if currency else _("Cost")
        for currency in report.currencies
    ]


def _message_tables(report):
    headers = message_headers()
    counts = [headers[name] for name in MESSAGE_COLUMNS] + cost_headers(report)

    def values(row):
        return [*(row[name] for name in MESSAGE_COLUMNS), *row["costs"]]

    def rows(groups):
        return [[group["group"], *values(group)] for group in groups]

    return [
        (_("Totals"), [_("Period"), *counts], [[_period(report), *values(report.totals)]]),
        (_("By day"), [_("Day"), *counts], rows(report.by_day)),
        (_("By trigger"), [_("Trigger"), *counts], rows(report.by_trigger)),
        (_("By channel"), [_("Channel"), *counts], rows(report.by_channel)),
    ]


def _message_filename(report, extension):
    first, last = report.filters.first_day, report.filters.last_day
    return f"messages-{first:%Y-%m-%d}-{last:%Y-%m-%d}.{extension}"


def message_csv_response(report):
    return csv_tables_response(_message_tables(report), _message_filename(report, "csv"))


def message_xlsx_response(report):
    return xlsx_tables_response(_message_tables(report), _message_filename(report, "xlsx"))


# The driver status report -----------------------------------------------------------------------


def _driver_status_table(report):
    header = [
        _("Driver"), _("Status"), _("Last seen"), _("Last position at"), _("Latitude"),
        _("Longitude"), _("Battery (%)"), _("Current route"), _("Stops done"), _("Stops"),
    ]  # fmt: skip

    def local(value):
        # Spreadsheets take no time zone: the account's local time, without it.
        return timezone.localtime(value).replace(tzinfo=None) if value else None

    rows = [
        [
            row["name"],
            _("Online") if row["online"] else _("Offline"),
            local(row["last_seen_at"]),
            local(row["last_position_at"]),
            row["last_lat"],
            row["last_lng"],
            row["battery_pct"],
            row["route_date"],
            row["stops_done"],
            row["stops_total"],
        ]
        for row in report.drivers
    ]
    return [(_("Drivers"), header, rows)]


def _driver_status_filename(report, extension):
    return f"driver-status-{timezone.localtime(report.now):%Y-%m-%d-%H%M}.{extension}"


def driver_status_csv_response(report):
    return csv_tables_response(_driver_status_table(report), _driver_status_filename(report, "csv"))


def driver_status_xlsx_response(report):
    return xlsx_tables_response(
        _driver_status_table(report), _driver_status_filename(report, "xlsx")
    )
