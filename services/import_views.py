"""The pages of the services import: upload a spreadsheet, follow its job, read its report."""

import csv

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _

from . import imports
from .exports import Echo

RECENT_JOBS = 20
# The rejected rows shown on the page; all of them are in the CSV download.
REJECTED_SHOWN = 500
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class ImportForm(forms.Form):
    file = forms.FileField(
        label=_("Spreadsheet"),
        help_text=_(
            "CSV (separated by commas or semicolons) or XLSX (its first sheet); "
            "the first row names the columns."
        ),
        widget=forms.ClearableFileInput(
            attrs={"accept": f".csv,.xlsx,text/csv,{XLSX_TYPE}", "class": "form-control"}
        ),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > imports.MAX_FILE_BYTES:
            raise forms.ValidationError(
                _("The file is larger than %(size)d MB. Split it and import the parts.")
                % {"size": imports.MAX_FILE_BYTES // (1024 * 1024)}
            )
        return upload


def _require_importer(user):
    if not imports.can_import(user):
        raise Http404


@login_required
def upload(request):
    _require_importer(request.user)
    if request.method == "POST":
        form = ImportForm(request.POST, request.FILES)
        if form.is_valid():
            job = imports.import_job_create(
                user=request.user, uploaded_file=form.cleaned_data["file"]
            )
            return redirect("services:import_job", pk=job.pk)
    else:
        form = ImportForm()
    context = {
        "form": form,
        "jobs": imports.job_list(user=request.user)[:RECENT_JOBS],
        "columns": imports.columns_help(),
        "max_rows": imports.MAX_ROWS,
        "max_megabytes": imports.MAX_FILE_BYTES // (1024 * 1024),
    }
    return render(request, "services/import/upload.html", context)


@login_required
def template_csv(request):
    _require_importer(request.user)
    # The BOM makes Excel read the accents as UTF-8.
    response = HttpResponse("\ufeff" + imports.template_csv(), content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="services-template.csv"'
    return response


@login_required
def template_xlsx(request):
    _require_importer(request.user)
    response = HttpResponse(imports.template_xlsx(), content_type=XLSX_TYPE)
    response["Content-Disposition"] = 'attachment; filename="services-template.xlsx"'
    return response


@login_required
def job(request, pk):
    _require_importer(request.user)
    context = _job_context(imports.job_get(user=request.user, pk=pk))
    return render(request, "services/import/job.html", context)


@login_required
def job_status(request, pk):
    """The progress and, once finished, the report: what the job page polls."""
    _require_importer(request.user)
    context = _job_context(imports.job_get(user=request.user, pk=pk))
    return render(request, "services/import/_partials/status.html", context)


@login_required
def job_rejected(request, pk):
    """Every rejected row of the job with its reasons, as CSV."""
    _require_importer(request.user)
    import_job = imports.job_get(user=request.user, pk=pk)
    writer = csv.writer(Echo())
    rows = (writer.writerow(row) for row in imports.rejected_csv_rows(import_job))
    response = StreamingHttpResponse(rows, content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="import-{import_job.pk}-rejected.csv"'
    return response


def _job_context(import_job):
    rejected = import_job.report.get("rejected", [])
    return {
        "job": import_job,
        "rejected": rejected[:REJECTED_SHOWN],
        "rejected_hidden": max(0, len(rejected) - REJECTED_SHOWN),
    }
