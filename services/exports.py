"""Exports of the services list (every row matching the filters, not one page): CSV and XLSX.

CSV is streamed row by row, UTF-8 with a byte-order mark (so Excel detects the encoding), comma
separated by default; `delimiter=";"` gives what Excel expects where the comma is the decimal
separator (pt-BR, es). Numbers are written with a decimal point either way. XLSX is written by
openpyxl in write-only mode to a temporary file, so neither holds the whole list in memory.

Times are in the account's time zone. Text that a spreadsheet would run as a formula (starting
with =, +, -, @) is prefixed with an apostrophe.
"""

import csv
import re
import tempfile
from datetime import datetime

import openpyxl
from django.http import FileResponse, StreamingHttpResponse
from django.utils.translation import gettext as _

from .models import ServiceStatus, ServiceType

CHUNK = 1000
# Cells a spreadsheet would evaluate; signed numbers ("-23.5", "+55 11 ...") are left alone.
_FORMULA = re.compile(r"^(?:[=@\t\r]|[+-](?![\d\s().,-]*$))")
ILLEGAL_XLSX = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _columns():
    """(header, value of a service) per column, headers translated now (in the request)."""
    types = {value: str(label) for value, label in ServiceType.choices}
    statuses = {value: str(label) for value, label in ServiceStatus.choices}
    return [
        (_("Id"), lambda s: s.pk),
        (_("Type"), lambda s: types.get(s.type, s.type)),
        (_("Status"), lambda s: statuses.get(s.status, s.status)),
        (_("Order number"), lambda s: s.order_number),
        (_("Invoice number"), lambda s: s.invoice_number),
        (_("Invoice series"), lambda s: s.invoice_series),
        (_("External id"), lambda s: s.external_id),
        (_("Customer"), lambda s: s.customer.name),
        (_("CPF / CNPJ"), lambda s: s.customer.document),
        (_("Customer phone"), lambda s: s.customer.phone),
        (_("Customer e-mail"), lambda s: s.customer.email),
        (_("Street"), lambda s: s.street),
        (_("Number"), lambda s: s.number),
        (_("Complement"), lambda s: s.complement),
        (_("District"), lambda s: s.district),
        (_("City"), lambda s: s.city),
        (_("State"), lambda s: s.state),
        (_("Postal code"), lambda s: s.postal_code),
        (_("Latitude"), lambda s: s.lat),
        (_("Longitude"), lambda s: s.lng),
        (_("Agency"), lambda s: s.agency.name if s.agency else ""),
        (_("Branch"), lambda s: s.branch.name if s.branch else ""),
        (_("Partner"), lambda s: s.partner.name if s.partner else ""),
        (_("Carrier"), lambda s: str(s.carrier) if s.carrier else ""),
        (_("Weight (kg)"), lambda s: s.weight_kg),
        (_("Volume (m³)"), lambda s: s.volume_m3),
        (_("Declared value"), lambda s: s.declared_value),
        (_("Service time (min)"), lambda s: s.service_time_min),
        (_("Deadline"), lambda s: s.deadline),
        (_("Attempts"), lambda s: s.attempt_count),
        (_("Packages"), lambda s: " ".join(p.barcode for p in s.packages.all())),
        (_("Description"), lambda s: s.description),
        (_("Created at"), lambda s: s.created_at),
        (_("Updated at"), lambda s: s.updated_at),
        (_("Tracking link"), lambda s: s.tracking_url),
    ]


def _rows(services, columns, cell):
    for service in services.prefetch_related("packages").iterator(chunk_size=CHUNK):
        yield [cell(value(service)) for _header, value in columns]


def safe_text(value):
    """Text a spreadsheet would run as a formula (=, @, or + and - not starting a number), made
    plain with a leading quote."""
    return f"'{value}" if _FORMULA.match(value) else value


def filename(account_today, extension):
    return f"services-{account_today:%Y-%m-%d}.{extension}"


class Echo:
    """A file-like object whose write returns the line, for csv.writer in a generator."""

    def write(self, value):
        return value


def csv_response(services, *, tzinfo, name, delimiter=","):
    """A streamed CSV of services (a queryset with its related rows selected)."""
    columns = _columns()

    def cell(value):
        if value is None:
            return ""
        if isinstance(value, datetime):
            return value.astimezone(tzinfo).strftime("%Y-%m-%d %H:%M")
        if isinstance(value, str):
            return safe_text(value)
        return value

    writer = csv.writer(Echo(), delimiter=delimiter)

    def lines():
        yield "\ufeff" + writer.writerow([header for header, _value in columns])
        for row in _rows(services, columns, cell):
            yield writer.writerow(row)

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def xlsx_response(services, *, tzinfo, name):
    """An XLSX workbook of services with one sheet; times local, without a zone (Excel has
    none)."""
    columns = _columns()

    def cell(value):
        if isinstance(value, datetime):
            return value.astimezone(tzinfo).replace(tzinfo=None)
        if isinstance(value, str):
            return safe_text(ILLEGAL_XLSX.sub("", value))
        return value

    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet(title=_("Services")[:31])
    sheet.freeze_panes = "A2"
    sheet.append([header for header, _value in columns])
    for row in _rows(services, columns, cell):
        sheet.append(row)
    output = tempfile.TemporaryFile()  # noqa: SIM115 - FileResponse closes it
    workbook.save(output)
    output.seek(0)
    return FileResponse(
        output,
        as_attachment=True,
        filename=name,
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
