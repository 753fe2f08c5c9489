"""Row-level exports of the reports (every service or message behind the numbers): written in the
request when small, an export job with progress and a download when large; each row's values
against the deliveries report's hand-made data set; who may see and download what."""

import csv
import io
import os
from datetime import datetime, timedelta

import openpyxl
import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role, Trigger
from lastmile.models import Channel, MessageStatus, OutboxMessage
from reports import export_jobs
from reports.models import ExportJob, ExportJobStatus
from tests import factories as f

from .test_deliveries import D1, PERIOD, TZ, build_dataset

pytestmark = pytest.mark.django_db

ROWS_URL = reverse("reports:row_export", args=["deliveries"])


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def data(account_a):
    return build_dataset(account_a)


def post_export(client, fmt, report="deliveries", **params):
    query = "&".join(f"{key}={value}" for key, value in {**PERIOD, **params}.items())
    url = reverse("reports:row_export", args=[report])
    return client.post(f"{url}?{query}", {"format": fmt})


def csv_rows(response):
    content = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(content)))


def by_order(rows):
    header = rows[0]
    return {
        row[header.index("Order number")]: dict(zip(header, row, strict=True)) for row in rows[1:]
    }


# Written in the request ---------------------------------------------------------------------------


def test_every_service_of_the_period_is_one_row_with_its_outcome(client_of, manager_a, data):
    response = post_export(client_of(manager_a), "csv")
    assert response.status_code == 200
    assert response["Content-Disposition"] == (
        'attachment; filename="deliveries-services-2030-03-04-2030-03-05.csv"'
    )
    rows = csv_rows(response)
    assert len(rows) == 1 + 11  # the report's total
    services = by_order(rows)
    first = services[data.s1.order_number]
    assert first["Status"] == "Done"
    assert first["Deadline compliance"] == "On time"
    assert first["First-attempt success"] == "Yes"
    assert first["Branch"] == "North" and first["Carrier"] == "Alfa Transportes"
    assert first["Partner"] == "Xis Store"
    assert first["Driver"] == f"{data.driver_1.first_name} {data.driver_1.last_name}".strip()
    # Local times of the account (America/Sao_Paulo), without the zone.
    assert first["Finished at"] == "2030-03-04 10:00:00"
    assert first["Deadline"] == "2030-03-04 18:00:00"
    # Done late at the second attempt; its column values come from the same counts as the report.
    statuses = [row["Status"] for row in services.values()]
    assert statuses.count("Done") == 4 and statuses.count("Failed") == 2
    compliance = [row["Deadline compliance"] for row in services.values()]
    assert (compliance.count("On time"), compliance.count("Late")) == (2, 2)
    assert compliance.count("Not yet due") == 1
    first_attempts = [row["First-attempt success"] for row in services.values()]
    assert (first_attempts.count("Yes"), first_attempts.count("No")) == (3, 1)


def test_the_xlsx_has_local_times_as_dates_and_numbers_as_numbers(client_of, manager_a, data):
    response = post_export(client_of(manager_a), "xlsx")
    assert response.status_code == 200
    workbook = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    sheet = workbook["Services"]
    rows = list(sheet.values)
    assert len(rows) == 1 + 11
    header = rows[0]
    first = next(row for row in rows if row[header.index("Order number")] == data.s1.order_number)
    assert first[header.index("Finished at")] == datetime(2030, 3, 4, 10, 0)
    assert first[header.index("Attempts")] == 0
    assert first[header.index("Id")] == data.s1.pk


def test_filters_and_scope_apply_to_the_rows(client_of, data):
    carrier_user = f.UserFactory(account=data.account, role=Role.CARRIER, carrier=data.beta)
    rows = csv_rows(post_export(client_of(carrier_user), "csv"))
    carriers = {row["Carrier"] for row in by_order(rows).values()}
    assert carriers == {"Beta Cargas"} and len(rows) == 1 + 5
    partner_user = f.UserFactory(account=data.account, role=Role.PARTNER, partner=data.xis)
    # Another partner asked for is ignored: still its own.
    rows = csv_rows(post_export(client_of(partner_user), "csv", partner=data.ypsilon.pk))
    assert {row["Partner"] for row in by_order(rows).values()} == {"Xis Store"}
    assert len(rows) == 1 + 6


def test_formulas_in_text_are_exported_as_text(client_of, manager_a, data):
    data.north.name = "=HYPERLINK(1)"
    data.north.save(update_fields=["name"])
    rows = csv_rows(post_export(client_of(manager_a), "csv"))
    assert "'=HYPERLINK(1)" in {row["Branch"] for row in by_order(rows).values()}


