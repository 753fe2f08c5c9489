"""The Content-Security-Policy in a real browser: every kind of page (maps, charts, htmx,
SortableJS, the admin with its e-mail preview, the API docs, the customers' page, the driver app)
loads with its scripts running and without one "Refused to ..." in the console.

The journeys themselves (dragging stops, previews, charts drawn) are the other browser tests'
business; this one only listens for what the policy blocked."""

import base64

import pytest
from django.urls import reverse

from accounts.models import Agency, Role
from accounts.notification_defaults import agency_create_default_templates
from routes import actions as route_actions
from routes.models import Route, StopStatus
from services.actions import Actor
from services.models import Service
from tests.factories import PASSWORD
from tests.helpers import log_in
from tests.security import world

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# A one-pixel transparent PNG served for every map tile (no network; img-src still decides).
TILE = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)
# Pages and the element that shows their script ran (a map, a chart, a widget built by JS).
PAGES = {
    "home": ("/", None),
    "services": ("/services/", None),
    "service with map": ("service", ".leaflet-container"),
    "route builder": ("/routes/new/", ".leaflet-container"),
    "route with map and sortable": ("route", ".leaflet-container"),
    "route sheet": ("sheet", None),
    "tracking": ("/routes/tracking/", ".leaflet-container"),
    "chat": ("chat", None),
    "schedule": ("/schedule/", None),
    "report with chart": ("/reports/deliveries/", "canvas"),
    "import": ("/services/import/", None),
    "admin list": ("/admin/accounts/customer/", None),
    "admin agency with preview": ("agency", ".agency-preview-button"),
    "api docs": ("/api/v1/docs", ".swagger-ui"),
    "driver app": ("/driver/", None),
}


@pytest.fixture
def listened(page):
    """The page, recording CSP violations (console and DOM events) and script errors."""
    page.context.route(
        "https://tile.openstreetmap.org/**",
        lambda route: route.fulfill(status=200, content_type="image/png", body=TILE),
    )
    page.blocked = []
    page.on(
        "console",
        lambda message: (
            page.blocked.append(message.text)
            if "Content Security Policy" in message.text or "Refused to" in message.text
            else None
        ),
    )
    page.on("pageerror", lambda error: page.blocked.append(f"script error: {error}"))
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', (event) => console.error("
        "'Refused to ' + event.violatedDirective + ' ' + event.blockedURI));"
    )
    return page


@pytest.fixture
def site(live_server):
    ours = world.build("csp", "Ours")
    stop = ours.objects[Service].stops.get()
    route_actions.stop_change_status(
        stop=stop, to_status=StopStatus.IN_PROGRESS, actor=Actor.for_driver(stop.route.driver)
    )
    agency = ours.objects[Agency]
    agency_create_default_templates(agency=agency, language="en")
    route = ours.objects[Route]
    return {
        "manager": ours.users[Role.MANAGER],
        "service": reverse("services:detail", args=[stop.service_id]),
        "route": reverse("routes:detail", args=[route.pk]),
        "sheet": reverse("routes:sheet", args=[route.pk]),
        "chat": reverse("routes:chat_conversation", args=[route.conversations.get().pk]),
        "agency": reverse("admin:accounts_agency_change", args=[agency.pk]),
        "lastmile": f"/t/{stop.service.tracking_token}",
    }


def visit(page, url, ready):
    response = page.goto(url)
    assert response.status == 200, url
    page.wait_for_load_state("load")
    if ready:
        page.wait_for_selector(ready, state="attached")
    page.wait_for_timeout(300)  # deferred scripts and the first htmx swaps


def test_no_page_is_refused_anything_by_the_policy(listened, site):
    page = listened
    log_in(page, site["manager"].email, PASSWORD)
    page.wait_for_url("**/")
    for name, (path, ready) in PAGES.items():
        url = site.get(path, path)
        visit(page, url, ready)
        if name == "admin agency with preview":
            page.locator(".agency-preview-button").first.click()
            page.wait_for_selector("[data-testid=preview-email-html]", state="attached")
            page.wait_for_timeout(300)
        assert not page.blocked, f"{name} ({url}): {page.blocked}"
    # The customers' page, as a customer: no session.
    page.context.clear_cookies()
    visit(page, site["lastmile"], "#lm-map.leaflet-container")
    assert not page.blocked, f"Last Mile page: {page.blocked}"
