"""Bulk scheduling by spreadsheet: each row names a service, a date and a window, and is scheduled
through service_schedule or reported with the reason it was not.

A file that cannot be read at all (not a spreadsheet, empty, missing columns, too many rows) is
refused before any row is looked at, so nothing is written. Otherwise each row is its own
transaction (the action's): good rows are scheduled, bad rows reported.
"""

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts import access
from accounts.imports import FileRejected, fold, read_sheet, slug
from services.actions import Actor
from services.models import Service
from tracking.lib.errors import DomainError

from .actions import service_schedule
from .selectors import windows_for

MAX_ROWS = 5_000
SCHEDULED, REJECTED = "scheduled", "rejected"
RESULTS = {SCHEDULED: gettext_lazy("scheduled"), REJECTED: gettext_lazy("rejected")}
# Column -> other titles it accepts (compared as accounts.imports.slug does).
COLUMNS = {
    "external_id": ("id_externo", "codigo_externo", "cod_externo", "external_code", "id"),
    "invoice_number": ("nota_fiscal", "numero_nota_fiscal", "nf", "nfe", "numero_nf", "invoice"),
    "invoice_series": ("serie", "serie_nf", "serie_nota", "series"),
    "date": ("data", "schedule_date", "data_agendamento", "scheduled_date", "dia"),
    "window": ("janela", "schedule_window", "janela_de_entrega", "periodo", "period"),
}
_HOURS = re.compile(r"(\d{1,2}):(\d{2})\s*[-–—a]\s*(\d{1,2}):(\d{2})")


@dataclass
class RowResult:
    number: int  # as the spreadsheet shows it: the header is row 1
    result: str
    key: str = ""  # what the row named: an external id or an invoice
    service: Service | None = None
    reason: str = ""

    @property
    def result_label(self):
        return RESULTS[self.result]


@dataclass
class BulkReport:
    rows: list[RowResult] = field(default_factory=list)
    error: str = ""  # why the whole file was refused (then nothing was written)

    @property
    def totals(self):
        counts = Counter(row.result for row in self.rows)
        return {result: counts[result] for result in RESULTS}


def bulk_schedule(*, user, uploaded_file, now=None):
    """Schedules each row's service (found in the user's scope) for its date and window, as the
    user. Never raises for bad input: a refused file or row is reported."""
    report = BulkReport()
    try:
        header, rows = read_sheet(uploaded_file)
        columns = _columns(header)
        if len(rows) > MAX_ROWS:
            raise FileRejected(
                _("The file has more than %(count)d rows. Split it and upload the parts.")
                % {"count": MAX_ROWS}
            )
    except FileRejected as exc:
        report.error = exc.message
        return report
    actor = Actor.for_user(user)
    windows = {}
    for number, cells in rows:
        values = {
            name: cells[index] if index < len(cells) else "" for name, index in columns.items()
        }
        row = RowResult(number, REJECTED, key=_key(values))
        try:
            row.service = _find_service(user, values)
            day = _parse_date(values.get("date", ""))
            window = _find_window(row.service, day, values.get("window", ""), windows)
            service_schedule(service=row.service, day=day, window=window, actor=actor, now=now)
        except DomainError as exc:
            row.reason = exc.message
        else:
            row.result = SCHEDULED
        report.rows.append(row)
    return report


def _columns(header):
    """Column name -> its index; raises FileRejected when a needed column is missing."""
    titles = {slug(title): index for index, title in reversed(list(enumerate(header)))}
    columns = {}
    for name, aliases in COLUMNS.items():
        for title in (name, *aliases):
            if title in titles:
                columns[name] = titles[title]
                break
    missing = [name for name in ("date", "window") if name not in columns]
    if "external_id" not in columns and "invoice_number" not in columns:
        missing.append("external_id / invoice_number")
    if missing:
        raise FileRejected(
            _("The file lacks the columns: %(columns)s.") % {"columns": ", ".join(missing)}
        )
    return columns


def _key(values):
    if values.get("external_id"):
        return values["external_id"]
    if values.get("invoice_number"):
        series = values.get("invoice_series", "")
        return f"{values['invoice_number']}-{series}" if series else values["invoice_number"]
    return ""


def _find_service(user, values):
    services = access.scope(user, Service.objects.select_related("account", "branch"))
    if values.get("external_id"):
        services = services.filter(external_id=values["external_id"])
    elif values.get("invoice_number"):
        services = services.filter(
            invoice_number=values["invoice_number"],
            invoice_series=values.get("invoice_series", ""),
        )
    else:
        raise DomainError(_("Give an external id or an invoice number."))
    found = list(services[:2])
    if not found:
        raise DomainError(_("No such service."))
    if len(found) > 1:
        raise DomainError(_("More than one service matches this row."))
    return found[0]


def _parse_date(text):
    text = text.strip()
    # An XLSX date cell reads as midnight of that day.
    text = text.removesuffix("T00:00:00")
    for pattern in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    raise DomainError(_("The date is not YYYY-MM-DD or DD/MM/YYYY: “%(value)s”.") % {"value": text})


def _find_window(service, day: date, text, cache):
    """The window the service's branch (or account) offers that weekday, by name or hours."""
    branch_key = (service.account_id, service.branch_id)
    if branch_key not in cache:
        cache[branch_key] = windows_for(account=service.account, branch=service.branch)
    offered = [window for window in cache[branch_key] if window.weekday == day.weekday()]
    for window in offered:
        if fold(window.name) == fold(text):
            return window
    hours = _HOURS.fullmatch(text.strip())
    if hours:
        start, end = (int(hours[1]), int(hours[2])), (int(hours[3]), int(hours[4]))
        for window in offered:
            if (window.start.hour, window.start.minute) == start and (
                (window.end.hour, window.end.minute) == end
            ):
                return window
    raise DomainError(_("No window “%(value)s” on that day.") % {"value": text})
