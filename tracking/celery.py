"""The Celery application: JSON messages, time limits, late acks for sends, the beat schedule."""

import os

from celery import Celery, signals
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracking.settings")

app = Celery("tracking")
# Settings are read lazily, so tests can switch CELERY_TASK_ALWAYS_EAGER per test.
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    timezone="UTC",
    enable_utc=True,
    # A task that hangs is killed: soft limit first, so it can clean up.
    task_soft_time_limit=60,
    task_time_limit=90,
    # Workers take one message at a time; tasks that send (SMS, e-mail, webhooks) set acks_late
    # themselves so a worker lost mid-send leaves the message for another worker.
    worker_prefetch_multiplier=1,
    task_reject_on_worker_lost=True,
    broker_connection_retry_on_startup=True,
    # With the broker down an enqueue fails at once (Celery's default retries it three times over
    # 0.6 s): a request that enqueues after commit goes on without it (the sweeps in the beat
    # schedule send what was not queued) instead of holding a web worker, which during a Redis
    # outage took every driver step 1-2 s and the web's capacity with it (benchmarks/soak). The
    # one immediate retry reconnects a pooled connection that a Redis restart broke.
    task_publish_retry_policy={
        "max_retries": 1,
        "interval_start": 0,
        "interval_step": 0,
        "interval_max": 0,
    },
    broker_transport_options={"visibility_timeout": 60 * 60},
    task_ignore_result=True,
    worker_hijack_root_logger=False,
    beat_schedule={
        "services-resume-import-jobs": {
            "task": "services.tasks.resume_import_jobs",
            "schedule": 300.0,
        },
        "services-redispatch-events": {
            "task": "services.tasks.redispatch_service_events",
            "schedule": 60.0,
        },
        # Webhook retries after their backoff, and first attempts whose enqueue was lost.
        "services-send-due-webhooks": {
            "task": "services.tasks.send_due_webhooks",
            "schedule": 30.0,
        },
        "services-purge-import-files": {
            "task": "services.tasks.purge_import_files",
            "schedule": crontab(minute=57, hour=3),
        },
        "services-purge-webhook-deliveries": {
            "task": "services.tasks.purge_webhook_deliveries",
            "schedule": crontab(minute=7, hour=4),
        },
        # ETAs of routes in progress whose positions did not refresh them in the last 30 s
        # (a driver without signal, a broker that was down when the positions came).
        "routes-refresh-active-etas": {
            "task": "routes.tasks.refresh_active_etas",
            "schedule": 60.0,
        },
        # Travel profiles for ETAs, learned from each account's last weeks while routes rest.
        "routes-learn-travel-profiles": {
            "task": "routes.tasks.learn_travel_profiles",
            "schedule": crontab(minute=0, hour=3),
        },
        # Customer messages: retries after their backoff, lost enqueues, dead workers' claims.
        "lastmile-sweep-outbox": {
            "task": "lastmile.tasks.sweep_outbox",
            "schedule": 60.0,
        },
        # "Driver arriving" and "out of deadline" for routes whose ETAs did not refresh.
        "lastmile-check-active-routes": {
            "task": "lastmile.tasks.check_active_routes",
            "schedule": 60.0,
        },
        # Report exports: lost enqueues queued again, dead jobs failed, old files deleted.
        "reports-tidy-export-jobs": {
            "task": "reports.tasks.tidy_export_jobs",
            "schedule": 600.0,
        },
        "accounts-purge-expired-sessions": {
            "task": "accounts.tasks.purge_expired_sessions",
            "schedule": crontab(minute=17, hour=3),
        },
        "accounts-load-next-years-holidays": {
            "task": "accounts.tasks.load_next_years_holidays",
            "schedule": crontab(minute=37, hour=3, day_of_month=1, month_of_year="11,12"),
        },
        "accounts-purge-idempotency-keys": {
            "task": "accounts.tasks.purge_idempotency_keys",
            "schedule": crontab(minute=47),
        },
        "accounts-purge-old-login-attempts": {
            "task": "accounts.tasks.purge_old_login_attempts",
            "schedule": crontab(minute=27, hour=3),
        },
    },
)
app.autodiscover_tasks()

# Workers keep their database connections from one task to the next, as web processes do from
# one request to the next (CONN_MAX_AGE, CONN_HEALTH_CHECKS). Celery's Django fix-up otherwise
# closes them before and after every task, and opening one cost more than a message's whole
# send (benchmarks/outbox.py); it now recycles them every 1,000 tasks. Each task begins and ends
# as Django begins and ends a request: connections broken or older than CONN_MAX_AGE are closed,
# the others are checked before their first use in the task.
app.conf.update({"CELERY_DB_REUSE_MAX": 1000})


@signals.task_prerun.connect
@signals.task_postrun.connect
def _close_old_connections(sender=None, **kwargs):
    # An eager task runs inside its caller's request or test, whose connection is not ours.
    if getattr(getattr(sender, "request", None), "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()
