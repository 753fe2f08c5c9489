"""Row-level exports too large for a request: an ExportJob that a worker writes to a file, its
progress counted in rows, downloaded from its page when done (reports.detail_exports has the rows).

The job keeps the report's query string and the user: the worker rebuilds the filters with that
user's scope, so the file holds exactly what the user's report shows. Files are kept KEEP_DAYS,
then deleted with their job.
"""

import logging
import tempfile
import time
from datetime import timedelta

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.http import QueryDict
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from .detail_exports import ROW_EXPORTS, WRITERS, filename
from .forms import MessageFilterForm, ReportFilterForm
from .models import ExportJob, ExportJobStatus

logger = logging.getLogger(__name__)

FORMS = {"deliveries": ReportFilterForm, "messages": MessageFilterForm}
# Up to this many rows an export is written in the request; more make a job.
INLINE_ROWS = 5000
KEEP_DAYS = 7
# Progress is written at most this often (seconds), so a fast export is not slowed by it.
PROGRESS_EVERY_S = 1.0
# A job still queued after this long lost its enqueue (broker down): it is queued again.
REQUEUE_AFTER = timedelta(minutes=2)
# Longer than the task's hard time limit: a job running this long died with its worker.
STALE_AFTER = timedelta(minutes=35)


def row_export(*, report, user, params, now=None):
    """(the RowExport, its filters) of a report for a user and a query string."""
    tzinfo = user.account.tzinfo
    today = timezone.localdate(now or timezone.now(), timezone=tzinfo)
    form = FORMS[report](QueryDict(params), user=user, today=today)
    filters = form.filters()
    return ROW_EXPORTS[report](user=user, filters=filters, tzinfo=tzinfo), filters


def export_job_create(*, user, report, params, fmt):
    """Queues an export of the report's rows for the user and hands it to a worker (in-process
    when no broker is configured)."""
    from .tasks import run_export_job

    job = ExportJob.objects.create(
        account=user.account,
        created_by=user,
        report=report,
        params=params,
        format=fmt,
        language=translation.get_language() or settings.LANGUAGE_CODE,
    )
    transaction.on_commit(lambda: run_export_job.delay(job.pk))
    return job


def export_job_run(job_id):
    """Writes the job's file. Idempotent: a job running or finished is left alone."""
    claimed = ExportJob.objects.filter(pk=job_id, status=ExportJobStatus.QUEUED).update(
        status=ExportJobStatus.RUNNING
    )
    if not claimed:
        return None
    job = ExportJob.objects.select_related("account", "created_by__account").get(pk=job_id)
    try:
        with translation.override(job.language or settings.LANGUAGE_CODE):
            _write(job)
    except Exception:
        logger.exception("export job %s failed", job_id)
        _finish(job, ExportJobStatus.FAILED, error=_("The export failed; try again."))
        raise
    return job.pk


def _write(job):
    user = job.created_by
    if not user.is_active or user.account_id != job.account_id:
        _finish(job, ExportJobStatus.FAILED, error=_("The user can no longer export."))
        return
    export, filters = row_export(report=job.report, user=user, params=job.params)
    total = export.count()
    ExportJob.objects.filter(pk=job.pk).update(rows_total=total)
    last = [time.monotonic()]

    def progress(written):
        now = time.monotonic()
        if now - last[0] >= PROGRESS_EVERY_S:
            last[0] = now
            ExportJob.objects.filter(pk=job.pk).update(rows_done=written)

    with tempfile.TemporaryFile() as output:
        written = WRITERS[job.format](export, output, progress=progress)
        output.seek(0)
        job.file.save(filename(export, filters, job.format), File(output), save=False)
    ExportJob.objects.filter(pk=job.pk).update(file=job.file.name, rows_total=written)
    _finish(job, ExportJobStatus.DONE, rows_done=written)


def _finish(job, status, *, error="", rows_done=None):
    fields = {"status": status, "error": error, "finished_at": timezone.now()}
    if rows_done is not None:
        fields["rows_done"] = rows_done
    ExportJob.objects.filter(pk=job.pk).update(**fields)


def export_jobs_tidy(*, now=None):
    """Queues again the jobs whose enqueue was lost, fails those whose worker died, and deletes
    the jobs (and files) older than KEEP_DAYS. Returns (requeued, failed,
    deleted)."""
    from .tasks import run_export_job

    now = now or timezone.now()
    lost = list(
        ExportJob.objects.filter(
            status=ExportJobStatus.QUEUED, created_at__lt=now - REQUEUE_AFTER
        ).values_list("pk", flat=True)
    )
    for pk in lost:
        run_export_job.delay(pk)
    failed = ExportJob.objects.filter(
        status=ExportJobStatus.RUNNING, created_at__lt=now - STALE_AFTER
    ).update(
        status=ExportJobStatus.FAILED,
        error=_("The export stopped; try again."),
        finished_at=now,
    )
    old = ExportJob.objects.filter(created_at__lt=now - timedelta(days=KEEP_DAYS))
    deleted = 0
    for job in old.iterator():
        if job.file:
            job.file.delete(save=False)
        job.delete()
        deleted += 1
    return len(lost), failed, deleted
