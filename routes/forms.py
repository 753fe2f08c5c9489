"""The routes pages' forms: the day's list filters, the builder's filters for pending services,
building a route (or adding stops to one), splitting services among drivers, and the departure
time.

Forms validate and shape input; every write goes through routes.actions (the views call them).
Filter forms never fail a page: an invalid value is ignored and shown next to its field.
"""

import math
from datetime import time

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from services.forms import DateInput, IdListField, StatusChangeForm

from . import actions, selectors
from .models import RouteStatus, StopStatus

DEFAULT_DEPARTURE = time(8, 0)


def _style(form, *, small=False):
    """Bootstrap classes on every visible widget."""
    size = " form-select-sm" if small else ""
    for field in form.fields.values():
        widget = field.widget
        if widget.is_hidden:
            continue
        if isinstance(widget, forms.Select):
            css = f"form-select{size}"
        else:
            css = "form-control form-control-sm" if small else "form-control"
        widget.attrs["class"] = f"{widget.attrs.get('class', '')} {css}".strip()


class TimeInput(forms.TimeInput):
    input_type = "time"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%H:%M")


class _OptionDataSelect(forms.Select):
    """A select whose options carry data-* attributes read from their object, for the page's
    script (a driver's usual vehicle, a vehicle's capacity)."""

    option_data = {}  # data attribute -> function of the object

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        instance = getattr(value, "instance", None)
        if instance is not None:
            for attribute, read in self.option_data.items():
                found = read(instance)
                option["attrs"][f"data-{attribute}"] = "" if found is None else found
        return option


class DriverSelect(_OptionDataSelect):
    option_data = {"vehicle": lambda d: d.vehicle_id, "branch": lambda d: d.branch_id}


class VehicleSelect(_OptionDataSelect):
    option_data = {
        "capacity-kg": lambda v: v.capacity_kg,
        "capacity-m3": lambda v: v.capacity_m3,
    }


class DriverField(forms.ModelChoiceField):
    """Drivers by name, with the username that tells two of the same name apart."""

    def label_from_instance(self, obj):
        return f"{obj} ({obj.username})"


class WindowField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        label = f"{obj.name} ({obj.start:%H:%M}–{obj.end:%H:%M})"
        return f"{label} · {obj.branch.name}" if obj.branch_id else label


# The day's routes -------------------------------------------------------------------------------


class RouteListForm(forms.Form):
    date = forms.DateField(label=_("Date"), required=False, widget=DateInput)
    branch = forms.ModelChoiceField(label=_("Branch"), queryset=None, required=False)
    driver = DriverField(label=_("Driver"), queryset=None, required=False)
    status = forms.ChoiceField(label=_("Status"), required=False)

    def __init__(self, data=None, *, user, today):
        super().__init__(data)
        self.today = today
        if user.branch_id:
            del self.fields["branch"]  # the user sees that branch only
        else:
            self.fields["branch"].queryset = selectors.branches_in_scope(user)
            self.fields["branch"].empty_label = _("All branches")
        self.fields["driver"].queryset = selectors.drivers_in_scope(user)
        self.fields["driver"].empty_label = _("All drivers")
        self.fields["status"].choices = [("", _("All statuses")), *RouteStatus.choices]
        _style(self, small=True)
        for name in ("branch", "driver", "status"):
            if name in self.fields:
                self.fields[name].widget.attrs["data-autosubmit"] = ""
        self.is_valid()

    def filters(self):
        data = self.cleaned_data
        return selectors.RouteFilters(
            day=data.get("date") or self.today,
            branch=data.get("branch"),
            driver=data.get("driver"),
            status=data.get("status") or "",
        )


# The builder ------------------------------------------------------------------------------------


def parse_area(text):
    """`south,west,north,east` in degrees -> a tuple of floats; ValueError when malformed."""
    parts = [part.strip() for part in text.split(",")]
    if len(parts) != 4:
        raise ValueError(text)
    south, west, north, east = (float(part) for part in parts)
    if not all(math.isfinite(value) for value in (south, west, north, east)):
        raise ValueError(text)
    if not (-90 <= south <= north <= 90 and -180 <= west <= east <= 180):
        raise ValueError(text)
    return south, west, north, east


