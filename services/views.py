"""The operators' pages for services: the list (filters, exports, bulk actions), the detail with
its event log, creating and editing, and status changes by hand.

Who may do what (seeing the section at all is accounts.access's SERVICES; what each user sees
inside it is access.scope's, so an object outside it is a 404):
- managers and operators: everything below;
- carrier users: see their carrier's services and create new ones, always for their carrier;
  editing, status changes and deletions are the shipper's back office, not theirs (403);
- platform administrators (no account): see everything, write nothing.
A user limited to a branch creates services of that branch only.
"""

import copy
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST
from django_htmx.http import push_url

from accounts import access
from accounts.models import Role
from tracking.lib import br
from tracking.lib.errors import Conflict, DomainError

from . import actions, exports, panels, selectors
from .actions import Actor
from .forms import (
    BulkActionForm,
    RescheduleForm,
    ServiceFilterForm,
    ServiceForm,
    StatusChangeForm,
    customer_label,
    manual_targets,
)
from .models import Service, ServiceStatus

CREATE_ROLES = {Role.MANAGER, Role.OPERATOR, Role.CARRIER}
CHANGE_ROLES = {Role.MANAGER, Role.OPERATOR}
# The list's columns that sort: (sort key, header).
SORTABLE_COLUMNS = [
    ("order", gettext_lazy("Order")),
    ("status", gettext_lazy("Status")),
    ("customer", gettext_lazy("Customer")),
    ("deadline", gettext_lazy("Deadline")),
    ("city", gettext_lazy("Address")),
    ("type", gettext_lazy("Type")),
    ("created", gettext_lazy("Created at")),
]
BULK_REPORT_LIMIT = 10


def can_create_services(user):
    """Managers, operators and carrier users (for their own carrier) of an account."""
    if user.account_id is None or user.role not in CREATE_ROLES:
        return False
    return user.role != Role.CARRIER or user.carrier_id is not None


def can_change_services(user):
    """Editing, status changes by hand, cancelling and deleting: managers and operators."""
    return user.account_id is not None and user.role in CHANGE_ROLES


def services_section(view):
    """Logged in and allowed in the services section; anyone else gets a 404."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not access.can_see_section(request.user, access.SERVICES):
            raise Http404
        return view(request, *args, **kwargs)

    return wrapper


def _tzinfo(user):
    return user.account.tzinfo if user.account_id else timezone.get_current_timezone()


def _wants_partial(request):
    return bool(request.htmx) and not request.htmx.history_restore_request


@services_section
def index(request):
    user = request.user
    form = ServiceFilterForm(request.GET, user=user)
    filters, tzinfo = form.filters(), _tzinfo(user)
    services = selectors.service_list(user=user, filters=filters, sort=form.sort_key, tzinfo=tzinfo)
    page = Paginator(services, form.page_size).get_page(request.GET.get("page"))
    _format_documents(page)
    counts = selectors.service_status_counts(user=user, filters=filters, tzinfo=tzinfo)
    context = {
        "form": form,
        "page": page,
        "status_counts": [
            (value, label, counts[value], value == filters.status)
            for value, label in ServiceStatus.choices
        ],
        "total_count": sum(counts.values()),
        "columns": _sort_columns(form.sort_key),
        "can_create": can_create_services(user),
        "can_change": can_change_services(user),
        "bulk_form": BulkActionForm(user=user) if can_change_services(user) else None,
    }
    partial = _wants_partial(request)
    query = _non_empty(request.GET)
    url = f"{request.path}?{query.urlencode()}" if query else request.path
    context.update(partial=partial, query=query, list_url=url)
    template = "services/_partials/results.html" if partial else "services/index.html"
    response = render(request, template, context)
    if partial:
        # The form sends every field; the address bar keeps only those that filter.
        push_url(response, url)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _non_empty(params):
    """The query without empty fields and without the default sort."""
    query = QueryDict(mutable=True)
    for key, values in params.lists():
        kept = [value for value in values if value.strip()]
        if key == "sort" and kept == [selectors.DEFAULT_SORT]:
            continue
        if kept:
            query.setlist(key, kept)
    return query


def _format_documents(services):
    """The customer's CPF / CNPJ with its punctuation, for the template (Customer, unlike the
    account's other parties, has no document_display)."""
    for service in services:
        service.customer_document = br.format_document(service.customer.document)


def _sort_columns(sort):
    """Each sortable column's header, whether the list is sorted by it, and the sort a click on
    it asks for (ascending first; the other way when it is already ascending)."""
    columns = []
    for key, label in SORTABLE_COLUMNS:
        direction = {key: "ascending", f"-{key}": "descending"}.get(sort)
        columns.append(
            {
                "key": key,
                "label": label,
                "direction": direction,
                "next": f"-{key}" if direction == "ascending" else key,
            }
        )
    return columns


