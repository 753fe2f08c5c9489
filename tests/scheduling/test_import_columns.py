"""The services import's schedule columns, read by scheduling's handler registered in ready()."""

import csv
import io
from datetime import time, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from scheduling.imports import HANDLER, find_window, parse_day
from scheduling.models import DeliveryWindow, Origin, Schedule, ScheduleChange
from services import imports
from services.models import Service

pytestmark = pytest.mark.django_db

HEADER = ["id_externo", "destinatario", "logradouro", "cidade", "data_agendamento", "janela"]


@pytest.fixture
def windows(account_a):
    """Manhã (capacity 1) and Tarde every day of the week."""
    for weekday in range(7):
        DeliveryWindow.objects.create(
            account=account_a, weekday=weekday, name="Manhã", start=time(8), end=time(12),
            capacity=1,
        )  # fmt: skip
        DeliveryWindow.objects.create(
            account=account_a, weekday=weekday, name="Tarde", start=time(13), end=time(18)
        )


def run_import(user, rows, django_capture_on_commit_callbacks):
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=";").writerows(rows)
    upload = SimpleUploadedFile("s.csv", buffer.getvalue().encode())
    with django_capture_on_commit_callbacks(execute=True):
        job = imports.import_job_create(user=user, uploaded_file=upload)
    job.refresh_from_db()
    return job


def row(number, day="", window=""):
    return [f"EXT-{number}", f"Recipient {number}", "Rua Augusta", "São Paulo", day, window]


def test_the_handler_is_registered_by_the_app():
    assert HANDLER in imports._handlers
    assert "schedule_window" in imports.template_header()


def test_rows_with_a_date_and_window_are_scheduled_and_bad_ones_rejected_whole(
    manager_a, windows, django_capture_on_commit_callbacks
):
    day = manager_a.account.today() + timedelta(days=3)
    br_day = day.strftime("%d/%m/%Y")
    rows = [
        HEADER,
        row(1, br_day, "manha"),  # by name, without accent or case
        row(2, day.isoformat(), "13:00-18:00"),  # by its hours
        row(3),  # no schedule: imported as usual
        row(4, br_day, "Manhã"),  # full (capacity 1): the whole row is rolled back
        row(5, br_day, "Noite"),  # no such window
        row(6, br_day, ""),  # a date without a window
        row(7, "amanhã", "Tarde"),  # not a date
    ]

    job = run_import(manager_a, rows, django_capture_on_commit_callbacks)

    assert job.created_count == 3, job.report
    assert set(Service.objects.values_list("external_id", flat=True)) == {"EXT-1", "EXT-2", "EXT-3"}
    first = Schedule.objects.get(service__external_id="EXT-1")
    assert (first.date, first.window.name, first.origin) == (day, "Manhã", Origin.BACK_OFFICE)
    assert first.set_by == manager_a
    assert Schedule.objects.get(service__external_id="EXT-2").window.name == "Tarde"
    assert not Schedule.objects.filter(service__external_id="EXT-3").exists()
    assert ScheduleChange.objects.count() == 2
    rejected = {entry["row"]: entry["errors"] for entry in job.report["rejected"]}
    assert sorted(rejected) == [5, 6, 7, 8]
    assert rejected[5][0]["column"] == "janela" and "full" in rejected[5][0]["message"]
    assert rejected[6][0]["column"] == "janela" and "Noite" in rejected[6][0]["message"]
    assert rejected[7][0]["column"] == "janela"
    assert rejected[8][0]["column"] == "data_agendamento"


def test_a_date_outside_the_horizon_rejects_the_row(
    manager_a, windows, django_capture_on_commit_callbacks
):
    day = manager_a.account.today() + timedelta(days=60)
    job = run_import(
        manager_a, [HEADER, row(1, day.isoformat(), "Tarde")], django_capture_on_commit_callbacks
    )

    assert job.created_count == 0
    [entry] = job.report["rejected"]
    assert entry["errors"][0]["column"] == "data_agendamento"
    assert not Service.objects.exists()


def test_parsing_helpers():
    assert parse_day("2030-12-31T00:00:00").isoformat() == "2030-12-31"
    assert parse_day("31/12/2030").isoformat() == "2030-12-31"
    assert parse_day("31/12") is None
    morning = DeliveryWindow(pk=7, name="Manhã", start=time(8), end=time(12))
    assert find_window("8h-12h", [morning]) is morning
    assert find_window("MANHA", [morning]) is morning
    assert find_window("7", [morning]) is morning
    assert find_window("tarde", [morning]) is None
    assert find_window("25h-30h", [morning]) is None
