"""With Redis down the cache is an empty one that keeps nothing, so pages and API calls keep
answering (found by the soak: during a Redis outage every Last Mile page answered 500)."""

import socket
import time
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import DriverFactory, ServiceFactory
from tests.routes.test_positions import Phone, point
from tracking.lib.cache import FailSoftRedisCache

pytestmark = pytest.mark.django_db


def _closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _down(**options):
    return {
        "BACKEND": "tracking.lib.cache.FailSoftRedisCache",
        "LOCATION": f"redis://127.0.0.1:{_closed_port()}/0",
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 1.0, **options},
    }


@pytest.fixture
def redis_down(settings):
    settings.CACHES = {"default": _down()}


def test_an_unreachable_cache_misses_and_keeps_nothing():
    down = _down()
    backend = FailSoftRedisCache(down["LOCATION"], {"OPTIONS": down["OPTIONS"]})
    started = time.monotonic()
    assert backend.get("k", "default") == "default"
    assert backend.get_many(["k", "j"]) == {}
    assert backend.has_key("k") is False
    assert backend.add("k", 1, 30) is False
    backend.set("k", 1, 30)
    backend.set("forever", 1, None)
    assert backend.set_many({"k": 1, "j": 2}) == ["k", "j"]
    assert backend.touch("k") is False
    assert backend.delete("k") is False
    backend.delete_many(["k", "j"])
    assert backend.get_or_set("k", "computed") == "computed"
    with pytest.raises(ValueError, match="not found"):
        backend.incr("k")
    assert time.monotonic() - started < 2


def test_the_last_mile_page_answers_with_redis_down(client, account_a, redis_down):
    service = ServiceFactory(account=account_a)
    url = reverse("lastmile:page", args=[service.tracking_token])
    assert client.get(url).status_code == 200
    assert client.get(url).status_code == 200
    assert client.get(f"{url}/live").status_code == 200


def test_positions_are_stored_with_redis_down(client, account_a, redis_down):
    driver = DriverFactory(account=account_a, username="ana")
    phone = Phone(client, driver)
    now = timezone.now().replace(microsecond=0)
    response = phone.send([point(now - timedelta(seconds=10)), point(now)])
    assert response.status_code == 200
    assert response.json()["accepted"] == 2


def test_healthz_still_says_the_cache_is_down(client, redis_down):
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    assert response.json()["checks"]["cache"]["ok"] is False
