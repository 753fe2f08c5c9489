"""The operators' scheduling pages: the capacity calendar, the services of one window and day,
choosing a service's date and window, and scheduling many services from a spreadsheet.

Managers and operators (accounts.access's SCHEDULE) of an account; anyone else gets a 404, and
so does any object outside the user's scope.
"""

from datetime import date, timedelta
from functools import wraps
from itertools import groupby

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import access
from services.actions import Actor
from services.models import Service
from tracking.lib.errors import DomainError

from . import bulk as bulk_scheduling
from .actions import service_schedule
from .forms import WEEK, BulkForm, CalendarForm, SlotForm
from .models import DeliveryWindow, Schedule
from .selectors import available_slots, window_usage


def schedule_section(view):
    """Logged in, in an account, and allowed in the schedule section; anyone else gets a 404."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        user = request.user
        if not access.can_see_section(user, access.SCHEDULE) or user.account_id is None:
            raise Http404
        return view(request, *args, **kwargs)

    return wrapper


@schedule_section
def index(request):
    user = request.user
    form = CalendarForm(request.GET, user=user)
    view = form.value("view", WEEK)
    chosen = form.value("date", timezone.localdate(timezone=user.account.tzinfo))
    branch = form.value("branch", user.branch if user.branch_id else None)
    start, days = (chosen - timedelta(days=chosen.weekday()), 7) if view == WEEK else (chosen, 1)
    usage = window_usage(account=user.account, branch=branch, start=start, days=days)
    by_day = {start + timedelta(days=offset): [] for offset in range(days)}
    for day, window, booked in usage:
        by_day[day].append(_capacity(window, booked))
    step = timedelta(days=7 if view == WEEK else 1)
    context = {
        "form": form,
        "view": view,
        "branch": branch,
        "days": list(by_day.items()),
        "start": start,
        "end": start + timedelta(days=days - 1),
        "previous": start - step,
        "next": start + step,
        "today": timezone.localdate(timezone=user.account.tzinfo),
    }
    return render(request, "scheduling/index.html", context)


def _capacity(window, booked):
    used = min(booked, window.capacity)
    percent = round(100 * used / window.capacity) if window.capacity else 100
    return {
        "window": window,
        "booked": booked,
        "free": max(window.capacity - booked, 0),
        "percent": percent,
    }


@schedule_section
def window(request, pk, day):
    user = request.user
    # Not access.scope: a branch's users also use the account's default windows.
    windows = DeliveryWindow.objects.filter(account_id=user.account_id).select_related("branch")
    window = get_object_or_404(windows, pk=pk)
    try:
        day = date.fromisoformat(day)
    except ValueError as exc:
        raise Http404 from exc
    services = (
        access.scope(user, Service.objects.filter(schedule__window=window, schedule__date=day))
        .select_related("customer", "branch")
        .order_by("pk")
    )
    return render(
        request, "scheduling/window.html", {"window": window, "day": day, "services": services}
    )


@schedule_section
def service(request, pk):
    user = request.user
    service = access.get_object_or_404(
        user, Service.objects.select_related("account", "branch", "customer"), pk=pk
    )
    if request.method == "POST":
        form = SlotForm(request.POST, account=service.account)
        if not form.is_valid():
            messages.error(request, _("Choose one of the dates and windows offered."))
            return redirect("scheduling:service", pk=service.pk)
        try:
            service_schedule(
                service=service,
                day=form.cleaned_data["date"],
                window=form.cleaned_data["window"],
                actor=Actor.for_user(user),
            )
        except DomainError as error:
            messages.error(request, error.message)
            return redirect("scheduling:service", pk=service.pk)
        messages.success(request, _("Delivery date saved."))
        return redirect("services:detail", pk=service.pk)
    current = Schedule.objects.filter(service=service).select_related("window").first()
    slots = available_slots(service=service)
    dates = [(day, list(group)) for day, group in groupby(slots, key=lambda slot: slot.date)]
    return render(
        request,
        "scheduling/service.html",
        {"service": service, "current": current, "dates": dates},
    )


@schedule_section
def bulk(request):
    form = BulkForm(request.POST or None, request.FILES or None)
    report = None
    if request.method == "POST" and form.is_valid():
        report = bulk_scheduling.bulk_schedule(
            user=request.user, uploaded_file=form.cleaned_data["file"]
        )
    return render(
        request,
        "scheduling/bulk.html",
        {
            "form": form,
            "report": report,
            "max_rows": bulk_scheduling.MAX_ROWS,
            "columns": bulk_scheduling.COLUMNS,
        },
    )
