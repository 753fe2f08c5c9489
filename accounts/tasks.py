"""Background jobs of the accounts app: e-mail sending and housekeeping."""

import smtplib
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.core import mail, management
from django.utils import timezone


@shared_task(
    acks_late=True,
    autoretry_for=(smtplib.SMTPException, ConnectionError, TimeoutError),
    retry_backoff=True,
    retry_kwargs={"max_retries": 5},
)
def send_email(*, subject, body, to, from_email=None, html=None):
    """Sends one e-mail through Django's configured backend."""
    message = mail.EmailMultiAlternatives(
        subject=subject, body=body, from_email=from_email or settings.DEFAULT_FROM_EMAIL, to=to
    )
    if html:
        message.attach_alternative(html, "text/html")
    message.send()


@shared_task
def purge_expired_sessions():
    """Deletes expired login sessions."""
    management.call_command("clearsessions")


@shared_task
def purge_old_login_attempts(days=90):
    """Deletes login attempt records older than the given number of days."""
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog

    cutoff = timezone.now() - timedelta(days=days)
    AccessAttempt.objects.filter(attempt_time__lt=cutoff).delete()
    AccessFailureLog.objects.filter(attempt_time__lt=cutoff).delete()
    AccessLog.objects.filter(attempt_time__lt=cutoff).delete()


@shared_task
def load_next_years_holidays():
    """Loads next year's national holidays into every active account (idempotent)."""
    from .defaults import holidays_load
    from .models import Account

    for account in Account.objects.filter(is_active=True):
        holidays_load(account=account, years=[account.today().year + 1])


@shared_task
def purge_idempotency_keys():
    """Deletes stored API responses kept for retries once they are two days old."""
    from .idempotency import purge_idempotency_keys as purge

    return purge()
