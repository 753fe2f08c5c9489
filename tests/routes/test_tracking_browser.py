"""Browser journey on live tracking: an operator watches the day while a driver works through
the real driver API; the driver's marker moves, a stop changes colour and the list follows, all
without reloading; then the operator opens the route's page."""

import re
from datetime import time, timedelta

import pytest
import requests
from django.utils import timezone

from accounts.devices import device_login
from accounts.models import Role
from routes import actions, tracking_views
from services.actions import Actor
from tests import factories as f
from tests.helpers import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BRANCH = (-23.55, -46.70)
DONE_FILL = "rgb(25, 135, 84)"  # --stop-done in routes.css


class Phone:
    """The driver's phone: real HTTP requests to the live server's driver API."""

    def __init__(self, base_url, driver, password):
        _device, token = device_login(login=driver.login, password=password, device_id="phone-1")
        self.base = f"{base_url}/api/driver/v1"
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def post(self, path, data):
        response = self.session.post(self.base + path, json=data, timeout=10)
        assert response.status_code == 200, (path, response.status_code, response.text)
        return response.json()

    def step(self, path, point=None, ago_s=0):
        data = {"recorded_at": (timezone.now() - timedelta(seconds=ago_s)).isoformat()}
        if point:
            data.update(lat=point[0], lng=point[1])
        return self.post(path, data)

    def send(self, point, battery, ago_s):
        recorded_at = (timezone.now() - timedelta(seconds=ago_s)).isoformat()
        body = {"positions": [{"recorded_at": recorded_at, "lat": point[0], "lng": point[1],
                               "accuracy_m": 5, "battery_pct": battery}]}  # fmt: skip
        assert self.post("/positions", body)["accepted"] == 1


def marker_at(page, driver_id, point):
    """Waits until the driver's marker stands at point (its data attributes and Leaflet's)."""
    page.wait_for_function(
        """([id, lat, lng]) => {
            const el = document.querySelector(`.driver-marker[data-driver="${id}"]`);
            return el && Number(el.dataset.lat) === lat && Number(el.dataset.lng) === lng;
        }""",
        arg=[driver_id, point[0], point[1]],
    )


