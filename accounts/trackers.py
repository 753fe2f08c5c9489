"""Tracker keys: what a driver's tracker app (OsmAnd protocol, e.g. Traccar Client) sends as its
device identifier instead of logging in.

A key is one of the driver's devices (a DriverDevice of kind "tracker", one live per driver): long
and random, shown once, stored as a SHA-256 hash like the app's device tokens, with only its
first characters kept in clear to recognise it. Since it is a device, whatever revokes the
driver's devices revokes it too: deactivating the driver, resetting the app password, "log out of
every device".
"""

import secrets

from django.db import transaction
from django.utils import timezone

from .devices import SEEN_RESOLUTION, hash_token
from .models import DeviceKind, Driver, DriverDevice

KEY_PREFIX = "tk_"
# How much of a key stays visible after it was shown (the prefix and 6 random characters).
SHOWN_LENGTH = len(KEY_PREFIX) + 6


def tracker_key_generate(*, driver):
    """Gives the driver a new tracker key, revoking the earlier one, and returns (device,
    raw_key); the raw key is not stored and cannot be shown again."""
    raw_key = KEY_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        # Two admins generating at once: the second waits, then revokes the first one's key.
        Driver.objects.select_for_update().filter(pk=driver.pk).first()
        tracker_key_revoke(driver=driver)
        device = DriverDevice.objects.create(
            driver=driver,
            kind=DeviceKind.TRACKER,
            device_id=raw_key[:SHOWN_LENGTH],
            token_hash=hash_token(raw_key),
        )
    return device, raw_key


def tracker_key_revoke(*, driver):
    """Revokes the driver's tracker key; returns how many keys were revoked (0 or 1).
    Idempotent."""
    return driver.devices.filter(kind=DeviceKind.TRACKER, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )


def tracker_key_current(driver):
    """The driver's live tracker key (a DriverDevice), or None."""
    return driver.devices.filter(kind=DeviceKind.TRACKER, revoked_at__isnull=True).first()


def tracker_authenticate(raw_key):
    """The live tracker key (with its driver) for raw_key, or None when it is unknown, revoked,
    or its driver or account is inactive. One query by the unique hash; records when the key and
    its driver were last seen, at most once a minute."""
    if not raw_key or not raw_key.startswith(KEY_PREFIX):
        return None
    device = (
        DriverDevice.objects.select_related("driver")
        .filter(
            token_hash=hash_token(raw_key),
            kind=DeviceKind.TRACKER,
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
