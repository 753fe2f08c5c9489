"""The reports' one table: exports too large for a request, written by a worker to a file the
user downloads when it is done (reports.export_jobs)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.models import TenantModel


class ExportJobStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class ExportFormat(models.TextChoices):
    CSV = "csv", "CSV"
    XLSX = "xlsx", "XLSX"


def export_path(job, name):
    """One folder per job, so the file keeps the name it is downloaded with."""
    return f"exports/{job.account_id}/{job.pk}/{name}"


class ExportJob(TenantModel):
    """One export of a report's rows: what was asked (the report, its filters as the query
    string, the format and language), how far it is, and the file once done. Only the user who
    asked sees it (it holds what that user's scope shows)."""

    report = models.CharField(_("report"), max_length=40)
    params = models.TextField(_("filters"), blank=True)
    format = models.CharField(_("format"), max_length=4, choices=ExportFormat.choices)
    language = models.CharField(_("language"), max_length=10, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=ExportJobStatus.choices, default=ExportJobStatus.QUEUED
    )
    rows_total = models.PositiveIntegerField(_("rows"), null=True, blank=True)
    rows_done = models.PositiveIntegerField(_("rows written"), default=0)
    file = models.FileField(_("file"), upload_to=export_path, blank=True)
    error = models.TextField(_("error"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("export")
        verbose_name_plural = _("exports")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ExportJobStatus.values), name="exportjob_status_valid"
            ),
        ]
        indexes = [models.Index(fields=["created_by", "created_at"])]

    def __str__(self):
        return f"{self.report} · {self.get_status_display()}"

    @property
    def is_finished(self):
        return self.status in (ExportJobStatus.DONE, ExportJobStatus.FAILED)

    @property
    def progress(self):
        """Written rows in percent (0 before the count is known)."""
        if self.status == ExportJobStatus.DONE:
            return 100
        if not self.rows_total:
            return 0
        return min(99, 100 * self.rows_done // self.rows_total)
