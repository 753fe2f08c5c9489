"""Exports of the deliveries report's tables: CSV (one table, a section column) and XLSX (one
sheet per table), both streamed. Text cells go through services.exports' formula guard."""

import csv
import tempfile

import openpyxl
from django.http import FileResponse, StreamingHttpResponse
from django.utils.translation import gettext as _

from services.exports import _ILLEGAL_XLSX, _Echo, _safe_text

from .deliveries import COLUMNS


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
    return _safe_text(value) if isinstance(value, str) else value


def csv_response(report):
    """The report's tables one after the other, each row led by its table's title."""
    writer = csv.writer(_Echo())

    def lines():
        yield "\ufeff"
        for title, header, rows in _tables(report):
            yield writer.writerow([_("Table"), *header])
            for row in rows:
                yield writer.writerow([title, *(_cell(value) for value in row)])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename(report, "csv")}"'
    return response


def xlsx_response(report):
    """A workbook with one sheet per table, written by openpyxl in write-only mode."""
    workbook = openpyxl.Workbook(write_only=True)
    for title, header, rows in _tables(report):
        sheet = workbook.create_sheet(title=title[:31])
        sheet.freeze_panes = "A2"
        sheet.append(header)
        for row in rows:
            sheet.append(
                [_cell(_ILLEGAL_XLSX.sub("", v)) if isinstance(v, str) else v for v in row]
            )
    output = tempfile.TemporaryFile()  # noqa: SIM115 - FileResponse closes it
    workbook.save(output)
    output.seek(0)
    return FileResponse(
        output,
        as_attachment=True,
        filename=filename(report, "xlsx"),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
