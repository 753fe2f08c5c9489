"""Driver app logins: a device token per phone (stored hashed, revocable), issued for the driver's
`<account slug>.<username>` and password, with repeated failures throttled.

Logging in again from the same device id revokes that device's earlier token, so a reinstall
leaves one live token per phone.
"""

import hashlib
import secrets
from datetime import timedelta

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from .models import DeviceKind, Driver, DriverDevice

TOKEN_PREFIX = "dt_"  # noqa: S105 (a prefix, not a secret)
# How often last_seen_at is written at most, so a phone sending positions every few seconds does
# not write the row on every call.
SEEN_RESOLUTION = timedelta(minutes=1)
# Failed logins allowed per login name and per address in the window before refusing for it.
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)


class Throttled(Exception):
    """Too many failed logins; retry after `retry_after` seconds."""

    def __init__(self, retry_after):
        super().__init__("Too many failed logins.")
        self.retry_after = retry_after


def hash_token(raw_token):
    return hashlib.sha256(raw_token.encode()).hexdigest()


def _failure_keys(login, address):
    # Hashed: a login may hold spaces or control characters no cache key may (memcached rules).
    name = hash_token(login.lower())
    return [f"driver-login:name:{name}", f"driver-login:addr:{hash_token(str(address))}"]


def _check_throttle(keys):
    if any((cache.get(key) or 0) >= MAX_FAILURES for key in keys):
        raise Throttled(int(FAILURE_WINDOW.total_seconds()))


def _record_failure(keys):
    for key in keys:
        if not cache.add(key, 1, timeout=FAILURE_WINDOW.total_seconds()):
            try:
                cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.add(key, 1, timeout=FAILURE_WINDOW.total_seconds())


def find_driver(login):
    """The active driver for `<account slug>.<username>` in an active account, or None."""
    slug, dot, username = (login or "").strip().partition(".")
    if not dot or not slug or not username:
        return None
    return (
        Driver.objects.select_related("account", "vehicle")
        .filter(
            account__slug=slug.lower(),
            account__is_active=True,
            username=username,
            is_active=True,
        )
        .first()
    )


def device_login(*, login, password, device_id, device_name="", address=""):
    """Returns (device, raw_token) for good credentials, None for bad ones; raises Throttled
    after MAX_FAILURES failures for the login name or the address within FAILURE_WINDOW."""
    keys = _failure_keys(login or "", address or "-")
    _check_throttle(keys)
    driver = find_driver(login)
    if driver is None or not driver.check_password(password or ""):
        _record_failure(keys)
        return None
    raw_token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = timezone.now()
    with transaction.atomic():
        driver.devices.filter(device_id=device_id, revoked_at__isnull=True).update(revoked_at=now)
        device = DriverDevice.objects.create(
            driver=driver,
            device_id=device_id,
            name=device_name,
            token_hash=hash_token(raw_token),
            last_seen_at=now,
        )
        Driver.objects.filter(pk=driver.pk).update(last_seen_at=now)
    cache.delete_many(keys[:1])
    return device, raw_token


def device_authenticate(raw_token):
    """The live device (with its driver, account and vehicle) for the token, or None. Records
    when the device and its driver were last seen."""
    if not raw_token or not raw_token.startswith(TOKEN_PREFIX):
        return None
    device = (
        DriverDevice.objects.select_related("driver__account", "driver__vehicle")
        .filter(
            token_hash=hash_token(raw_token),
            # A tracker key (accounts.trackers) only sends positions: never the driver API.
            kind=DeviceKind.APP,
            revoked_at__isnull=True,
            driver__is_active=True,
            driver__account__is_active=True,
        )
        .first()
    )
    if device is None:
        return None
    now = timezone.now()
    if device.last_seen_at is None or now - device.last_seen_at > SEEN_RESOLUTION:
        DriverDevice.objects.filter(pk=device.pk).update(last_seen_at=now)
        Driver.objects.filter(pk=device.driver_id).update(last_seen_at=now)
        device.last_seen_at = device.driver.last_seen_at = now
    return device


def device_revoke(*, device):
    """Revokes the device's token (logout). Idempotent."""
    if device.revoked_at is None:
        device.revoked_at = timezone.now()
        device.save(update_fields=["revoked_at"])
    return device