@services_section
def export(request):
    """The filtered list (every page) as CSV (`format=csv`, `delimiter=semicolon` optional) or
    XLSX (`format=xlsx`)."""
    user = request.user
    form = ServiceFilterForm(request.GET, user=user)
    tzinfo = _tzinfo(user)
    services = selectors.service_list(
        user=user, filters=form.filters(), sort=form.sort_key, tzinfo=tzinfo
    )
    today = timezone.localdate(timezone=tzinfo)
    kind = request.GET.get("format", "csv")
    if kind == "xlsx":
        return exports.xlsx_response(services, tzinfo=tzinfo, name=exports.filename(today, "xlsx"))
    if kind == "csv":
        delimiter = ";" if request.GET.get("delimiter") == "semicolon" else ","
        return exports.csv_response(
            services, tzinfo=tzinfo, name=exports.filename(today, "csv"), delimiter=delimiter
        )
    raise Http404


@services_section
def detail(request, pk):
    service = selectors.service_detail(user=request.user, pk=pk)
    return _render_detail(request, service)


def _render_detail(request, service, *, status_form=None, reschedule_form=None):
    user = request.user
    can_change = can_change_services(user)
    targets = manual_targets(service.status)
    if can_change and targets and status_form is None:
        status_form = StatusChangeForm(user=user, targets=targets)
    if can_change and service.status == ServiceStatus.FAILED and reschedule_form is None:
        reschedule_form = RescheduleForm(user=user)
    events = [(event, selectors.service_event_changes(event)) for event in service.events.all()]
    _format_documents([service])
    return render(
        request,
        "services/detail.html",
        {
            "service": service,
            "events": events,
            "packages": service.packages.all(),
            "can_edit": can_change and service.is_editable,
            "status_form": status_form if can_change else None,
            "reschedule_form": reschedule_form if can_change else None,
            "attempts_left": max(service.account.max_attempts - service.attempt_count, 0),
            "panels": panels.render_panels(request, service),
        },
    )


def _require_change(user):
    if not can_change_services(user):
        raise PermissionDenied


@services_section
@require_POST
def change_status(request, pk):
    service = selectors.service_detail(user=request.user, pk=pk)
    _require_change(request.user)
    form = StatusChangeForm(request.POST, user=request.user, targets=manual_targets(service.status))
    if form.is_valid():
        data = form.cleaned_data
        try:
            actions.service_change_status(
                service=service,
                to_status=data["to_status"],
                actor=Actor.for_user(request.user),
                reason=data["reason"],
                failure_reason=data.get("failure_reason"),
                note=data["note"],
            )
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            messages.success(
                request,
                _("The service is now %(status)s.")
                % {"status": ServiceStatus(data["to_status"]).label.lower()},
            )
            return redirect("services:detail", pk=service.pk)
    return _render_detail(request, service, status_form=form)


@services_section
@require_POST
def reschedule(request, pk):
    service = selectors.service_detail(user=request.user, pk=pk)
    _require_change(request.user)
    form = RescheduleForm(request.POST, user=request.user)
    if form.is_valid():
        try:
            service = actions.service_reschedule(
                service=service,
                actor=Actor.for_user(request.user),
                reason=form.cleaned_data["reason"],
                note=form.cleaned_data["note"],
            )
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            if service.status == ServiceStatus.RETURNED:
                messages.warning(
                    request,
                    _("That was the last attempt allowed: the service is returned to the sender."),
                )
            else:
                messages.success(
                    request, _("Rescheduled: the service is pending again, ready for a route.")
                )
            return redirect("services:detail", pk=service.pk)
    return _render_detail(request, service, reschedule_form=form)


@services_section
def create(request):
    if not can_create_services(request.user):
        raise PermissionDenied
    form = ServiceForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            service = _save(form, request.user)
        except DomainError as error:
            form.add_domain_error(error)
        else:
            messages.success(request, _("Service %(service)s created.") % {"service": service})
            return redirect("services:detail", pk=service.pk)
    return render(request, "services/form.html", {"form": form, "service": None})


