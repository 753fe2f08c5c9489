"""The web admin: Django's admin, themed as the product and open only to roles that configure."""

from django.conf import settings
from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _

from . import access


class WebAdminSite(admin.AdminSite):
    site_header = _("Web admin")
    site_title = _("Last Mile web admin")
    index_title = _("Account settings")
    site_url = "/"

    def has_permission(self, request):
        return access.can_use_admin(request.user)

    def login(self, request, extra_context=None):
        # One login page for the whole product: the admin's own sends people there.
        target = request.GET.get("next", "")
        if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
            target = ""
        target = target or reverse("admin:index", current_app=self.name)
        if self.has_permission(request):
            return redirect(target)
        return redirect_to_login(target, settings.LOGIN_URL)
