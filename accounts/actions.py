"""Writes on accounts and users."""

import secrets

from django.db import transaction
from django.utils import timezone, translation

from .forms import PasswordResetForm


def user_send_password_reset(*, user, domain, use_https=True):
    """Queues an e-mail with a one-time link to set a new password; the old one keeps working
    until the link is used. Sends nothing to users who cannot log in."""
    language = user.account.language if user.account else None
    form = PasswordResetForm(data={"email": user.email})
    form.is_valid()
    with translation.override(language):
        form.save(
            domain_override=domain,
            use_https=use_https,
            subject_template_name="registration/password_reset_subject.txt",
            email_template_name="registration/password_reset_email.txt",
        )


def driver_set_active(*, driver, active):
    """Activates or deactivates a driver; deactivating revokes every device they logged in with."""
    with transaction.atomic():
        driver.is_active = active
        driver.save(update_fields=["is_active"])
        if not active:
            driver_revoke_devices(driver=driver)
    return driver


def driver_revoke_devices(*, driver):
    """Revokes the driver's device tokens, so the app asks them to log in again. Idempotent."""
    return driver.devices.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())


def driver_reset_password(*, driver):
    """Gives the driver a new random password (returned once, stored hashed) and revokes their
    devices, so the old password and sessions stop working."""
    password = "-".join(secrets.token_hex(2) for _ in range(3))
    with transaction.atomic():
        driver.set_password(password)
        driver.save(update_fields=["password"])
        driver_revoke_devices(driver=driver)
    return password