def test_operator_watches_a_driver_move_and_deliver_without_reloading(
    page, live_server, password, monkeypatch
):
    monkeypatch.setattr(tracking_views, "POLL_S", 1)  # the page asks every second
    page.route("https://tile.openstreetmap.org/**", lambda route: route.abort())
    account = f.AccountFactory(slug="acme-live", name="Acme Entregas")
    operator = f.UserFactory(account=account, role=Role.OPERATOR, email="op@acme.test")
    branch = f.BranchFactory(account=account, name="Centro", lat=BRANCH[0], lng=BRANCH[1])
    driver = f.DriverFactory(account=account, branch=branch, first_name="Ana", last_name="Lima")
    services = [
        f.ServiceFactory(
            account=account,
            customer=f.CustomerFactory(account=account, name=f"Customer {k}"),
            lat=BRANCH[0],
            lng=BRANCH[1] + 0.01 * k,
            deadline=timezone.now() + timedelta(hours=6),
        )
        for k in (1, 2)
    ]
    route = actions.route_create(
        account=account,
        actor=Actor.system(),
        driver=driver,
        vehicle=driver.vehicle,
        day=account.today(),
        services=services,
        branch=branch,
        departure_time=time(0, 0),
    )
    first, second = route.stops.order_by("sequence")
    phone = Phone(live_server.url, driver, password)
    phone.step(f"/routes/{route.pk}/start", BRANCH, ago_s=300)

    log_in(page, operator.email, password)
    page.wait_for_url("**/")
    page.get_by_role("link", name="Tracking", exact=True).click()
    page.wait_for_url("**/routes/tracking/")
    page.locator("[data-tracking][data-ready]").wait_for(state="attached")
    page.evaluate("window.__stillTheSamePage = true")
    row = page.locator(f'[data-testid="tracking-route"][data-route="{route.pk}"]')
    assert "Ana Lima" in row.inner_text()
    assert "0 done · 0 failed · 2 left" in row.inner_text()
    stop_dot = page.locator(f'.stop-dot[data-stop="{first.pk}"]')
    assert stop_dot.get_attribute("data-status") == "pending"

    # The driver sends a position: the marker appears there; then another (a minute later, at
    # a speed the server believes): it moves.
    start = (BRANCH[0], BRANCH[1] + 0.002)
    phone.send(start, battery=81, ago_s=120)
    marker_at(page, driver.pk, start)
    marker = page.locator(f'.driver-marker[data-driver="{driver.pk}"]')
    assert "Ana Lima" in marker.inner_text()
    assert "is-stale" not in marker.get_attribute("class")
    row.get_by_text("81%").wait_for()
    assert "Online" in row.inner_text()
    moved = (BRANCH[0], BRANCH[1] + 0.008)
    phone.send(moved, battery=80, ago_s=60)
    marker_at(page, driver.pk, moved)

    # The driver drives to the first stop and delivers: its dot turns green, the row counts it.
    phone.step(f"/stops/{first.pk}/start", moved)
    page.wait_for_function(
        "id => document.querySelector(`.stop-dot[data-stop='${id}']`)"
        "?.dataset.status === 'in_progress'",
        arg=first.pk,
    )
    phone.step(f"/stops/{first.pk}/arrive", (services[0].lat, services[0].lng))
    phone.post(
        f"/stops/{first.pk}/complete",
        {"recorded_at": timezone.now().isoformat(), "receiver_name": "Maria"},
    )
    page.wait_for_function(
        "id => document.querySelector(`.stop-dot[data-stop='${id}']`)?.dataset.status === 'done'",
        arg=first.pk,
    )
    fill = stop_dot.evaluate("element => getComputedStyle(element).fill")
    assert fill == DONE_FILL
    assert page.locator(f'.stop-dot[data-stop="{second.pk}"]').evaluate(
        "element => getComputedStyle(element).fill"
    ) != DONE_FILL  # fmt: skip
    page.wait_for_function(
        "id => document.querySelector(`[data-route='${id}'] [data-field=stops]`)"
        ".textContent.startsWith('1 done')",
        arg=route.pk,
    )

    # Selecting the route draws the path travelled so far.
    row.click(position={"x": 5, "y": 5})
    assert "is-selected" in row.get_attribute("class")
    page.wait_for_function(
        "() => Number(document.querySelector('.track-line')?.dataset.points) >= 2"
    )
    assert page.evaluate("window.__stillTheSamePage") is True  # never reloaded

    # The driver's name opens the route's page.
    row.get_by_role("link", name="Ana Lima").click()
    page.wait_for_url(re.compile(rf".*/routes/{route.pk}/$"))
    assert page.get_by_test_id("route-title").inner_text() == "Ana Lima"


def test_the_page_works_on_a_phone_with_the_list_below_the_map(page, live_server, password):
    page.route("https://tile.openstreetmap.org/**", lambda route: route.abort())
    page.set_viewport_size({"width": 390, "height": 844})
    account = f.AccountFactory(slug="acme-phone")
    operator = f.UserFactory(account=account, role=Role.OPERATOR, email="op@phone.test")
    driver = f.DriverFactory(account=account, first_name="Bia", last_name="Souza")
    service = f.ServiceFactory(account=account, lat=BRANCH[0], lng=BRANCH[1], deadline=None)
    actions.route_create(
        account=account,
        actor=Actor.system(),
        driver=driver,
        vehicle=driver.vehicle,
        day=account.today(),
        services=[service],
    )
    log_in(page, operator.email, password)
    page.wait_for_url("**/")
    page.goto("/routes/tracking/")
    page.locator("[data-tracking][data-ready]").wait_for(state="attached")
    map_box = page.locator("#tracking-map").bounding_box()
    row_box = page.get_by_test_id("tracking-route").first.bounding_box()
    assert row_box["y"] >= map_box["y"] + map_box["height"]  # the list is below the map
    assert row_box["width"] <= 390
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scroll
