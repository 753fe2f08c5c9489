"""Installs Django's admin as the product's web admin (the site class is accounts.admin_site)."""

from django.contrib.admin.apps import AdminConfig


class WebAdminConfig(AdminConfig):
    default_site = "accounts.admin_site.WebAdminSite"
