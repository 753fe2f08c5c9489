"""Serves the driver app's shell, manifest and service worker from /driver/, so the worker's scope
is the app. The app itself is static files (routes/static/driver_app/) that speak only to the
public driver API; these views carry no data, only where the files are."""

import hashlib
import json
from functools import cache
from pathlib import Path

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_safe

APP_STATIC = Path(__file__).resolve().parent / "static"
TEMPLATES = Path(settings.BASE_DIR) / "templates" / "driver_app"
# The libraries the app imports from static/vendor/ (copied there by bin/vendor-static).
VENDOR = ["vendor/idb/idb.js", "vendor/signature_pad/signature_pad.min.js"]
THEME_COLOR = "#000000"


def _app_files():
    """The app's static files, as paths under STATIC_URL."""
    return sorted(
        path.relative_to(APP_STATIC).as_posix()
        for path in (APP_STATIC / "driver_app").rglob("*")
        if path.is_file()
    )


def _static_prefix():
    # Unhashed URLs on purpose: the ES modules import each other by relative names, which the
    # manifest storage does not rewrite, so the shell and the worker must ask for the same names.
    return settings.STATIC_URL


def _version(files):
    """A digest of everything the worker caches: a deploy that changes any of it changes the
    worker's bytes, so phones install the new worker and cache the new files."""
    digest = hashlib.sha256()
    sources = [APP_STATIC / name for name in files if name.startswith("driver_app/")]
    sources += [Path(settings.BASE_DIR) / "static" / name for name in VENDOR]
    sources += sorted(TEMPLATES.iterdir())
    for source in sources:
        digest.update(source.name.encode())
        if source.is_file():
            digest.update(source.read_bytes())
    return digest.hexdigest()[:16]


@cache
def _cached_worker_context():
    return _worker_context()


def _worker_context():
    files = _app_files()
    prefix = _static_prefix()
    return {
        "version": _version(files),
        "assets": [prefix + name for name in files + VENDOR],
    }


@require_safe
def shell(request):
    """The app's one page: loads the stylesheet and the app's module, nothing else."""
    response = render(
        request,
        "driver_app/index.html",
        {"static_prefix": _static_prefix(), "theme_color": THEME_COLOR},
    )
    response["Cache-Control"] = "no-cache"
    return response


@require_safe
def manifest(request):
    """The web app manifest that lets a phone install the app on its home screen."""
    prefix = _static_prefix()
    start = reverse("driver_app:shell")
    icons = [
        {"src": f"{prefix}driver_app/icons/icon-{size}.png", "sizes": f"{size}x{size}"}
        for size in (192, 512)
    ]
    icons.append(
        {
            "src": f"{prefix}driver_app/icons/maskable-512.png",
            "sizes": "512x512",
            "purpose": "maskable",
        }
    )
    for icon in icons:
        icon["type"] = "image/png"
    data = {
        "id": start,
        "name": "Last Mile Driver",
        "short_name": "Driver",
        "start_url": start,
        "scope": start,
        "display": "standalone",
        "orientation": "portrait",
        "background_color": "#ffffff",
        "theme_color": THEME_COLOR,
        "icons": icons,
    }
    return JsonResponse(data, content_type="application/manifest+json")


@require_safe
def service_worker(request):
    """The worker that caches the shell and the app's files, served from the app's URL so its
    scope is the app."""
    worker = _worker_context() if settings.DEBUG else _cached_worker_context()
    context = {
        "version": worker["version"],
        "assets_json": json.dumps(worker["assets"]),
        "shell_url": reverse("driver_app:shell"),
    }
    response = render(
        request, "driver_app/sw.js", context, content_type="text/javascript; charset=utf-8"
    )
    response["Service-Worker-Allowed"] = context["shell_url"]
    # Browsers check the worker for updates on each visit; never let a cache answer for it.
    response["Cache-Control"] = "no-cache"
    return response