def test_the_messages_are_exported_one_row_each(client_of, manager_a, data):
    for channel, status, cost in (
        (Channel.SMS, MessageStatus.DELIVERED, "0.07900"),
        (Channel.EMAIL, MessageStatus.FAILED, None),
    ):
        message = OutboxMessage.objects.create(
            account=data.account, service=data.s1, trigger=Trigger.ROUTE_STARTED, channel=channel,
            to="+5511999990000", body="On its way", status=status, cost=cost,
            cost_currency="USD" if cost else "",
        )  # fmt: skip
        OutboxMessage.objects.filter(pk=message.pk).update(
            created_at=datetime(2030, 3, 4, 9, 30, tzinfo=TZ)
        )
    rows = csv_rows(post_export(client_of(manager_a), "csv", report="messages"))
    header = rows[0]
    assert len(rows) == 3
    values = [dict(zip(header, row, strict=True)) for row in rows[1:]]
    assert [(row["Channel"], row["Status"], row["Cost"]) for row in values] == [
        ("SMS", "Delivered", "0.07900"),
        ("E-mail", "Failed", ""),
    ]
    assert values[0]["Created at"] == "2030-03-04 09:30:00"
    assert values[0]["Service"] == data.s1.order_number


def test_a_get_or_an_unknown_format_or_report_is_refused(client_of, manager_a, data):
    client = client_of(manager_a)
    assert client.get(ROWS_URL).status_code == 405
    assert post_export(client, "pdf").status_code == 404
    assert client.post("/reports/ranking/rows", {"format": "csv"}).status_code == 404


# Large: a job -----------------------------------------------------------------------------------


@pytest.fixture
def small_inline(monkeypatch):
    """Exports over 3 rows are jobs (5,000 in production: the data set is a dozen services)."""
    monkeypatch.setattr(export_jobs, "INLINE_ROWS", 3)
    # Progress is written on every row, so a test sees it move.
    monkeypatch.setattr(export_jobs, "PROGRESS_EVERY_S", 0)


def test_a_large_export_is_a_job_with_progress_and_a_download(
    client_of, manager_a, data, small_inline, django_capture_on_commit_callbacks
):
    client = client_of(manager_a)
    with django_capture_on_commit_callbacks(execute=True):
        response = post_export(client, "xlsx")
    job = ExportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("reports:export_job", args=[job.pk])
    # The worker ran in-process (no broker in tests): done, every row written.
    job.refresh_from_db()
    assert (job.status, job.rows_total, job.rows_done, job.progress) == (
        ExportJobStatus.DONE, 11, 11, 100,
    )  # fmt: skip
    page = client.get(response["Location"])
    assert page.status_code == 200
    download_url = reverse("reports:export_download", args=[job.pk])
    assert download_url in page.content.decode()
    download = client.get(download_url)
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith(
        'attachment; filename="deliveries-services-2030-03-04-2030-03-05.xlsx"'
    )
    workbook = openpyxl.load_workbook(io.BytesIO(b"".join(download.streaming_content)))
    assert len(list(workbook["Services"].values)) == 1 + 11
    # Listed on the reports page.
    assert reverse("reports:export_job", args=[job.pk]) in client.get("/reports/").content.decode()


def test_a_running_job_shows_its_rows_and_polls(client_of, manager_a, data):
    job = ExportJob.objects.create(
        account=data.account, created_by=manager_a, report="deliveries", format="csv",
        status=ExportJobStatus.RUNNING, rows_total=200, rows_done=50,
    )  # fmt: skip
    response = client_of(manager_a).get(
        reverse("reports:export_job", args=[job.pk]), headers={"HX-Request": "true"}
    )
    body = response.content.decode()
    assert 'aria-valuenow="25"' in body and "50 of 200 rows" in body
    assert "hx-trigger" in body
    assert reverse("reports:export_download", args=[job.pk]) not in body
    assert (
        client_of(manager_a).get(reverse("reports:export_download", args=[job.pk])).status_code
        == 404
    )


def test_the_job_writes_what_its_user_may_see_at_the_time_it_runs(data, small_inline):
    carrier_user = f.UserFactory(account=data.account, role=Role.CARRIER, carrier=data.alfa)
    job = export_jobs.export_job_create(
        user=carrier_user, report="deliveries", params="date_from=2030-03-04&date_to=2030-03-05",
        fmt="csv",
    )  # fmt: skip
    export_jobs.export_job_run(job.pk)
    job.refresh_from_db()
    assert job.status == ExportJobStatus.DONE
    rows = list(csv.reader(io.StringIO(job.file.read().decode("utf-8-sig"))))
    header = rows[0]
    assert {row[header.index("Carrier")] for row in rows[1:]} == {"Alfa Transportes"}
    # Run again (a redelivered task): left alone.
    assert export_jobs.export_job_run(job.pk) is None


