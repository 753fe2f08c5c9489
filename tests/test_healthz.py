import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_healthz_without_a_broker_reports_database_and_cache(client, settings):
    settings.REDIS_URL = ""
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["cache"]["ok"] is True
    assert set(body["checks"]) == {"database", "cache"}


def test_healthz_is_503_when_the_cache_is_down(client, settings):
    # A Redis that nothing listens on.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",
        }
    }
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["checks"]["cache"]["ok"] is False
    assert body["checks"]["database"]["ok"] is True


def test_healthz_is_503_when_the_broker_is_down(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:9/0"
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:9/0"
    from tracking.celery import app

    app.conf.broker_url = "redis://127.0.0.1:9/0"
    try:
        response = client.get(reverse("healthz"))
    finally:
        app.conf.broker_url = None
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["broker"]["ok"] is False
    assert checks["worker"]["ok"] is False


@pytest.mark.redis
def test_healthz_sees_a_real_worker(client, celery_worker):
    response = client.get(reverse("healthz"))
    assert response.status_code == 200, response.json()
    assert response.json()["checks"]["worker"]["ok"] is True
