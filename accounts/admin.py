"""The web admin's pages for the account and its settings, each scoped by accounts.access."""

from django import forms
from django.contrib import admin, messages
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import access
from .actions import user_send_password_reset
from .models import Account, Branch, Customer, Driver, Role, User, Vehicle


class TenantAdmin(admin.ModelAdmin):
    """A ModelAdmin that shows each user only their account's rows and what their role allows."""

    access_area = "settings"

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

    def save_model(self, request, obj, form, change):
        if not change and not request.user.is_superuser and _has_account_field(obj):
            obj.account = request.user.account
        super().save_model(request, obj, form, change)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        related = db_field.related_model
        if related is Account or _has_account_field(related):
            kwargs["queryset"] = access.scope(request.user, related._default_manager.all())
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def _get_obj_does_not_exist_redirect(self, request, opts, object_id):
        # Another account's object (or none at all): a plain 404 that confirms nothing.
        raise Http404


def _has_account_field(model):
    return any(field.name == "account" for field in model._meta.get_fields())


def related_only(field):
    """A list filter offering only values present in the (already scoped) rows."""
    return (field, admin.RelatedOnlyFieldListFilter)


@admin.register(Account)
class AccountAdmin(TenantAdmin):
    access_area = "account"
    list_display = ["name", "slug", "time_zone", "language", "is_active"]
    search_fields = ["name", "slug"]

    def get_readonly_fields(self, request, obj=None):
        if request.user.is_superuser:
            return ["created_at"]
        return ["slug", "is_active", "created_at"]


class UserAdminForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ["email", "first_name", "last_name", "role", "is_active"]

    def clean_email(self):
        email = User.objects.normalize_email(self.cleaned_data["email"]).lower()
        clash = User.objects.filter(email__iexact=email).exclude(pk=self.instance.pk)
        if clash.exists():
            raise forms.ValidationError(_("A user with this e-mail already exists."))
        return email


@admin.register(User)
class UserAdmin(TenantAdmin):
    """Managers invite users (who choose a password from an e-mailed link) and deactivate them."""

    access_area = "users"
    form = UserAdminForm
    list_display = ["email", "first_name", "last_name", "role", "is_active", "last_seen_at"]
    list_filter = ["role", "is_active"]
    search_fields = ["email", "first_name", "last_name"]
    actions = ["send_password_reset"]

    def get_fields(self, request, obj=None):
        fields = ["email", "first_name", "last_name", "role", "is_active"]
        if request.user.is_superuser:
            fields += ["account", "is_superuser"]
        if obj is not None:
            fields += ["last_login", "last_seen_at", "date_joined"]
        return fields

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["fields"] = [
            f
            for f in self.get_fields(request, obj)
            if f not in self.get_readonly_fields(request, obj)
        ]
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        readonly = ["last_login", "last_seen_at", "date_joined"]
        if obj is not None and obj.pk == request.user.pk:
            # Nobody demotes or deactivates themselves out of the admin by accident.
            readonly += ["role", "is_active"]
        return readonly

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

    def formfield_for_choice_field(self, db_field, request, **kwargs):
        if db_field.name == "role":
            kwargs["choices"] = Role.choices
        return super().formfield_for_choice_field(db_field, request, **kwargs)


@admin.register(Branch)
class BranchAdmin(TenantAdmin):
    list_display = ["name", "prefix", "city", "state", "is_active"]
    list_filter = ["is_active", "state"]
    search_fields = ["name", "prefix", "city"]


@admin.register(Vehicle)
class VehicleAdmin(TenantAdmin):
    list_display = ["plate", "type", "capacity_kg", "capacity_m3", "is_active"]
    list_filter = ["type", "is_active"]
    search_fields = ["plate"]


class DriverAdminForm(forms.ModelForm):
    new_password = forms.CharField(
        label=_("New password"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_(
            "The password the driver types in the app. Leave empty to keep the current one."
        ),
    )

    class Meta:
        model = Driver
        fields = [
            "account",
            "first_name",
            "last_name",
            "username",
            "email",
            "phone",
            "branch",
            "vehicle",
            "is_active",
        ]

    def save(self, commit=True):
        driver = super().save(commit=False)
        if self.cleaned_data.get("new_password"):
            driver.set_password(self.cleaned_data["new_password"])
        if commit:
            driver.save()
        return driver


@admin.register(Driver)
class DriverAdmin(TenantAdmin):
    form = DriverAdminForm
    list_display = [
        "__str__",
        "username",
        "phone",
        "vehicle",
        "branch",
        "is_active",
        "last_seen_at",
    ]
    list_filter = ["is_active", related_only("branch")]
    search_fields = ["first_name", "last_name", "username", "email", "phone"]
    readonly_fields = ["last_seen_at"]


@admin.register(Customer)
class CustomerAdmin(TenantAdmin):
    access_area = "operations"
    list_display = ["name", "kind", "document", "phone", "email", "city"]
    list_filter = ["kind", "state"]
    search_fields = ["name", "document", "email", "phone", "external_code"]
