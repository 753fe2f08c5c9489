"""Browser journeys on routes: an operator builds a route by picking services on the map, drags a
stop to another place, optimizes the route without a reload and prints the sheet; the map area
filter keeps a selection made outside it; and without Leaflet or SortableJS the pages still work."""

import re

import pytest

from accounts.models import Role
from routes.models import Route
from tests import factories as f
from tests.helpers import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# A line of addresses east of the branch, in São Paulo: the k-th is about k km from it.
BRANCH = (-23.55, -46.70)


def customer_order(page):
    return page.get_by_test_id("stop-customer").all_inner_texts()


def test_operator_builds_reorders_optimizes_and_prints_a_route(page, password):
    page.route("https://tile.openstreetmap.org/**", lambda route: route.abort())
    page.set_viewport_size({"width": 1280, "height": 1200})  # the whole list in view to drag
    account = f.AccountFactory(slug="acme-routes", name="Acme Entregas")
    operator = f.UserFactory(account=account, role=Role.OPERATOR, email="op@acme.test")
    branch = f.BranchFactory(account=account, name="Centro", lat=BRANCH[0], lng=BRANCH[1])
    vehicle = f.VehicleFactory(account=account, plate="ABC1D23", capacity_kg=500)
    driver = f.DriverFactory(
        account=account, branch=branch, vehicle=vehicle, first_name="Ana", last_name="Lima"
    )
    f.DriverFactory(account=account, first_name="Bruno", last_name="Alves")
    # Listed (and so routed) in the order they were registered: back and forth along the line.
    services = {
        k: f.ServiceFactory(
            account=account,
            customer=f.CustomerFactory(account=account, name=f"Customer {k}"),
            lat=BRANCH[0],
            lng=BRANCH[1] + 0.01 * k,
            deadline=None,
            weight_kg=10,
        )
        for k in (4, 1, 3, 2, 5)
    }
    f.PackageFactory(service=services[1], barcode="BOX-0001")

    log_in(page, operator.email, password)
    page.wait_for_url("**/")
    page.get_by_role("link", name="Routes", exact=True).first.click()
    page.wait_for_url("**/routes/")
    page.get_by_test_id("new-route").click()
    page.wait_for_url("**/routes/new/**")

    # Three services picked by their markers on the map, two in the list.
    for k in (4, 3, 5):
        page.locator(f'.candidate-pin[data-service="{services[k].pk}"]').click()
    for k in (4, 3, 5):
        assert page.locator(f"#candidate-{services[k].pk}").is_checked()
        assert "is-selected" in page.locator(
            f'.candidate-pin[data-service="{services[k].pk}"]'
        ).get_attribute("class")
    page.locator(f"#candidate-{services[1].pk}").check()
    page.locator(f"#candidate-{services[2].pk}").check()
    summary = page.get_by_test_id("selection-summary")
    assert re.search(r"5\s+selected\s+·\s+50 kg", summary.inner_text())
    # A marker clicked twice is unselected, then selected again.
    marker = page.locator(f'.candidate-pin[data-service="{services[5].pk}"]')
    marker.click()
    assert not page.locator(f"#candidate-{services[5].pk}").is_checked()
    marker.click()
    assert page.locator(f"#candidate-{services[5].pk}").is_checked()

    page.get_by_label("Driver").select_option(str(driver.pk))
    # The driver's own vehicle is chosen with the driver.
    assert page.get_by_label("Vehicle", exact=True).input_value() == str(vehicle.pk)
    page.get_by_test_id("build-route").click()
    page.wait_for_url(re.compile(r".*/routes/\d+/$"))
    route = Route.objects.get()
    assert page.get_by_text("Route created with 5 stops.").is_visible()
    assert customer_order(page) == [f"Customer {k}" for k in (4, 1, 3, 2, 5)]

    # Drag the first stop (Customer 4) by its handle below the fourth (Customer 2).
    page.evaluate("window.__stillTheSamePage = true")
    distance = page.get_by_test_id("plan-distance")
    before = distance.get_attribute("data-distance-m")
    handle = page.get_by_test_id("drag-handle").first.bounding_box()
    target = page.get_by_test_id("stop").nth(3).bounding_box()
    page.mouse.move(handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2)
    page.mouse.down()
    page.mouse.move(handle["x"] + 5, handle["y"] + 15, steps=5)
    # SortableJS checks where the pointer is every 50 ms: give it time before the drop.
    for fraction in (0.5, 0.8):
        page.mouse.move(
            target["x"] + target["width"] / 2, target["y"] + target["height"] * fraction, steps=10
        )
        page.wait_for_timeout(200)
    with page.expect_response(lambda response: "/reorder/" in response.url):
        page.mouse.up()
    # The server's plan replaces the list: new sequence, new distance.
    page.wait_for_function(
        "before => document.querySelector('[data-testid=plan-distance]')"
        ".dataset.distanceM !== before",
        arg=before,
    )
    expected = [f"Customer {k}" for k in (1, 3, 2, 4, 5)]
    assert customer_order(page) == expected
    assert (
        list(route.stops.order_by("sequence").values_list("service__customer__name", flat=True))
        == expected
    )
    assert [n.strip() for n in page.locator("[data-sequence]").all_inner_texts()] == [
        "1", "2", "3", "4", "5",
    ]  # fmt: skip

    # Optimize: the distance drops, and the page is the same page.
    before = int(distance.get_attribute("data-distance-m"))
    page.get_by_test_id("optimize").click()
    page.get_by_text("Optimized:").wait_for()
    after = int(page.get_by_test_id("plan-distance").get_attribute("data-distance-m"))
    assert after < before
    assert page.evaluate("window.__stillTheSamePage") is True
    assert customer_order(page) == [f"Customer {k}" for k in (1, 2, 3, 4, 5)]
    route.refresh_from_db()
    assert route.planned_distance_m == after
    # The map followed: five numbered stops and the start.
    assert page.locator(".stop-pin").count() == 5
    assert page.locator(".start-pin").count() == 1

    # The printable sheet lists every stop in the new order.
    page.goto(page.get_by_test_id("print-sheet").get_attribute("href"))
    rows = page.get_by_test_id("sheet-stop")
    assert rows.count() == 5
    assert "Customer 1" in rows.first.inner_text() and "BOX-0001" in rows.first.inner_text()
    assert "Customer 5" in rows.last.inner_text()
    assert page.get_by_test_id("print").is_visible()


