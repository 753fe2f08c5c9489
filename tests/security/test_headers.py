"""Security settings and headers: production mode (DJANGO_DEBUG=0 with a SECRET_KEY, loaded in a
fresh process as tests/test_settings.py does) gives https-only cookies, HSTS, the https redirect
and the browser-hardening headers; every page carries the Content-Security-Policy, and the
templates keep to what it allows (no inline script, no event-handler attributes)."""

import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings

from routes.views import MAP_TILES
from tests.test_settings import PRODUCTION, run

ROOT = Path(__file__).resolve().parent.parent.parent
ONE_YEAR = 365 * 24 * 60 * 60

PROBE = """
import json, django
from django.conf import settings
django.setup()
from django.test import Client
from django.test.utils import setup_test_environment
setup_test_environment()
# Pages render without collectstatic's manifest (its absence is not what is tested here).
settings.STORAGES = {**settings.STORAGES, "staticfiles": {
    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
client = Client(HTTP_HOST="tracking.example.com")
plain = client.get("/login/")
proxied = client.get("/login/", HTTP_X_FORWARDED_PROTO="https")
csrf_cookie = client.cookies.get("csrftoken")
print(json.dumps({
    "settings": {name: getattr(settings, name) for name in [
        "DEBUG", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY",
        "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_SSL_REDIRECT",
        "SECURE_PROXY_SSL_HEADER", "SECURE_CONTENT_TYPE_NOSNIFF", "SECURE_REFERRER_POLICY",
        "X_FRAME_OPTIONS",
    ]},
    "plain": {"status": plain.status_code, "location": plain.get("Location", "")},
    "proxied": {"status": proxied.status_code, "headers": dict(proxied.headers),
                "csrf_cookie_secure": bool(csrf_cookie and csrf_cookie["secure"])},
}, default=list))
"""


def production(**extra):
    env = {**PRODUCTION, "DATABASE_URL": "sqlite://:memory:", "REDIS_URL": "", **extra}
    result = run(PROBE, env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def prod():
    return production()


def test_production_cookies_are_https_only(prod):
    values = prod["settings"]
    assert values["DEBUG"] is False
    assert values["SESSION_COOKIE_SECURE"] is True
    assert values["CSRF_COOKIE_SECURE"] is True
    assert values["SESSION_COOKIE_HTTPONLY"] is True
    assert prod["proxied"]["csrf_cookie_secure"] is True  # as set on the login page


def test_production_sends_hsts_for_a_year_with_subdomains(prod):
    values = prod["settings"]
    assert values["SECURE_HSTS_SECONDS"] >= ONE_YEAR
    assert values["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    hsts = prod["proxied"]["headers"]["Strict-Transport-Security"]
    assert f"max-age={values['SECURE_HSTS_SECONDS']}" in hsts and "includeSubDomains" in hsts


def test_production_redirects_http_and_trusts_the_proxys_https_header(prod):
    assert prod["settings"]["SECURE_SSL_REDIRECT"] is True
    assert prod["settings"]["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert prod["plain"]["status"] == 301
    assert prod["plain"]["location"] == "https://tracking.example.com/login/"
    assert prod["proxied"]["status"] == 200


def test_no_proxy_header_is_trusted_when_none_is_named():
    values = production(SECURE_PROXY_SSL_HEADER="")
    assert values["settings"]["SECURE_PROXY_SSL_HEADER"] is None
    # The client's own X-Forwarded-Proto no longer makes a plain request count as https.
    assert values["proxied"]["status"] == 301


def test_production_hardening_headers(prod):
    headers = prod["proxied"]["headers"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]


# Content-Security-Policy --------------------------------------------------------------------------


def directives(header):
    policy = {}
    for part in header.split(";"):
        name, *sources = part.split()
        policy[name] = sources
    return policy


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/login/", "/admin/login/", "/t/unknown-token", "/healthz"])
def test_every_response_carries_the_policy(client, url):
    response = client.get(url)
    policy = directives(response["Content-Security-Policy"])
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]  # no inline script, no eval
    assert policy["connect-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]
    assert policy["form-action"] == ["'self'"]
    assert {"'self'", "data:", "blob:"} <= set(policy["img-src"])


def test_the_map_tiles_are_allowed_images():
    """The Leaflet maps' tile server (routes.views.MAP_TILES, and any tile URL written in a
    template) is in img-src: a new tile server needs its origin in MAP_TILE_ORIGINS."""
    img_src = settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]["img-src"]
    tile_urls = {MAP_TILES}
    for template in templates():
        tile_urls |= set(re.findall(r'data-tiles="(https?://[^"{]+)', template.read_text()))
    for url in tile_urls:
        parts = urlsplit(url)
        assert f"{parts.scheme}://{parts.netloc}" in img_src, url


def templates():
    folders = [ROOT / "templates", *ROOT.glob("*/templates")]
    return [path for folder in folders for path in folder.rglob("*.html")]


INLINE_SCRIPT = re.compile(
    r"<script\b(?![^>]*\bsrc=)(?![^>]*application/(?:ld\+)?json)[^>]*>", re.I
)
EVENT_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)
JS_URL = re.compile(r"""(?:href|src|action)\s*=\s*["']\s*javascript:""", re.I)


def test_templates_have_no_inline_script_or_event_handler_attributes():
    """script-src 'self' blocks them: behaviour goes in static/js (data-* attributes for values,
    json_script for data)."""
    found = []
    for path in templates():
        text = path.read_text()
        for pattern in (INLINE_SCRIPT, EVENT_HANDLER, JS_URL):
            where = path.relative_to(ROOT)
            found += [f"{where}: {match.group(0)[:80]}" for match in pattern.finditer(text)]
    assert not found, "\n".join(found)
