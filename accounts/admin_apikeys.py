"""API keys in the web admin: managers create them (the key is shown once), see when each was last
used, and revoke them. Keys belong to the account, not to the manager who created them."""

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .admin import TenantAdmin
from .apikeys import api_key_create, api_key_revoke
from .models import ApiKey


class RevokedFilter(admin.SimpleListFilter):
    title = _("revoked")
    parameter_name = "revoked"

    def lookups(self, request, model_admin):
        return [("0", _("Active")), ("1", _("Revoked"))]

    def queryset(self, request, queryset):
        if self.value() == "0":
            return queryset.filter(revoked_at__isnull=True)
        if self.value() == "1":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


@admin.register(ApiKey)
class ApiKeyAdmin(TenantAdmin):
    # Who manages users manages the keys integrations call the API with: managers only.
    access_area = "users"
    list_display = ["name", "prefix_display", "created_by", "created_at", "last_used_at", "revoked"]
    list_filter = [RevokedFilter]
    search_fields = ["name", "prefix"]
    list_select_related = ["created_by", "account"]
    actions = ["revoke"]

    def get_fields(self, request, obj=None):
        fields = ["name"]
        if obj is None and request.user.is_superuser:
            fields.append("account")
        if obj is not None:
            fields += ["prefix_display", "created_by", "created_at", "last_used_at", "revoked_at"]
        return fields

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return ["prefix_display", "created_by", "created_at", "last_used_at", "revoked_at"]

    @admin.display(description=_("prefix"), ordering="prefix")
    def prefix_display(self, api_key):
        # The start of the key, to tell keys apart; the rest exists nowhere but with its owner.
        return f"{api_key.prefix}…"

    @admin.display(description=_("revoked"), boolean=True, ordering="revoked_at")
    def revoked(self, api_key):
        return not api_key.is_active

    def save_model(self, request, obj, form, change):
        if change:
            # Only the name changes after creation.
            super().save_model(request, obj, form, change)
            return
        account = obj.account if request.user.is_superuser else request.user.account
        api_key, raw_key = api_key_create(account=account, name=obj.name, created_by=request.user)
        # The admin goes on with obj (its log entry, its redirect): make it the created key.
        for field in ApiKey._meta.concrete_fields:
            setattr(obj, field.attname, getattr(api_key, field.attname))
        obj._state.adding = False
        self.message_user(
            request,
            _(
                "Copy the key for %(name)s now: it is stored hashed and will not be shown again. "
                "%(key)s"
            )
            % {"name": api_key.name, "key": raw_key},
            messages.WARNING,
        )

    @admin.action(description=_("Revoke the selected keys"), permissions=["change"])
    def revoke(self, request, queryset):
        api_keys = list(queryset.filter(revoked_at__isnull=True))
        for api_key in api_keys:
            api_key_revoke(api_key=api_key)
        count = len(api_keys)
        self.message_user(
            request,
            ngettext(
                "%d key was revoked; calls with it now fail.",
                "%d keys were revoked; calls with them now fail.",
                count,
            )
            % count,
        )
