"""Tasks run eagerly in tests and on a real worker against Redis and PostgreSQL."""

import re
import time
from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.urls import reverse
from django.utils import timezone

from accounts import tasks
from tracking.celery import app

pytestmark = pytest.mark.django_db


def test_json_only_and_time_limits():
    assert app.conf.task_serializer == "json"
    assert app.conf.accept_content == ["json"]
    assert app.conf.task_time_limit and app.conf.task_soft_time_limit
    assert tasks.send_email.acks_late is True


def test_beat_schedule_names_registered_tasks():
    app.loader.import_default_modules()
    for entry in app.conf.beat_schedule.values():
        assert entry["task"] in app.tasks, entry["task"]


def test_purge_expired_sessions_keeps_live_ones():
    now = timezone.now()
    Session.objects.create(session_key="old", session_data="x", expire_date=now - timedelta(days=1))
    Session.objects.create(
        session_key="live", session_data="x", expire_date=now + timedelta(days=1)
    )
    tasks.purge_expired_sessions.delay()
    assert list(Session.objects.values_list("session_key", flat=True)) == ["live"]


def wait_for_mail(worker, timeout_s):
    """The first e-mail the worker wrote, once it is completely written."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for path in worker.mail_dir.glob("*.log") if worker.mail_dir.exists() else ():
            content = path.read_text()
            if content.rstrip().endswith("-" * 79):
                return content
        time.sleep(0.1)
    return ""


@pytest.mark.redis
@pytest.mark.postgres
def test_a_password_reset_email_is_sent_by_a_real_worker(client, manager_a, celery_worker):
    response = client.post(reverse("password_reset"), {"email": manager_a.email})
    assert response.status_code == 302
    content = wait_for_mail(celery_worker, timeout_s=30)
    assert content, celery_worker.log_path.read_text()
    assert f"To: {manager_a.email}" in content
    assert re.search(r"/password-reset/[^/\s]+/[^/\s]+/", content)
