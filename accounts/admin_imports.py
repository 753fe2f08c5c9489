"""Import pages in the web admin: upload a CSV or XLSX of customers, drivers or vehicles, read the
report, and download a template. Added to the registered admins by enable_imports()."""

import json

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import translation
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from . import imports
from .models import Account, Customer, Driver, Vehicle

IMPORT_KINDS = {Customer: "customers", Driver: "drivers", Vehicle: "vehicles"}


class ImportForm(forms.Form):
    account = forms.ModelChoiceField(
        label=gettext_lazy("Account"),
        queryset=Account.objects.filter(is_active=True),
        help_text=gettext_lazy("The account the rows are imported into."),
    )
    file = forms.FileField(
        label=gettext_lazy("File"),
        help_text=gettext_lazy(
            "CSV (separated by commas or semicolons) or XLSX (its first sheet); "
            "the first row names the columns."
        ),
        widget=forms.ClearableFileInput(
            attrs={
                "accept": ".csv,.xlsx,text/csv,"
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            }
        ),
    )
    dry_run = forms.BooleanField(
        label=gettext_lazy("Check only"),
        required=False,
        help_text=gettext_lazy("Check the file and show the report without saving anything."),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user_account = user.account
        if self.user_account is not None:
            # Users import into their own account; only platform administrators choose one.
            del self.fields["account"]

    def target_account(self):
        return self.user_account or self.cleaned_data["account"]


class ImportAdminMixin:
    """Gives a TenantAdmin of customers, drivers or vehicles an Import page and its CSV template."""

    import_kind = None  # "customers", "drivers" or "vehicles"; by default from the model
    change_list_template = "admin/accounts/import/change_list.html"

    def get_import_kind(self):
        return self.import_kind or IMPORT_KINDS[self.model]

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        wrap = self.admin_site.admin_view
        return [
            path("import/", wrap(self.import_view), name="{}_{}_import".format(*info)),
            path(
                "import/template.csv",
                wrap(self.import_template_view),
                name="{}_{}_import_template".format(*info),
            ),
            *super().get_urls(),
        ]

    def has_import_permission(self, request):
        # An import adds rows and changes the ones it matches.
        return self.has_add_permission(request) and self.has_change_permission(request)

    def _import_url(self, name):
        info = self.opts.app_label, self.opts.model_name
        return reverse("admin:{}_{}_{}".format(*info, name), current_app=self.admin_site.name)

    def changelist_view(self, request, extra_context=None):
        if self.has_import_permission(request):
            extra_context = {**(extra_context or {}), "import_url": self._import_url("import")}
        return super().changelist_view(request, extra_context)

    def import_view(self, request):
        if not self.has_import_permission(request):
            raise PermissionDenied
        report = None
        if request.method == "POST":
            form = ImportForm(request.POST, request.FILES, user=request.user)
            if form.is_valid():
                upload = form.cleaned_data["file"]
                report = imports.import_rows(
                    account=form.target_account(),
                    kind=self.get_import_kind(),
                    uploaded_file=upload,
                    dry_run=form.cleaned_data["dry_run"],
                )
                if report.saved:
                    log_import(request.user, self.model, report)
                    self.message_user(request, summary(report, upload.name), messages.SUCCESS)
        else:
            form = ImportForm(user=request.user)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Import %(name)s") % {"name": self.opts.verbose_name_plural},
            "opts": self.opts,
            "app_label": self.opts.app_label,
            "form": form,
            "report": report,
            "columns": imports.columns_help(self.get_import_kind()),
            "template_url": self._import_url("import_template"),
            "max_rows": imports.MAX_ROWS,
            "max_megabytes": imports.MAX_FILE_BYTES // (1024 * 1024),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/accounts/import/import.html", context)

    def import_template_view(self, request):
        if not self.has_import_permission(request):
            raise PermissionDenied
        # The BOM makes Excel read the accents as UTF-8.
        content = "\ufeff" + imports.template_csv(self.get_import_kind())
        response = HttpResponse(content, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = (
            f'attachment; filename="{self.get_import_kind()}-template.csv"'
        )
        return response


def summary(report, filename):
    totals = report.totals
    return _(
        "Imported %(file)s: %(created)d created, %(updated)d updated, %(unchanged)d unchanged, "
        "%(rejected)d rejected."
    ) % {"file": filename, **totals}


def log_import(user, model, report):
    """Records the created and updated rows in the admin's history, as the admin's forms do."""
    saved = (imports.CREATED, imports.UPDATED)
    rows = {row.pk: row for row in report.rows if row.pk and row.action in saved}
    content_type = ContentType.objects.get_for_model(model, for_concrete_model=False)
    entries = []
    with translation.override(None):  # stored untranslated; the history page translates it
        for pk, obj in model._default_manager.in_bulk(list(rows)).items():
            row = rows[pk]
            if row.action == imports.CREATED:
                flag, message = ADDITION, [{"added": {}}]
            else:
                labels = [
                    str(capfirst(model._meta.get_field(name).verbose_name)) for name in row.changed
                ]
                flag, message = CHANGE, [{"changed": {"fields": labels}}]
            entries.append(
                LogEntry(
                    user_id=user.pk,
                    content_type=content_type,
                    object_id=str(pk),
                    object_repr=str(obj)[:200],
                    action_flag=flag,
                    change_message=json.dumps(message),
                )
            )
    LogEntry.objects.bulk_create(entries, batch_size=500)


def enable_imports(site=admin.site):
    """Adds the Import pages to the registered admins of customers, drivers and vehicles, by
    registering a subclass of each with ImportAdminMixin (unless it already has it)."""
    for model, kind in IMPORT_KINDS.items():
        model_admin = site._registry.get(model)
        if model_admin is None or isinstance(model_admin, ImportAdminMixin):
            continue
        base = type(model_admin)
        attrs = {"import_kind": kind, "__module__": base.__module__, "__doc__": base.__doc__}
        if base.change_list_template:
            # The admin has its own changelist: keep it (it can link to the import page itself).
            attrs["change_list_template"] = base.change_list_template
        site.unregister(model)
        site.register(model, type(base.__name__, (ImportAdminMixin, base), attrs))


enable_imports()