def test_a_deactivated_user_s_job_fails_without_a_file(data, small_inline):
    manager = f.UserFactory(account=data.account, role=Role.MANAGER)
    job = export_jobs.export_job_create(user=manager, report="deliveries", params="", fmt="csv")
    manager.is_active = False
    manager.save(update_fields=["is_active"])
    export_jobs.export_job_run(job.pk)
    job.refresh_from_db()
    assert job.status == ExportJobStatus.FAILED and not job.file


def test_only_the_user_who_asked_sees_and_downloads_the_job(client_of, manager_a, manager_b, data):
    job = ExportJob.objects.create(
        account=data.account, created_by=manager_a, report="deliveries", format="csv",
        status=ExportJobStatus.DONE, rows_total=0,
    )  # fmt: skip
    job.file.save("rows.csv", io.BytesIO(b"Id\n"), save=True)
    colleague = f.UserFactory(account=data.account, role=Role.MANAGER)
    for user in (colleague, manager_b):
        client = client_of(user)
        assert client.get(reverse("reports:export_job", args=[job.pk])).status_code == 404
        assert client.get(reverse("reports:export_download", args=[job.pk])).status_code == 404
    operator = f.UserFactory(account=data.account, role=Role.OPERATOR)
    assert client_of(operator).get(reverse("reports:export_job", args=[job.pk])).status_code == 404
    assert (
        client_of(manager_a).get(reverse("reports:export_download", args=[job.pk])).status_code
        == 200
    )


def test_tidying_requeues_lost_jobs_fails_dead_ones_and_deletes_old_files(data, manager_a):
    now = timezone.now()

    def job(status, age, **fields):
        made = ExportJob.objects.create(
            account=data.account, created_by=manager_a, report="deliveries", format="csv",
            params="date_from=2030-03-04&date_to=2030-03-05", status=status, **fields,
        )  # fmt: skip
        ExportJob.objects.filter(pk=made.pk).update(created_at=now - age)
        return made

    lost = job(ExportJobStatus.QUEUED, timedelta(minutes=5))
    fresh = job(ExportJobStatus.QUEUED, timedelta(seconds=10))
    dead = job(ExportJobStatus.RUNNING, timedelta(hours=1))
    old = job(ExportJobStatus.DONE, timedelta(days=8))
    old.file.save("old.csv", io.BytesIO(b"Id\n"), save=False)
    ExportJob.objects.filter(pk=old.pk).update(file=old.file.name)
    path = old.file.path

    assert export_jobs.export_jobs_tidy(now=now) == (1, 1, 1)
    lost.refresh_from_db()
    fresh.refresh_from_db()
    dead.refresh_from_db()
    assert lost.status == ExportJobStatus.DONE  # queued again, run in-process
    assert fresh.status == ExportJobStatus.QUEUED
    assert dead.status == ExportJobStatus.FAILED and dead.error
    assert not ExportJob.objects.filter(pk=old.pk).exists()
    assert not os.path.exists(path)


def test_the_reports_page_lists_only_the_users_own_exports(client_of, manager_a, data):
    colleague = f.UserFactory(account=data.account, role=Role.MANAGER)
    ExportJob.objects.create(
        account=data.account, created_by=colleague, report="messages", format="csv"
    )
    body = client_of(manager_a).get("/reports/").content.decode()
    assert 'data-testid="export-list"' not in body


def test_the_day_of_a_row_is_the_accounts_not_utc(client_of, manager_a, data):
    # s2 was done at 23:30 local on day 1 (02:30 UTC on day 2).
    rows = by_order(csv_rows(post_export(client_of(manager_a), "csv")))
    assert rows[data.s2.order_number]["Finished at"] == "2030-03-04 23:30:00"
    assert D1.isoformat() in rows[data.s2.order_number]["Finished at"]


def test_a_real_worker_writes_the_export_on_postgresql(
    celery_worker, client_of, account_a, manager_a, small_inline
):
    build_dataset(account_a)
    response = post_export(client_of(manager_a), "csv")
    job = ExportJob.objects.get()
    assert response["Location"] == reverse("reports:export_job", args=[job.pk])
    deadline = timezone.now() + timedelta(seconds=30)
    while not job.is_finished and timezone.now() < deadline:
        job.refresh_from_db()
    assert (job.status, job.rows_done) == (ExportJobStatus.DONE, 11)
    download = client_of(manager_a).get(reverse("reports:export_download", args=[job.pk]))
    rows = list(csv.reader(io.StringIO(b"".join(download.streaming_content).decode("utf-8-sig"))))
    assert len(rows) == 1 + 11
