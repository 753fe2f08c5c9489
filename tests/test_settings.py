"""Settings come from the environment: embedded defaults, services by URL, safe production."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION = {
    "DJANGO_DEBUG": "0",
    "SECRET_KEY": "k3y-" + "x9Qm2vT7pL4rZ8sW1nB6cF3hJ5dK0gY2aE7uR4iO9wN1" * 2,
    "ALLOWED_HOSTS": "tracking.example.com",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/test",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
}
PROBE = """
import json, django
from django.conf import settings
django.setup()
db = settings.DATABASES["default"]
print(json.dumps({
    "debug": settings.DEBUG,
    "engine": db["ENGINE"], "conn_max_age": db["CONN_MAX_AGE"],
    "cache": settings.CACHES["default"]["BACKEND"],
    "eager": settings.CELERY_TASK_ALWAYS_EAGER, "broker": settings.CELERY_BROKER_URL,
    "email": settings.EMAIL_BACKEND, "sms": settings.SMS_BACKEND,
    "media": str(settings.MEDIA_ROOT),
}))
"""


def run(code_or_args, env, **kwargs):
    """Runs Python in a fresh process with only the given environment (no .env file effects)."""
    clean = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "tracking.settings",
        "DJANGO_READ_DOT_ENV": "0",
        **env,
    }
    args = ["-c", code_or_args] if isinstance(code_or_args, str) else code_or_args
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
        **kwargs,
    )


def probe(env):
    result = run(PROBE, env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_no_environment_means_the_embedded_defaults():
    settings = probe({})
    assert settings["debug"] is True
    assert settings["engine"] == "django.db.backends.sqlite3"
    assert settings["cache"].endswith("LocMemCache")
    assert settings["eager"] is True
    assert settings["email"] == "django.core.mail.backends.console.EmailBackend"
    assert settings["sms"] == "tracking.lib.sms.ConsoleBackend"
    assert settings["media"].endswith("media")


def test_database_url_selects_postgresql_with_persistent_connections():
    settings = probe({"DATABASE_URL": "postgres://u:p@db.example:5432/tracking"})
    assert settings["engine"] == "django.db.backends.postgresql"
    assert settings["conn_max_age"] == 60


def test_redis_url_turns_on_the_broker_and_the_cache():
    settings = probe({"REDIS_URL": "redis://cache.example:6379/0"})
    # Django's Redis cache, failing soft (tracking.lib.cache).
    assert settings["cache"] == "tracking.lib.cache.FailSoftRedisCache"
    assert settings["broker"] == "redis://cache.example:6379/0"
    assert settings["eager"] is False


def test_production_without_a_secret_key_refuses_to_start_with_a_clear_message():
    result = run(["manage.py", "check"], {"DJANGO_DEBUG": "0"})
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_check_deploy_is_clean_with_production_values():
    result = run(["manage.py", "check", "--deploy", "--fail-level", "DEBUG"], PRODUCTION)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "System check identified no issues" in result.stdout


def test_every_setting_read_from_the_environment_is_documented():
    import re

    source = (ROOT / "tracking" / "settings.py").read_text()
    read = set(re.findall(r'env(?:\.\w+)?\(\s*"([A-Z0-9_]+)"', source))
    documented = set(re.findall(r"^#?\s*([A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))
    assert read, "no settings found"
    assert read <= documented, sorted(read - documented)
