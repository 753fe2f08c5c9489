"""Integration API keys: created (the key is shown once), checked by hash, revoked."""

import hashlib
import secrets
from datetime import timedelta

from django.utils import timezone

from .models import ApiKey

KEY_PREFIX = "lm_"
# How often last_used_at is written at most, so a busy integration does not write on every call.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_key(raw_key):
    return hashlib.sha256(raw_key.encode()).hexdigest()


def api_key_create(*, account, name, created_by=None):
    """Creates a key and returns (api_key, raw_key); the raw key is not stored and cannot be
    shown again."""
    raw_key = KEY_PREFIX + secrets.token_urlsafe(32)
    api_key = ApiKey.objects.create(
        account=account,
        name=name,
        prefix=raw_key[: len(KEY_PREFIX) + 6],
        key_hash=hash_key(raw_key),
        created_by=created_by,
    )
    return api_key, raw_key


def api_key_authenticate(raw_key):
    """The active key (with its account) for raw_key, or None. Records when it was last used."""
    if not raw_key or not raw_key.startswith(KEY_PREFIX):
        return None
    api_key = (
        ApiKey.objects.select_related("account")
        .filter(key_hash=hash_key(raw_key), revoked_at__isnull=True, account__is_active=True)
        .first()
    )
    if api_key is None:
        return None
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at > LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
    return api_key


def api_key_revoke(*, api_key):
    """Revokes the key; calls with it fail from now on. Idempotent."""
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
    return api_key