@services_section
def edit(request, pk):
    service = access.get_object_or_404(
        request.user, Service.objects.select_related("account", "customer"), pk=pk
    )
    _require_change(request.user)
    if not service.is_editable:
        messages.warning(request, _not_editable_message(service))
        return redirect("services:detail", pk=service.pk)
    # The form changes its instance while validating: keep the page's title on the original.
    form = ServiceForm(request.POST or None, instance=copy.copy(service), user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            _save(form, request.user, service=service)
        except DomainError as error:
            if error.code != "not_editable":
                form.add_domain_error(error)
            else:  # it left pending since the page was opened
                messages.warning(request, error.message)
                return redirect("services:detail", pk=service.pk)
        else:
            messages.success(request, _("Service %(service)s saved.") % {"service": service})
            return redirect("services:detail", pk=service.pk)
    return render(request, "services/form.html", {"form": form, "service": service})


def _not_editable_message(service):
    return _("Only pending services can be edited; this one is %(status)s.") % {
        "status": service.get_status_display().lower()
    }


def _save(form, user, service=None):
    """Finds or creates the typed customer and creates or updates the service: all or nothing."""
    actor = Actor.for_user(user)
    packages = form.cleaned_data["packages"]
    with transaction.atomic():
        values = form.service_values()
        typed = form.new_customer_data()
        values["customer"] = (
            form.cleaned_data["customer"]
            if typed is None
            else actions.customer_find_or_create(account=user.account, data=typed)
        )
        if service is None:
            return actions.service_create(
                account=user.account, actor=actor, values=values, packages=packages
            )
        return actions.service_update(
            service=service, actor=actor, values=values, packages=packages
        )


@services_section
def customer_options(request):
    """The customer select's options for what was typed in its search box (htmx)."""
    if not can_create_services(request.user):
        raise PermissionDenied
    customers = selectors.customer_search(user=request.user, text=request.GET.get("customer_q", ""))
    options = [(customer.pk, customer_label(customer)) for customer in customers]
    return render(request, "services/_partials/customer_options.html", {"options": options})


@services_section
@require_POST
def bulk(request):
    """One action on the selected services, each through its own action; the ones it does not
    apply to are skipped and reported, the rest done. Ids the user cannot see are not found."""
    _require_change(request.user)
    back = _list_url(request.POST.get("next"), request)
    form = BulkActionForm(request.POST, user=request.user)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect(back)
    done, skipped, missing = _run_bulk(form, request.user)
    level = messages.SUCCESS if done and not skipped and not missing else messages.WARNING
    messages.add_message(request, level, _bulk_summary(form, done, skipped, missing))
    return redirect(back)


def _run_bulk(form, user):
    ids = form.cleaned_data["service"]
    services = list(access.scope(user, Service.objects.filter(pk__in=ids)).order_by("pk"))
    action = form.cleaned_data["action"]
    target = form.target_status
    actor = Actor.for_user(user)
    done, skipped = [], []
    for service in services:
        try:
            if action == BulkActionForm.DELETE:
                actions.service_delete(service=service)
            elif service.status == target:
                raise Conflict(
                    _("already %(status)s") % {"status": service.get_status_display().lower()}
                )
            elif target not in manual_targets(service.status):
                raise Conflict(
                    _("cannot go from %(from)s to %(to)s by hand")
                    % {
                        "from": service.get_status_display().lower(),
                        "to": ServiceStatus(target).label.lower(),
                    }
                )
            else:
                actions.service_change_status(
                    service=service,
                    to_status=target,
                    actor=actor,
                    reason=form.cleaned_data["reason"],
                    note=form.cleaned_data["note"],
                )
        except DomainError as error:
            skipped.append((service, error.message))
        else:
            done.append(service)
    return done, skipped, len(ids) - len(services)


def _bulk_summary(form, done, skipped, missing):
    if form.cleaned_data["action"] == BulkActionForm.DELETE:
        parts = [ngettext("%(n)s deleted", "%(n)s deleted", len(done)) % {"n": len(done)}]
    else:
        parts = [ngettext("%(n)s changed", "%(n)s changed", len(done)) % {"n": len(done)}]
    if skipped:
        listed = "; ".join(
            f"{service} ({reason.rstrip('.')})" for service, reason in skipped[:BULK_REPORT_LIMIT]
        )
        if len(skipped) > BULK_REPORT_LIMIT:
            listed += "; …"
        parts.append(
            ngettext("%(n)s skipped: %(list)s", "%(n)s skipped: %(list)s", len(skipped))
            % {"n": len(skipped), "list": listed}
        )
    if missing:
        parts.append(ngettext("%(n)s not found", "%(n)s not found", missing) % {"n": missing})
    return ", ".join(parts) + "."


def _list_url(candidate, request):
    """Where to go back to after a bulk action: the list (with its filters) the form came from."""
    index = reverse("services:index")
    if (
        candidate
        and candidate.startswith(index)
        and url_has_allowed_host_and_scheme(candidate, allowed_hosts={request.get_host()})
    ):
        return candidate
    return index