def test_only_this_map_area_keeps_the_selection_outside_it(page, password):
    page.route("https://tile.openstreetmap.org/**", lambda route: route.abort())
    account = f.AccountFactory(slug="acme-area", name="Acme Entregas")
    operator = f.UserFactory(account=account, role=Role.OPERATOR, email="op@acme.test")
    # Three services in the middle of the map, one far north and one far south of them.
    near = [
        f.ServiceFactory(account=account, lat=BRANCH[0], lng=BRANCH[1] + 0.002 * k, deadline=None)
        for k in (-1, 0, 1)
    ]
    north, south = (
        f.ServiceFactory(account=account, lat=BRANCH[0] + offset, lng=BRANCH[1], deadline=None)
        for offset in (0.3, -0.3)
    )

    log_in(page, operator.email, password)
    page.wait_for_url("**/")
    page.goto("/routes/new/")
    page.locator(f'.candidate-pin[data-service="{north.pk}"]').click()
    for _ in range(3):  # zoom in on the middle
        page.locator(".leaflet-control-zoom-in").click()
        page.wait_for_timeout(400)
    page.get_by_test_id("area-apply").click()
    page.get_by_text("in the chosen map area").wait_for()
    assert "area=" in page.url
    listed = page.locator("#candidates [data-candidate]").evaluate_all(
        "rows => rows.map(row => Number(row.dataset.candidate))"
    )
    assert sorted(listed) == [service.pk for service in near]
    # The far service stays selected, posted with the route although it is not listed.
    page.locator(f'#carried-selection input[value="{north.pk}"]').wait_for(state="attached")
    summary = page.get_by_test_id("selection-summary").inner_text()
    assert re.search(r"1\s+selected", summary) and "not in the list shown" in summary
    page.get_by_test_id("area-clear").click()
    page.wait_for_function(
        "() => document.querySelectorAll('#candidates [data-candidate]').length === 5"
    )
    page.wait_for_function(f"() => document.getElementById('candidate-{north.pk}').checked")
    assert not page.locator(f"#candidate-{south.pk}").is_checked()
    assert page.locator("#carried-selection input").count() == 0


def test_without_leaflet_and_sortablejs_lists_and_arrows_still_work(page, password):
    """Blocked scripts (a strict proxy, a failed download) leave the pages usable."""
    page.route("**/vendor/leaflet/**", lambda route: route.abort())
    page.route("**/vendor/sortablejs/**", lambda route: route.abort())
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    account = f.AccountFactory(slug="acme-nomap", name="Acme Entregas")
    operator = f.UserFactory(account=account, role=Role.OPERATOR, email="op@acme.test")
    driver = f.DriverFactory(account=account, first_name="Ana", last_name="Lima")
    for name in ("First", "Second"):
        customer = f.CustomerFactory(account=account, name=name)
        f.ServiceFactory(account=account, customer=customer, deadline=None)

    log_in(page, operator.email, password)
    page.wait_for_url("**/")
    page.goto("/routes/new/")
    assert page.get_by_text("The map could not be loaded").is_visible()
    page.get_by_label("Select all the services listed").check()
    assert re.search(r"2\s+selected", page.get_by_test_id("selection-summary").inner_text())
    page.get_by_label("Driver").select_option(str(driver.pk))
    page.get_by_test_id("build-route").click()
    page.wait_for_url(re.compile(r".*/routes/\d+/$"))
    assert customer_order(page) == ["First", "Second"]
    page.get_by_role("button", name="Move Second up").click()
    page.wait_for_function(
        "() => document.querySelector('[data-testid=stop-customer]').textContent === 'Second'"
    )
    assert customer_order(page) == ["Second", "First"]
    # The keyboard stays on the moved stop's buttons.
    page.wait_for_function(
        "() => document.activeElement.getAttribute('aria-label') === 'Move Second down'"
    )
    assert not errors, errors