class CandidateFilterForm(forms.Form):
    """The builder's filters of pending services. With `route` (adding stops to it) the date is
    the route's and cannot change."""

    date = forms.DateField(
        label=_("Route date"),
        required=False,
        widget=DateInput,
        help_text=_(
            "Lists the pending services scheduled for this date, and those without a delivery "
            "date whose deadline is not before it (or that have no deadline)."
        ),
    )
    window = WindowField(label=_("Window"), queryset=None, required=False)
    deadline_by = forms.DateField(
        label=_("Due by"),
        required=False,
        widget=DateInput,
        help_text=_("Only services whose deadline ends that day or earlier."),
    )
    branch = forms.ModelChoiceField(label=_("Branch"), queryset=None, required=False)
    max_kg = forms.DecimalField(
        label=_("Max. weight (kg)"),
        required=False,
        min_value=0,
        max_digits=9,
        decimal_places=3,
        widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}),
    )
    q = forms.CharField(label=_("Search"), required=False, max_length=200)
    area = forms.CharField(required=False, max_length=200, widget=forms.HiddenInput)

    def __init__(self, data=None, *, user, today, route=None):
        data = data.copy() if data is not None else None
        self.route = route
        self.today = today
        if route is not None and data is not None:
            data["date"] = route.date.isoformat()
        super().__init__(data, initial={"date": route.date if route else today})
        self.day = self._day()
        if route is not None:
            self.fields["date"].disabled = True
        windows = selectors.delivery_windows(user, weekday=self.day.weekday())
        self.fields["window"].queryset = windows
        self.fields["window"].empty_label = _("Any window")
        offered = {str(window.pk) for window in windows}
        if data is not None and data.get("window") and data["window"] not in offered:
            # A window of another weekday (the date changed) is dropped, not an error.
            data["window"] = ""
        if user.branch_id:
            del self.fields["branch"]
        else:
            self.fields["branch"].queryset = selectors.branches_in_scope(user)
            self.fields["branch"].empty_label = _("All branches")
        self.fields["q"].widget.attrs.update(
            placeholder=_("Customer, order, invoice, address"), autocomplete="off"
        )
        _style(self, small=True)
        self.is_valid()

    def _day(self):
        if self.route is not None:
            return self.route.date
        try:
            return self.fields["date"].clean(self.data.get("date")) or self.today
        except ValidationError:
            return self.today

    def clean_area(self):
        text = (self.cleaned_data.get("area") or "").strip()
        if not text:
            return None
        try:
            return parse_area(text)
        except ValueError:
            raise ValidationError(
                _("The map area could not be read; choose it again on the map."),
                code="invalid",
            ) from None

    def filters(self):
        data = self.cleaned_data
        return selectors.CandidateFilters(
            day=self.day,
            window=data.get("window"),
            branch=data.get("branch"),
            max_kg=data.get("max_kg"),
            q=(data.get("q") or "").strip(),
            area=data.get("area"),
            deadline_by=data.get("deadline_by"),
        )

    def query(self):
        """The filters as they were given, for links and for the route form to come back to."""
        names = [name for name in self.fields if name != "date" or self.route is None]
        return {name: self.data.get(name) for name in names if self.data.get(name)}


class AddStopsForm(forms.Form):
    """The services to route, in the order they were listed; only services the user may see."""

    services = IdListField(required=True)

    def __init__(self, data=None, *, user, **kwargs):
        super().__init__(data, **kwargs)
        self.user = user
        _style(self)

    def clean_services(self):
        ids = self.cleaned_data["services"]
        services = selectors.services_by_ids(user=self.user, ids=ids)
        if len(services) != len(ids):
            raise ValidationError(
                _("Some of the selected services are no longer available; refresh the list."),
                code="not_found",
            )
        return services


class RouteForm(AddStopsForm):
    """A new route: its date, driver, vehicle, departure and start (branch)."""

    date = forms.DateField(widget=forms.HiddenInput)
    driver = DriverField(label=_("Driver"), queryset=None, widget=DriverSelect)
    vehicle = forms.ModelChoiceField(label=_("Vehicle"), queryset=None, widget=VehicleSelect)
    departure_time = forms.TimeField(
        label=_("Departure"),
        initial=DEFAULT_DEPARTURE,
        widget=TimeInput,
        help_text=_("When the driver leaves the start, local time."),
    )
    end_date = forms.DateField(
        label=_("Itinerant until"),
        required=False,
        widget=DateInput,
        help_text=_("For a route that lasts several days: its last day. Empty: one day."),
    )
    branch = forms.ModelChoiceField(
        label=_("Start (branch)"),
        queryset=None,
        required=False,
        help_text=_("Where the route starts; empty means the driver's branch."),
    )

    field_order = [
        "driver", "vehicle", "departure_time", "branch", "end_date", "date", "services"
    ]  # fmt: skip

    def __init__(self, data=None, *, user, **kwargs):
        super().__init__(data, user=user, **kwargs)
        self.fields["driver"].queryset = selectors.active_drivers(user)
        self.fields["driver"].empty_label = _("Choose a driver")
        self.fields["vehicle"].queryset = selectors.active_vehicles(user)
        self.fields["vehicle"].empty_label = _("Choose a vehicle")
        if user.branch_id:
            del self.fields["branch"]  # routes of a branch user start at their branch
        else:
            self.fields["branch"].queryset = selectors.branches_in_scope(user)
            self.fields["branch"].empty_label = _("The driver's branch")

    def clean_date(self):
        day = self.cleaned_data["date"]
        if day < self.user.account.today():
            raise ValidationError(_("Routes are planned for today or a later date."), code="past")
        return day

    def clean(self):
        cleaned = super().clean()
        day, end = cleaned.get("date"), cleaned.get("end_date")
        if day and end and end < day:
            self.add_error("end_date", _("The last day cannot be before the route's date."))
        if day and end == day:
            cleaned["end_date"] = None  # one day is not itinerant
        return cleaned

    def start_branch(self):
        """The route's branch: the one chosen, else the user's, else the driver's."""
        chosen = self.cleaned_data.get("branch")
        if chosen is not None:
            return chosen
        if self.user.branch_id:
            return self.user.branch
        return self.cleaned_data["driver"].branch


