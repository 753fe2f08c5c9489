"""The driver app's shell, manifest and service worker: served from /driver/ without data or
inline scripts, the worker scoped to the app and listing every file it caches."""

import json
import re
from pathlib import Path

import pytest
from django.test import Client

from routes import driver_app_views

pytestmark = pytest.mark.django_db

APP_STATIC = Path(driver_app_views.__file__).resolve().parent / "static"


@pytest.fixture
def anonymous():
    return Client()


def test_the_shell_is_one_page_with_no_inline_script_or_handler(anonymous):
    response = anonymous.get("/driver/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert response["Cache-Control"] == "no-cache"
    html = response.content.decode()
    # Content-Security-Policy `script-src 'self'`: every script is a file, no handler attributes.
    scripts = re.findall(r"<script\b[^>]*>(.*?)</script>", html, flags=re.S)
    assert scripts == [""]
    assert '<script type="module" src="/static/driver_app/js/app.js">' in html
    assert not re.search(r"\son[a-z]+\s*=", html)
    assert 'style="' not in html
    assert 'href="/driver/manifest.webmanifest"' in html
    assert 'data-api="/api/driver/v1/"' in html
    assert 'data-worker="/driver/sw.js"' in html


def test_the_shell_sets_no_session_cookie(anonymous):
    response = anonymous.get("/driver/")
    assert not response.cookies


def test_the_manifest_makes_the_app_installable(anonymous):
    response = anonymous.get("/driver/manifest.webmanifest")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/manifest+json"
    manifest = json.loads(response.content)
    assert manifest["start_url"] == "/driver/"
    assert manifest["scope"] == "/driver/"
    assert manifest["display"] == "standalone"
    sizes = {icon["sizes"] for icon in manifest["icons"]}
    assert {"192x192", "512x512"} <= sizes
    assert any(icon.get("purpose") == "maskable" for icon in manifest["icons"])
    for icon in manifest["icons"]:
        path = icon["src"].removeprefix("/static/")
        assert (APP_STATIC / path).is_file(), icon["src"]


def test_the_worker_is_javascript_scoped_to_the_app(anonymous):
    response = anonymous.get("/driver/sw.js")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/javascript; charset=utf-8"
    assert response["Service-Worker-Allowed"] == "/driver/"
    assert response["Cache-Control"] == "no-cache"
    assert not response.cookies


def worker_assets(client):
    body = client.get("/driver/sw.js").content.decode()
    assets = json.loads(re.search(r"^const ASSETS = (.*);$", body, flags=re.M).group(1))
    version = re.search(r'^const VERSION = "([0-9a-f]+)";$', body, flags=re.M).group(1)
    return assets, version


def test_the_worker_caches_every_file_of_the_app_and_its_libraries(anonymous):
    assets, _version = worker_assets(anonymous)
    app_files = {
        "/static/" + path.relative_to(APP_STATIC).as_posix()
        for path in (APP_STATIC / "driver_app").rglob("*")
        if path.is_file()
    }
    assert app_files <= set(assets)
    assert "/static/driver_app/js/app.js" in assets
    assert "/static/driver_app/i18n/pt-BR.json" in assets
    assert "/static/vendor/signature_pad/signature_pad.min.js" in assets
    assert "/static/vendor/idb/idb.js" in assets


def test_every_file_the_worker_caches_is_served(anonymous, live_server):
    import urllib.request

    assets, _version = worker_assets(anonymous)
    for asset in assets:
        with urllib.request.urlopen(live_server.url + asset) as response:  # noqa: S310 (local)
            assert response.status == 200, asset


def test_the_worker_changes_when_a_file_of_the_app_changes(anonymous, monkeypatch, tmp_path):
    _assets, version = worker_assets(anonymous)
    changed = tmp_path / "static"
    (changed / "driver_app").mkdir(parents=True)
    (changed / "driver_app" / "app.css").write_text("body { color: black; }")
    monkeypatch.setattr(driver_app_views, "APP_STATIC", changed)
    uncached = driver_app_views._worker_context
    monkeypatch.setattr(driver_app_views, "_cached_worker_context", uncached)
    _assets, new_version = worker_assets(anonymous)
    assert new_version != version


@pytest.mark.parametrize("url", ["/driver/", "/driver/manifest.webmanifest", "/driver/sw.js"])
def test_only_get_is_answered(anonymous, url):
    assert anonymous.post(url).status_code == 405
