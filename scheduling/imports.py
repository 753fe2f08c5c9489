"""The schedule columns of the services import: a row with a date and a window schedules its service
through service_schedule, in the row's transaction (an error rejects the whole row)."""

import re
from datetime import datetime, time

from django.utils.translation import gettext as _

from accounts.imports import slug
from services.imports import ColumnHandler
from tracking.lib.errors import DomainError

from .actions import service_schedule
from .selectors import windows_for

DATE_COLUMN = "schedule_date"
WINDOW_COLUMN = "schedule_window"
_DAY_FORMATS = ("%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y", "%d/%m/%y")
# An XLSX date cell reads as midnight ("2030-12-31T00:00:00"): it means the day.
_SHEET_DAY = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ]00:00(:00)?$")
_RANGE = re.compile(
    r"^(\d{1,2})(?:[:h](\d{2}))?h?\s*(?:-|–|—|às|as|a|to)\s*(\d{1,2})(?:[:h](\d{2}))?h?$"
)


def parse_day(text):
    text = text.strip()
    match = _SHEET_DAY.match(text)
    if match:
        text = match.group(1)
    for fmt in _DAY_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def find_window(text, windows):
    """The window among windows that text names: by name (without case, accents and punctuation),
    by its hours ("08:00-12:00", "8h-12h") or by its id; None when none or several match."""
    key = slug(text)
    found = [window for window in windows if slug(window.name) == key]
    if not found:
        match = _RANGE.match(text.strip().lower())
        if match:
            try:
                start = time(int(match.group(1)), int(match.group(2) or 0))
                end = time(int(match.group(3)), int(match.group(4) or 0))
            except ValueError:  # 25:00 and the like
                return None
            found = [w for w in windows if (w.start, w.end) == (start, end)]
    if not found and text.strip().isdigit():
        found = [window for window in windows if window.pk == int(text.strip())]
    return found[0] if len(found) == 1 else None


def apply_schedule(service, values, account, actor):
    """Schedules the service for the row's date and window; returns the row's errors."""
    day_text = values.get(DATE_COLUMN, "").strip()
    window_text = values.get(WINDOW_COLUMN, "").strip()
    if not day_text and not window_text:
        return []
    if not day_text:
        return [(DATE_COLUMN, _("Give the delivery date as well as the window."))]
    if not window_text:
        return [(WINDOW_COLUMN, _("Give the delivery window as well as the date."))]
    day = parse_day(day_text)
    if day is None:
        return [(DATE_COLUMN, _("Write the date as 31/12/2030 or 2030-12-31."))]
    branch = service.branch if service.branch_id else None
    windows = [w for w in windows_for(account=account, branch=branch) if w.weekday == day.weekday()]
    window = find_window(window_text, windows)
    if window is None:
        names = ", ".join(
            f"{w.name} ({w.start:%H:%M}–{w.end:%H:%M})"
            for w in sorted(windows, key=lambda w: w.start)
        )
        message = _("No window “%(window)s” on %(date)s.") % {
            "window": window_text,
            "date": day.strftime("%d/%m/%Y"),
        }
        if names:
            message += " " + _("Windows that day: %(names)s.") % {"names": names}
        return [(WINDOW_COLUMN, message)]
    try:
        # An import registers services with the dates agreed with the shipper: a first date is
        # part of the registration (told by "service registered"), a changed one is news.
        service_schedule(
            service=service, day=day, window=window, actor=actor, confirm_first_date=False
        )
    except DomainError as exc:
        column = DATE_COLUMN if "date" in exc.fields else WINDOW_COLUMN
        return [(column, exc.message)]
    return []


HANDLER = ColumnHandler(
    columns={
        DATE_COLUMN: ("data_agendamento", "data_agendada", "data_de_entrega", "data_entrega"),
        WINDOW_COLUMN: ("janela", "janela_de_entrega", "janela_entrega", "periodo", "turno"),
    },
    apply=apply_schedule,
)