class SplitForm(AddStopsForm):
    """The selected services split among several drivers by the optimizer: the drivers ticked
    (`crew` = driver ids) each with a vehicle (`vehicle_<driver id>`, default their usual one), a
    departure and a start."""

    date = forms.DateField(widget=forms.HiddenInput)
    departure_time = forms.TimeField(initial=DEFAULT_DEPARTURE, widget=TimeInput)
    branch = forms.ModelChoiceField(queryset=None, required=False)

    def __init__(self, data=None, *, user):
        super().__init__(data, user=user)
        self.drivers = list(selectors.active_drivers(user).select_related("vehicle"))
        self.vehicles = {vehicle.pk: vehicle for vehicle in selectors.active_vehicles(user)}
        if user.branch_id:
            del self.fields["branch"]
        else:
            self.fields["branch"].queryset = selectors.branches_in_scope(user)

    def clean_date(self):
        return RouteForm.clean_date(self)

    def clean(self):
        cleaned = super().clean()
        if self.data is None:
            return cleaned
        by_id = {driver.pk: driver for driver in self.drivers}
        crews, used = [], set()
        for value in self.data.getlist("crew"):
            driver = by_id.get(int(value)) if str(value).isdigit() else None
            if driver is None:
                raise ValidationError(_("A chosen driver is no longer available."), code="driver")
            chosen = self.data.get(f"vehicle_{driver.pk}") or driver.vehicle_id
            vehicle = self.vehicles.get(int(chosen)) if str(chosen).isdigit() else None
            if vehicle is None:
                raise ValidationError(
                    _("Choose a vehicle for %(driver)s.") % {"driver": driver}, code="vehicle"
                )
            if vehicle.pk in used:
                raise ValidationError(
                    _("Vehicle %(plate)s is chosen twice.") % {"plate": vehicle}, code="twice"
                )
            used.add(vehicle.pk)
            crews.append((driver, vehicle))
        if not crews:
            raise ValidationError(_("Tick the drivers to split the services among."), code="none")
        cleaned["crews"] = crews
        return cleaned

    def start_branch(self):
        """Where every route starts: the branch chosen, else the user's (None: each driver's)."""
        chosen = self.cleaned_data.get("branch")
        return chosen if chosen is not None else (self.user.branch if self.user.branch_id else None)

    def job_request(self):
        data = self.cleaned_data
        branch = self.start_branch()
        return {
            "services": [service.pk for service in data["services"]],
            "crews": [[driver.pk, vehicle.pk] for driver, vehicle in data["crews"]],
            "branch": branch.pk if branch else None,
            "departure_time": data["departure_time"].strftime("%H:%M"),
        }


class DepartureForm(forms.Form):
    departure_time = forms.TimeField(label=_("Departure"), widget=TimeInput)

    def __init__(self, data=None, **kwargs):
        super().__init__(data, **kwargs)
        _style(self, small=True)


class StopStatusForm(StatusChangeForm):
    """A stop's outcome recorded by hand: done, or failed with its failure reason (and what
    happened); always with a reason for status change. When the stop cannot change by hand (its
    route is not in progress, it is over) there is nothing to choose and `unavailable` says why."""

    failure_description = forms.CharField(
        label=_("What happened"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("When the new status is failed."),
    )

    def __init__(self, data=None, *, user, stop, route, prefix="stop-status"):
        targets = actions.stop_manual_targets(stop, route)
        super().__init__(data, user=user, targets=targets, prefix=prefix)
        self.fields["to_status"].choices = [
            ("", "---------"),
            *((status, StopStatus(status).label) for status in targets),
        ]
        if "failure_reason" not in self.fields:
            del self.fields["failure_description"]
        else:
            self.order_fields(["to_status", "failure_reason", "failure_description"])
        self.fields["note"].help_text = _("Kept with the stop and in its history.")
        self.unavailable = "" if targets else _unavailable_message(stop, route)

    def clean(self):
        data = super().clean()
        if self.unavailable:
            raise ValidationError(self.unavailable)
        if data.get("to_status") == StopStatus.FAILED:
            failure_reason = data.get("failure_reason")
            if failure_reason is None:
                self.add_error("failure_reason", _("Choose why the delivery failed."))
            elif failure_reason.requires_description and not data.get("failure_description"):
                self.add_error("failure_description", _("Describe what happened."))
        return data


def _unavailable_message(stop, route):
    if route.status != RouteStatus.IN_PROGRESS:
        return _(
            "This route is %(status)s: only stops of a route in progress change by hand; the "
            "service's status can still be changed on its page."
        ) % {"status": route.get_status_display().lower()}
    return _("This stop is %(status)s: it cannot be changed by hand.") % {
        "status": stop.get_status_display().lower()
    }
