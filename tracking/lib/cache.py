"""Django's Redis cache, failing soft: while Redis cannot be reached the cache behaves as an empty
one that keeps nothing (a read misses, a write is dropped, add() stores nothing and says so), so
a page or an API call that uses the cache still answers during a Redis outage.

Everything the app keeps in the cache can be lost (page copies, tracking snapshots, throttles
that decide how often to queue work, the driver-login failure counts, which do not count while
Redis is away). Without this, each cache call raised redis's ConnectionError and the pages that
read the cache answered 500 for as long as Redis was down (benchmarks/soak).
"""

import logging
import time

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

UNAVAILABLE = (RedisConnectionError, RedisTimeoutError)
# One warning per process this often while Redis stays away, not one per call.
REPORT_EVERY_S = 60


class FailSoftRedisCache(RedisCache):
    _reported_at = None

    def _soft(self, fallback, method, *args, **kwargs):
        try:
            return method(*args, **kwargs)
        except UNAVAILABLE as exc:
            now = time.monotonic()
            if self._reported_at is None or now - self._reported_at > REPORT_EVERY_S:
                self._reported_at = now
                logger.warning("cache unavailable, reads miss and writes are dropped: %s", exc)
            return fallback

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._soft(False, super().add, key, value, timeout, version)

    def get(self, key, default=None, version=None):
        return self._soft(default, super().get, key, default, version)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._soft(None, super().set, key, value, timeout, version)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._soft(False, super().touch, key, timeout, version)

    def delete(self, key, version=None):
        return self._soft(False, super().delete, key, version)

    def get_many(self, keys, version=None):
        return self._soft({}, super().get_many, keys, version)

    def has_key(self, key, version=None):
        return self._soft(False, super().has_key, key, version)

    def incr(self, key, delta=1, version=None):
        result = self._soft(None, super().incr, key, delta, version)
        if result is None:
            # What a missing key does: callers of incr() handle it (keys expire too).
            raise ValueError(f"Key '{key}' not found (the cache is unavailable).")
        return result

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        # The keys that could not be set: all of them.
        return self._soft(list(data), super().set_many, data, timeout, version)

    def delete_many(self, keys, version=None):
        return self._soft(None, super().delete_many, keys, version)

    def clear(self):
        return self._soft(False, super().clear)
