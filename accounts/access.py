"""The one place that says what a user may see and do.

Every list, detail, export, admin page and API call asks here. An object outside the user's scope
is reported as not found (404), never as forbidden, so its existence is not confirmed.
"""

from django.http import Http404

from .models import Account, Branch, Carrier, Partner, Role

SCOPES = [("branch", Branch), ("partner", Partner), ("carrier", Carrier)]

# Dashboard sections (the navigation) and which roles use each.
SERVICES = "services"
ROUTES = "routes"
TRACKING = "tracking"
SCHEDULE = "schedule"
REPORTS = "reports"
CHAT = "chat"
SETTINGS = "settings"

SECTION_ROLES = {
    SERVICES: {Role.MANAGER, Role.OPERATOR, Role.CARRIER},
    ROUTES: {Role.MANAGER, Role.OPERATOR},
    # Carrier users follow their own carrier's drivers (access.scope narrows routes by carrier).
    TRACKING: {Role.MANAGER, Role.OPERATOR, Role.CARRIER},
    SCHEDULE: {Role.MANAGER, Role.OPERATOR},
    # Partner and carrier users read their own services' and drivers' numbers (access.scope).
    REPORTS: {Role.MANAGER, Role.PARTNER, Role.CARRIER},
    CHAT: {Role.MANAGER, Role.OPERATOR, Role.CALL_CENTRE},
    # Carrier users see their own drivers there, nothing else.
    SETTINGS: {Role.MANAGER, Role.OPERATOR, Role.CARRIER},
}

# What each role may do in the web admin, per area. Each ModelAdmin names its area.
VIEW, ADD, CHANGE, DELETE = "view", "add", "change", "delete"
ALL = frozenset({VIEW, ADD, CHANGE, DELETE})
ADMIN_AREAS = {
    # The account's own record: managers edit its name, language and time zone.
    "account": {Role.MANAGER: {VIEW, CHANGE}},
    # Users and drivers are deactivated, never deleted, so their history keeps its author.
    "users": {Role.MANAGER: {VIEW, ADD, CHANGE}},
    "drivers": {Role.MANAGER: {VIEW, ADD, CHANGE}, Role.OPERATOR: {VIEW}, Role.CARRIER: {VIEW}},
    # Configuration entities (branches, vehicles, drivers, ...).
    "settings": {Role.MANAGER: ALL, Role.OPERATOR: {VIEW}},
    # Operational records operators keep day to day (customers).
    "operations": {Role.MANAGER: ALL, Role.OPERATOR: {VIEW, ADD, CHANGE}},
    # Records written only by the system's actions (services, events): read them here.
    "records": {Role.MANAGER: {VIEW}, Role.OPERATOR: {VIEW}},
}


def is_platform_admin(user):
    return bool(user.is_authenticated and user.is_active and user.is_superuser)


def can_log_in(user):
    """Whether the web platform accepts this user's login (integration users use the API only)."""
    if not user.is_active:
        return False
    if user.is_superuser:
        return True
    return user.account is not None and user.account.is_active and user.role != Role.INTEGRATION


def can_see_section(user, section):
    if not (user.is_authenticated and can_log_in(user)):
        return False
    return user.is_superuser or user.role in SECTION_ROLES[section]


def sections_for(user):
    return [section for section in SECTION_ROLES if can_see_section(user, section)]


def can_use_admin(user):
    return can_see_section(user, SETTINGS)


def admin_can(user, area, action):
    """Whether the user may do action (view/add/change/delete) on the admin area."""
    if not can_use_admin(user):
        return False
    if user.is_superuser:
        return True
    return action in ADMIN_AREAS[area].get(user.role, ())


def scope(user, queryset):
    """The rows of queryset this user may see: their account's, narrowed by their role's scope."""
    if not user.is_authenticated or not can_log_in(user):
        return queryset.none()
    if user.is_superuser:
        return queryset
    model = queryset.model
    if model is Account:
        return queryset.filter(pk=user.account_id)
    if not _has_field(model, "account"):
        raise TypeError(f"{model.__name__} has no account: access.scope cannot decide who sees it")
    queryset = queryset.filter(account_id=user.account_id)
    # A user limited to one branch, partner or carrier sees that one and the rows that point to it.
    for scope_field, scope_model in SCOPES:
        scope_id = getattr(user, f"{scope_field}_id")
        if scope_id is None:
            continue
        if model is scope_model:
            queryset = queryset.filter(pk=scope_id)
        elif _has_field(model, scope_field):
            queryset = queryset.filter(**{f"{scope_field}_id": scope_id})
    return queryset


def get_object_or_404(user, queryset, **lookup):
    """One object the user may see, or Http404 (also for objects of other accounts)."""
    try:
        return scope(user, queryset).get(**lookup)
    except queryset.model.DoesNotExist as exc:
        raise Http404 from exc


def _has_field(model, name):
    return any(field.name == name for field in model._meta.get_fields())
