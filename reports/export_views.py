"""The reports' row-level exports: written in the request when small, else an ExportJob whose
page shows its progress and, once done, the download. A job is its user's only: anyone else
(another user of the account included) gets a 404."""

import tempfile

from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_POST

from . import export_jobs
from .detail_exports import CONTENT_TYPES, ROW_EXPORTS, WRITERS, filename
from .models import ExportJob, ExportJobStatus
from .views import reports_section


@require_POST
@reports_section
def row_export(request, report):
    """POST (it may start a job) with the report's filters in the query string and the format in
    the body."""
    fmt = request.POST.get("format")
    if report not in ROW_EXPORTS or fmt not in WRITERS:
        raise Http404
    params = request.GET.urlencode()
    export, filters = export_jobs.row_export(report=report, user=request.user, params=params)
    if export.count() > export_jobs.INLINE_ROWS:
        job = export_jobs.export_job_create(
            user=request.user, report=report, params=params, fmt=fmt
        )
        return redirect("reports:export_job", pk=job.pk)
    output = tempfile.TemporaryFile()  # noqa: SIM115 - FileResponse closes it
    WRITERS[fmt](export, output)
    output.seek(0)
    return FileResponse(
        output,
        as_attachment=True,
        filename=filename(export, filters, fmt),
        content_type=CONTENT_TYPES[fmt],
    )


def _own_job(request, pk):
    return get_object_or_404(
        ExportJob, pk=pk, account_id=request.user.account_id, created_by=request.user
    )


@reports_section
def export_job(request, pk):
    """The job's page; htmx polls its card until it is finished."""
    job = _own_job(request, pk)
    partial = bool(request.htmx) and not request.htmx.history_restore_request
    template = "reports/_partials/export_job.html" if partial else "reports/export_job.html"
    response = render(request, template, {"job": job})
    patch_vary_headers(response, ["HX-Request"])
    return response


@reports_section
def export_download(request, pk):
    job = _own_job(request, pk)
    if job.status != ExportJobStatus.DONE or not job.file:
        raise Http404
    return FileResponse(
        job.file.open("rb"),
        as_attachment=True,
        filename=job.file.name.rsplit("/", 1)[-1],
        content_type=CONTENT_TYPES[job.format],
    )
