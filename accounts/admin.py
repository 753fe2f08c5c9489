"""The web admin's pages for the account and its settings, each scoped by accounts.access."""

from django import forms
from django.contrib import admin, messages
from django.http import Http404
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from tracking.lib import br

from . import access
from .actions import (
    driver_reset_password,
    driver_revoke_devices,
    driver_set_active,
    user_send_password_reset,
)
from .defaults import account_load_defaults
from .models import (
    ONLINE_WINDOW,
    Account,
    Branch,
    Carrier,
    ChatTicketType,
    Customer,
    Driver,
    DriverDevice,
    FailureReason,
    Holiday,
    Partner,
    StatusChangeReason,
    User,
    Vehicle,
)
from .settings_forms import (
    BranchForm,
    CarrierForm,
    CustomerForm,
    DriverForm,
    PartnerForm,
    TenantModelForm,
    UserForm,
    VehicleForm,
)
from .trackers import tracker_key_current, tracker_key_generate, tracker_key_revoke


class TenantAdmin(admin.ModelAdmin):
    """A ModelAdmin that shows each user only their account's rows and what their role allows."""

    access_area = "settings"
    form = TenantModelForm

    def get_queryset(self, request):
        return access.scope(request.user, super().get_queryset(request))

    def _can(self, request, action):
        return access.admin_can(request.user, self.access_area, action)

    def has_module_permission(self, request):
        return self._can(request, access.VIEW)

    def has_view_permission(self, request, obj=None):
        return self._can(request, access.VIEW) or self._can(request, access.CHANGE)

    def has_add_permission(self, request):
        return self._can(request, access.ADD)

    def has_change_permission(self, request, obj=None):
        return self._can(request, access.CHANGE)

    def has_delete_permission(self, request, obj=None):
        return self._can(request, access.DELETE)

    def get_exclude(self, request, obj=None):
        exclude = list(super().get_exclude(request, obj) or [])
        if not request.user.is_superuser and _has_account_field(self.model):
            exclude.append("account")
        return exclude

    def get_list_display(self, request):
        display = list(super().get_list_display(request))
        if request.user.is_superuser and _has_account_field(self.model):
            display.append("account")
        return display

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if issubclass(form, TenantModelForm) and not request.user.is_superuser:
            # The form checks uniqueness and references against the user's account.
            form = type(form.__name__, (form,), {"bound_account": request.user.account})
        return form

    def save_model(self, request, obj, form, change):
        if not change and not request.user.is_superuser and _has_account_field(obj):
            obj.account = request.user.account
        super().save_model(request, obj, form, change)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        self._scope_choices(db_field, request, kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        self._scope_choices(db_field, request, kwargs)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def _scope_choices(self, db_field, request, kwargs):
        related = db_field.related_model
        if related is Account or _has_account_field(related):
            kwargs["queryset"] = access.scope(request.user, related._default_manager.all())

    def _get_obj_does_not_exist_redirect(self, request, opts, object_id):
        # Another account's object (or none at all): a plain 404 that confirms nothing.
        raise Http404


def _has_account_field(model):
    return any(field.name == "account" for field in model._meta.get_fields())


def related_only(field):
    """A list filter offering only values present in the (already scoped) rows."""
    return (field, admin.RelatedOnlyFieldListFilter)


class DigitsSearchMixin:
    """Finds documents and phones however they are typed (with dots, dashes or spaces)."""

    digit_search_fields = ()

    def get_search_results(self, request, queryset, search_term):
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        number = br.digits(search_term)
        if number and number != search_term.strip():
            for field in self.digit_search_fields:
                results |= queryset.filter(**{f"{field}__contains": number})
        return results, may_have_duplicates


@admin.register(Account)
class AccountAdmin(TenantAdmin):
    access_area = "account"
    form = forms.ModelForm
    list_display = ["name", "slug", "time_zone", "language", "country", "is_active"]
    search_fields = ["name", "slug"]

    def get_readonly_fields(self, request, obj=None):
        if request.user.is_superuser:
            return ["created_at"]
        return ["slug", "is_active", "created_at"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change:
            # A new account starts with its country's holidays and the usual reason lists.
            account_load_defaults(account=obj)


class OnlineFilter(admin.SimpleListFilter):
    title = _("availability")
    parameter_name = "online"

    def lookups(self, request, model_admin):
        return [("1", _("Online now")), ("0", _("Offline"))]

    def queryset(self, request, queryset):
        since = timezone.now() - ONLINE_WINDOW
        if self.value() == "1":
            return queryset.filter(last_seen_at__gte=since)
        if self.value() == "0":
            return queryset.exclude(last_seen_at__gte=since)
        return queryset


@admin.register(User)
class UserAdmin(TenantAdmin):
    """Managers invite users (who choose a password from an e-mailed link) and deactivate them.
    The list doubles as the availability list: who was seen when, and who is online now."""

    access_area = "users"
    form = UserForm
    list_display = [
        "email",
        "get_full_name",
        "role",
        "scope",
        "is_active",
        "online",
        "last_seen_at",
    ]
    list_filter = ["role", "is_active", OnlineFilter, related_only("branch")]
    search_fields = ["email", "first_name", "last_name"]
    list_select_related = ["branch", "partner", "carrier"]
    ordering = ["-last_seen_at", "email"]
    actions = ["send_password_reset"]
    filter_horizontal = ["chat_carriers"]

    def get_fields(self, request, obj=None):
        fields = ["email", "first_name", "last_name", "role", "is_active"]
        fields += ["branch", "partner", "carrier", "chat_carriers", "chat_states"]
        if request.user.is_superuser:
            fields += ["account", "is_superuser"]
        if obj is not None:
            fields += ["last_login", "last_seen_at", "date_joined"]
        return fields

    def get_form(self, request, obj=None, change=False, **kwargs):
        readonly = self.get_readonly_fields(request, obj)
        kwargs["fields"] = [f for f in self.get_fields(request, obj) if f not in readonly]
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        readonly = ["last_login", "last_seen_at", "date_joined"]
        if obj is not None and obj.pk == request.user.pk:
            # Nobody demotes, narrows or deactivates themselves out of the admin by accident.
            readonly += ["role", "is_active", "branch", "partner", "carrier"]
        return readonly

    @admin.display(description=_("scope"))
    def scope(self, user):
        return user.branch or user.partner or user.carrier or "—"

    @admin.display(description=_("online"), boolean=True)
    def online(self, user):
        return user.is_online

    def save_model(self, request, obj, form, change):
        invite = not change
        if invite:
            obj.set_unusable_password()
        super().save_model(request, obj, form, change)
        if invite:
            user_send_password_reset(
                user=obj, domain=request.get_host(), use_https=request.is_secure()
            )
            messages.info(
                request, _("An e-mail with a link to set a password was sent to %s.") % obj.email
            )

    @admin.action(description=_("Send a password reset link"), permissions=["change"])
    def send_password_reset(self, request, queryset):
        users = list(queryset.select_related("account"))
        for user in users:
            user_send_password_reset(
                user=user, domain=request.get_host(), use_https=request.is_secure()
            )
        count = len(users)
        self.message_user(
            request,
            ngettext(
                "A password reset link was sent to %d user.",
                "A password reset link was sent to %d users.",
                count,
            )
            % count,
        )


@admin.register(Branch)
class BranchAdmin(DigitsSearchMixin, TenantAdmin):
    form = BranchForm
    list_display = ["name", "prefix", "document_display", "city", "state", "phone", "is_active"]
    list_filter = ["is_active", "state"]
    search_fields = ["name", "trade_name", "prefix", "document", "city"]
    digit_search_fields = ["document"]


@admin.register(Partner)
class PartnerAdmin(DigitsSearchMixin, TenantAdmin):
    form = PartnerForm
    list_display = ["name", "document", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["name", "document"]
    digit_search_fields = ["document"]


@admin.register(Carrier)
class CarrierAdmin(DigitsSearchMixin, TenantAdmin):
    form = CarrierForm
    list_display = ["__str__", "document_display", "city", "state", "phone", "is_active"]
    list_filter = ["is_active", "state"]
    search_fields = ["name", "trade_name", "document", "email"]
    digit_search_fields = ["document", "phone"]


@admin.register(Vehicle)
class VehicleAdmin(TenantAdmin):
    form = VehicleForm
    list_display = ["plate", "type", "capacity_kg", "capacity_m3", "default_driver", "is_active"]
    list_filter = ["type", "is_active"]
    search_fields = ["plate", "default_driver__first_name", "default_driver__username"]
    list_select_related = ["default_driver"]

    def get_search_results(self, request, queryset, search_term):
        # Plates are stored without the hyphen; "ABC-1234" finds ABC1234.
        term = search_term.replace("-", "").replace(" ", "").upper() or search_term
        return super().get_search_results(request, queryset, term)


class DriverDeviceInline(admin.TabularInline):
    model = DriverDevice
    extra = 0
    fields = ["kind", "name", "device_id", "created_at", "last_seen_at", "revoked_at"]
    readonly_fields = fields
    can_delete = False
    verbose_name_plural = _("devices the driver logged in with")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return access.admin_can(request.user, "drivers", access.VIEW)


@admin.register(Driver)
class DriverAdmin(DigitsSearchMixin, TenantAdmin):
    access_area = "drivers"
    form = DriverForm
    list_display = [
        "__str__", "login", "phone", "vehicle", "branch", "carrier", "is_active", "last_seen_at",
    ]  # fmt: skip
    list_filter = ["is_active", related_only("branch"), related_only("carrier")]
    search_fields = [
        "first_name", "last_name", "username", "email", "phone", "cpf", "external_code",
        "employee_number", "vehicle__plate",
    ]  # fmt: skip
    digit_search_fields = ["cpf", "phone"]
    list_select_related = ["account", "vehicle", "branch", "carrier"]
    readonly_fields = ["last_seen_at", "created_at"]
    actions = [
        "reset_password", "revoke_devices", "deactivate", "generate_tracker_key",
        "revoke_tracker_key",
    ]  # fmt: skip

    def get_inlines(self, request, obj):
        # A new driver has logged in nowhere yet.
        return [DriverDeviceInline] if obj is not None else []

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        return [*readonly, "tracker_key"] if obj is not None else readonly

    @admin.display(description=_("tracker key"))
    def tracker_key(self, driver):
        # Only the beginning of the key: the whole key was shown once, when generated.
        device = tracker_key_current(driver)
        if device is None:
            return _("None (generate one with the action of the drivers' list)")
        if device.last_seen_at is None:
            return _("%(prefix)s… (never used)") % {"prefix": device.device_id}
        return _("%(prefix)s… (last used %(when)s)") % {
            "prefix": device.device_id,
            "when": formats.localize(timezone.localtime(device.last_seen_at)),
        }

    @admin.display(description=_("app login"), ordering="username")
    def login(self, driver):
        return driver.login

    def save_model(self, request, obj, form, change):
        deactivated = change and "is_active" in form.changed_data and not obj.is_active
        super().save_model(request, obj, form, change)
        if deactivated:
            driver_set_active(driver=obj, active=False)
        elif change and form.cleaned_data.get("new_password"):
            driver_revoke_devices(driver=obj)

    @admin.action(description=_("Reset the app password"), permissions=["change"])
    def reset_password(self, request, queryset):
        for driver in queryset.select_related("account"):
            password = driver_reset_password(driver=driver)
            self.message_user(
                request,
                _("New app password for %(login)s: %(password)s (shown once).")
                % {"login": driver.login, "password": password},
                messages.WARNING,
            )

    @admin.action(description=_("Log out of every device"), permissions=["change"])
    def revoke_devices(self, request, queryset):
        count = sum(driver_revoke_devices(driver=driver) for driver in queryset)
        self.message_user(
            request,
            ngettext("%d device was logged out.", "%d devices were logged out.", count) % count,
        )

    @admin.action(description=_("Deactivate (and log out of every device)"), permissions=["change"])
    def deactivate(self, request, queryset):
        drivers = list(queryset.filter(is_active=True))
        for driver in drivers:
            driver_set_active(driver=driver, active=False)
        count = len(drivers)
        self.message_user(
            request,
            ngettext("%d driver was deactivated.", "%d drivers were deactivated.", count) % count,
        )

    @admin.action(
        description=_("Generate a tracker key (replaces the earlier one)"), permissions=["change"]
    )
    def generate_tracker_key(self, request, queryset):
        server_url = request.build_absolute_uri(reverse("trackers:osmand"))
        for driver in queryset.select_related("account"):
            if not driver.is_active:
                self.message_user(
                    request,
                    _("%(login)s is inactive: no tracker key was generated.")
                    % {"login": driver.login},
                    messages.ERROR,
                )
                continue
            _device, key = tracker_key_generate(driver=driver)
            self.message_user(
                request,
                _(
                    "Tracker key for %(login)s: %(key)s (shown once). In the tracker app (e.g. "
                    "Traccar Client) enter it as the device identifier, with the server URL "
                    "%(url)s."
                )
                % {"login": driver.login, "key": key, "url": server_url},
                messages.WARNING,
            )

    @admin.action(description=_("Revoke the tracker key"), permissions=["change"])
    def revoke_tracker_key(self, request, queryset):
        count = sum(tracker_key_revoke(driver=driver) for driver in queryset)
        self.message_user(
            request,
            ngettext("%d tracker key was revoked.", "%d tracker keys were revoked.", count) % count,
        )


@admin.register(Customer)
class CustomerAdmin(DigitsSearchMixin, TenantAdmin):
    access_area = "operations"
    form = CustomerForm
    list_display = ["name", "kind", "document", "phone", "email", "external_code", "city", "state"]
    list_filter = ["kind", "state"]
    search_fields = ["name", "trade_name", "document", "email", "phone", "external_code"]
    digit_search_fields = ["document", "phone"]


class YearFilter(admin.SimpleListFilter):
    title = _("year")
    parameter_name = "year"

    def lookups(self, request, model_admin):
        this_year = timezone.localdate().year
        return [(str(year), str(year)) for year in range(this_year - 1, this_year + 3)]

    def queryset(self, request, queryset):
        return queryset.filter(date__year=int(self.value())) if self.value() else queryset


@admin.register(Holiday)
class HolidayAdmin(TenantAdmin):
    list_display = ["date", "name"]
    list_filter = [YearFilter]
    search_fields = ["name"]
    date_hierarchy = "date"
    ordering = ["date"]


@admin.register(StatusChangeReason)
class StatusChangeReasonAdmin(TenantAdmin):
    list_display = ["description", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["description"]


@admin.register(FailureReason)
class FailureReasonAdmin(TenantAdmin):
    list_display = [
        "description",
        "opens_chat",
        "requires_description",
        "customer_fault",
        "is_active",
    ]
    list_filter = ["is_active", "opens_chat", "requires_description", "customer_fault"]
    search_fields = ["description"]


@admin.register(ChatTicketType)
class ChatTicketTypeAdmin(TenantAdmin):
    list_display = ["description", "reversible", "is_active"]
    list_filter = ["is_active", "reversible"]
    search_fields = ["description"]


# Agency pages and the spreadsheet imports build on TenantAdmin above.
from . import admin_agency, admin_apikeys, admin_imports  # noqa: E402, F401
