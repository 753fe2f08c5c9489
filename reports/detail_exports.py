"""Row-level exports of the reports: every service (deliveries report) or message (SMS and e-mail
report) behind the numbers, one row each, with the report's filters and the user's scope.

Rows come from the database in chunks (`iterator`, a server-side cursor on PostgreSQL) as plain
tuples and go straight to the file (csv, or openpyxl's write-only workbook), so memory stays flat
whatever the number of rows. A small export is written in the request; a large one is an
ExportJob run by a worker (reports.export_jobs) with its progress shown.

Times are the account's local times (without a zone in the spreadsheet). Text cells go through
services.exports' formula guard.
"""

import csv
import io
from dataclasses import dataclass
from datetime import datetime

import openpyxl
from django.db.models import CharField, OuterRef, Subquery, Value
from django.db.models.functions import Concat
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Trigger
from lastmile.models import Channel, MessageStatus
from routes.models import Stop
from services.exports import ILLEGAL_XLSX, safe_text
from services.models import ServiceStatus, ServiceType

from .deliveries import services_in_period
from .messages import messages_in_period

CHUNK = 2000


@dataclass(frozen=True)
class RowExport:
    """What one export writes: a name for its file and sheet, its header and its rows."""

    name: str
    title: str
    header: list
    rows: object  # an iterable of lists, produced lazily
    count: object  # a callable giving the number of rows (one COUNT query)


def _local(value, tzinfo):
    return timezone.localtime(value, tzinfo).replace(tzinfo=None) if value else None


def _driver_name():
    """The driver of the service's latest stop (its last attempt), one indexed lookup per row."""
    latest = (
        Stop.objects.filter(service_id=OuterRef("pk"))
        .order_by("-pk")
        .values(
            name=Concat(
                "route__driver__first_name",
                Value(" "),
                "route__driver__last_name",
                output_field=CharField(),
            )
        )[:1]
    )
    return Subquery(latest, output_field=CharField())


def delivery_rows(*, user, filters, tzinfo, now=None):
    """The services of the deliveries report, one row each, in the order they were created."""
    now = now or timezone.now()
    services = services_in_period(user=user, filters=filters, tzinfo=tzinfo)
    types = dict(ServiceType.choices)
    statuses = dict(ServiceStatus.choices)
    labels = {
        "on_time": _("On time"),
        "late": _("Late"),
        "not_yet_due": _("Not yet due"),
        True: _("Yes"),
        False: _("No"),
    }
    header = [
        _("Id"), _("Order number"), _("External id"), _("Type"), _("Status"), _("Customer"),
        _("City"), _("Branch"), _("Carrier"), _("Partner"), _("Driver"), _("Created at"),
        _("Finished at"), _("Deadline"), _("Deadline compliance"), _("Attempts"),
        _("First-attempt success"),
    ]  # fmt: skip
    fields = (
        "pk", "order_number", "external_id", "type", "status", "customer__name", "city",
        "branch__name", "carrier__name", "partner__name", "driver_name", "created_at",
        "finished_at", "deadline", "attempt_count",
    )  # fmt: skip

    def compliance(status, finished_at, deadline):
        if deadline is None:
            return ""
        if status == ServiceStatus.DONE:
            return labels["on_time"] if finished_at <= deadline else labels["late"]
        if finished_at is None:  # open
            return labels["late"] if deadline < now else labels["not_yet_due"]
        return ""

    def rows():
        queryset = services.annotate(driver_name=_driver_name()).order_by("pk").values_list(*fields)
        for row in queryset.iterator(chunk_size=CHUNK):
            (pk, order, external, kind, status, customer, city, branch, carrier, partner,
             driver, created, finished, deadline, attempts) = row  # fmt: skip
            done = status == ServiceStatus.DONE
            yield [
                pk, order, external, str(types.get(kind, kind)),
                str(statuses.get(status, status)), customer, city, branch or "", carrier or "",
                partner or "", (driver or "").strip(), _local(created, tzinfo),
                _local(finished, tzinfo), _local(deadline, tzinfo),
                compliance(status, finished, deadline), attempts,
                labels[attempts == 0] if done else "",
            ]  # fmt: skip

    return RowExport(
        name="deliveries-services",
        title=_("Services"),
        header=header,
        rows=rows(),
        count=services.count,
    )


def message_rows(*, user, filters, tzinfo):
    """The messages of the SMS and e-mail report, one row each, in the order they were queued."""
    messages = messages_in_period(user=user, filters=filters, tzinfo=tzinfo)
    triggers = dict(Trigger.choices)
    channels = dict(Channel.choices)
    statuses = dict(MessageStatus.choices)
    header = [
        _("Id"), _("Service"), _("Trigger"), _("Channel"), _("To"), _("Status"), _("Attempt"),
        _("Provider"), _("Cost"), _("Currency"), _("Created at"), _("Sent at"),
        _("Delivered at"), _("Error"),
    ]  # fmt: skip
    fields = (
        "pk", "service__order_number", "trigger", "channel", "to", "status", "attempt",
        "provider", "cost", "cost_currency", "created_at", "sent_at", "delivered_at", "error",
    )  # fmt: skip

    def rows():
        queryset = messages.order_by("pk").values_list(*fields)
        for row in queryset.iterator(chunk_size=CHUNK):
            (pk, order, trigger, channel, to, status, attempt, provider, cost, currency,
             created, sent, delivered, error) = row  # fmt: skip
            yield [
                pk, order, str(triggers.get(trigger, trigger)),
                str(channels.get(channel, channel)), to, str(statuses.get(status, status)),
                attempt, provider, cost, currency, _local(created, tzinfo), _local(sent, tzinfo),
                _local(delivered, tzinfo), error,
            ]  # fmt: skip

    return RowExport(
        name="messages-list", title=_("Messages"), header=header, rows=rows(), count=messages.count
    )


# Which reports have a row-level export, by the name in the URL and the ExportJob.
ROW_EXPORTS = {"deliveries": delivery_rows, "messages": message_rows}


# Writers ----------------------------------------------------------------------------------------


def _text(value):
    return safe_text(value) if isinstance(value, str) else value


def write_csv(export, output, *, progress=None):
    """Writes the export to a binary file as UTF-8 CSV with a byte-order mark (Excel)."""
    text = io.TextIOWrapper(output, encoding="utf-8-sig", newline="", write_through=True)
    writer = csv.writer(text)
    writer.writerow(export.header)
    written = 0
    for row in export.rows:
        writer.writerow(
            [value.isoformat(sep=" ") if isinstance(value, datetime) else _text(value)
             for value in row]
        )  # fmt: skip
        written += 1
        if progress is not None:
            progress(written)
    text.flush()
    text.detach()
    return written


def write_xlsx(export, output, *, progress=None):
    """Writes the export to a binary file as a workbook of one sheet (openpyxl write-only mode,
    which streams rows to a temporary file rather than keeping them)."""
    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet(title=export.title[:31])
    sheet.freeze_panes = "A2"
    sheet.append(export.header)
    written = 0
    for row in export.rows:
        sheet.append(
            [_text(ILLEGAL_XLSX.sub("", value)) if isinstance(value, str) else value
             for value in row]
        )  # fmt: skip
        written += 1
        if progress is not None:
            progress(written)
    workbook.save(output)
    return written


WRITERS = {"csv": write_csv, "xlsx": write_xlsx}
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def filename(export, filters, fmt):
    return f"{export.name}-{filters.first_day:%Y-%m-%d}-{filters.last_day:%Y-%m-%d}.{fmt}"
