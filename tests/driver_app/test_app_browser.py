"""Browser journeys of the driver app on a phone (360 x 740, a fixed position): logging in, the
route and its stops, completing one with a signature, a photo and a label the server decodes,
failing another with a reason, the chat with support; and a stop completed offline, the page
reloaded from the service worker, sent once when the network is back with every GPS point."""

import time
from datetime import datetime

import pytest
from django.core.cache import cache
from django.db import OperationalError
from playwright.sync_api import expect

from accounts.models import Account, DriverDevice, Role
from routes.chat import message_send
from routes.models import (
    Evidence,
    EvidenceKind,
    Message,
    MessageAuthor,
    Position,
    RouteStatus,
    Stop,
    StopStatus,
)
from services.models import ServiceEvent, ServiceStatus
from tests import factories as f
from tests.factories import PASSWORD
from tests.routes.test_driver_api import build
from tests.routes.test_evidence import code128_label, noisy_photo, photographed

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 360, "height": 740}
HERE = {"latitude": -23.5614, "longitude": -46.6559, "accuracy": 8}


@pytest.fixture(autouse=True)
def _media_and_throttle(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def phone(browser, live_server):
    """A phone-sized page with its location allowed and fixed; its console errors are kept."""
    context = browser.new_context(
        base_url=live_server.url,
        viewport=PHONE,
        is_mobile=True,
        has_touch=True,
        locale="en-US",
        geolocation=HERE,
        permissions=["geolocation"],
    )
    # Script errors and anything the site's Content-Security-Policy refused fail the test.
    context.add_init_script(
        "document.addEventListener('securitypolicyviolation', (event) => console.error("
        "'Refused to ' + event.violatedDirective + ' ' + event.blockedURI));"
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.on(
        "console",
        lambda message: (
            page.errors.append(message.text)
            if "Content Security Policy" in message.text or "Refused to" in message.text
            else None
        ),
    )
    yield page
    context.close()


@pytest.fixture
def crew():
    """An account whose driver Ana has today's route of three stops (one package each) and the
    account's failure reasons; positions are batched every 2 seconds."""
    account = f.AccountFactory(slug="acme-app", name="Acme Entregas")
    Account.objects.filter(pk=account.pk).update(position_interval_s=2)
    account.refresh_from_db()
    driver = f.DriverFactory(account=account, username="ana", first_name="Ana", last_name="Lima")
    route = build(driver, count=3)
    absent = f.FailureReasonFactory(account=account, description="Customer absent")
    refused = f.FailureReasonFactory(
        account=account, description="Address not found", opens_chat=True
    )
    operator = f.UserFactory(account=account, role=Role.OPERATOR, email="op@acme.test")

    class Crew:
        pass

    crew = Crew()
    crew.account, crew.driver, crew.route, crew.operator = account, driver, route, operator
    crew.absent, crew.refused = absent, refused
    crew.stops = list(route.stops.order_by("sequence").select_related("service__customer"))
    return crew


def wait_for(check, timeout=15, message="condition"):
    """Polls the database (the live server writes in its own thread) until check() is true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except OperationalError:  # SQLite's shared in-memory database: a table locked by a write
            pass
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {message}")


def log_in(page):
    page.goto("/driver/")
    page.get_by_label("Company").fill("acme-app")
    page.get_by_label("Username").fill("ana")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_test_id("log-in").click()
    expect(page.get_by_test_id("routes")).to_be_visible()


def open_stop(page, stop):
    page.locator(f'[data-testid=stop][data-stop="{stop.pk}"]').click()
    expect(page.get_by_test_id("stop-screen")).to_be_visible()


def sign(page):
    canvas = page.get_by_test_id("signature")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    x, y = box["x"], box["y"]
    page.mouse.move(x + 30, y + 120)
    page.mouse.down()
    for dx, dy in [(80, 40), (130, 130), (180, 50), (230, 120), (290, 60)]:
        page.mouse.move(x + dx, y + dy, steps=6)
    page.mouse.up()


def image_file(name, data, mime="image/jpeg"):
    return {"name": name, "mimeType": mime, "buffer": data}


def stop_status(stop):
    return Stop.objects.get(pk=stop.pk).status


def phone_queue(page):
    """What the phone keeps in IndexedDB: the queue and the GPS points not batched yet."""
    return page.evaluate(
        """() => new Promise((resolve, reject) => {
          const opening = indexedDB.open("driver-app");
          opening.onerror = () => reject(opening.error);
          opening.onsuccess = () => {
            const db = opening.result;
            const tx = db.transaction(["outbox", "positions"]);
            const out = {};
            tx.objectStore("outbox").getAll().onsuccess = (e) => {
              out.outbox = e.target.result.map(({ form, ...entry }) => entry);
            };
            tx.objectStore("positions").getAll().onsuccess = (e) => {
              out.positions = e.target.result;
            };
            tx.oncomplete = () => { db.close(); resolve(out); };
          };
        })"""
    )


def phone_times(queue):
    """The phone times of the GPS points waiting on the phone, batched or not."""
    times = [point["recorded_at"] for point in queue["positions"]]
    for entry in queue["outbox"]:
        if entry["kind"] == "positions":
            times += [point["recorded_at"] for point in entry["json"]["positions"]]
    return {datetime.fromisoformat(value) for value in times}


def test_a_driver_runs_a_route_on_the_phone(phone, crew):
    page = phone
    first, second, third = crew.stops
    package = first.service.packages.get()

    page.goto("/driver/")
    page.get_by_label("Company").fill("acme-app")
    page.get_by_label("Username").fill("ana")
    page.get_by_label("Password").fill("not the password")
    page.get_by_test_id("log-in").click()
    expect(page.get_by_test_id("login-error")).to_have_text("Wrong company, username or password.")
    log_in(page)
    device = DriverDevice.objects.get(driver=crew.driver)
    assert device.revoked_at is None
    page.get_by_test_id("route").click()
    stops = page.get_by_test_id("stop")
    expect(stops).to_have_count(3)
    expect(stops.first).to_contain_text(first.service.customer.name)
    expect(stops.first).to_contain_text(first.service.address_line)
    expect(stops.first).to_contain_text("Packages")

    # The stop's address opens the maps app, the customer's phone the dialler.
    open_stop(page, first)
    href = page.get_by_test_id("open-map").get_attribute("href")
    assert f"{first.service.lat},{first.service.lng}" in href
    assert page.get_by_test_id("call").get_attribute("href").startswith("tel:+55")
    expect(page.get_by_test_id("stop-start")).to_have_count(0)  # the route is not started
    page.get_by_test_id("back").click()

    page.get_by_test_id("start-route").click()
    wait_for(lambda: crew.route.__class__.objects.get(pk=crew.route.pk).status == "in_progress")
    moved = {**HERE, "latitude": HERE["latitude"] + 0.0002}
    page.context.set_geolocation(moved)

    # First stop: on the way, arrived, completed with all the proof.
    open_stop(page, first)
    page.get_by_test_id("stop-start").click()
    wait_for(lambda: stop_status(first) == StopStatus.IN_PROGRESS, message="stop started")
    page.get_by_test_id("stop-arrive").click()
    wait_for(lambda: stop_status(first) == StopStatus.ARRIVED, message="stop arrived")
    page.get_by_test_id("stop-complete").click()
    page.get_by_label("Receiver's name").fill("Maria Souza")
    page.get_by_label("Receiver's document").fill("123.456.789-09")
    sign(page)
    page.get_by_test_id("photo-input").set_input_files(image_file("door.jpg", noisy_photo()))
    expect(page.get_by_test_id("photos").locator("li")).to_have_count(1)
    label = photographed(code128_label(package.barcode), 5)
    page.get_by_test_id("label-input").set_input_files(image_file("label.jpg", label))
    # The server reads the label and the package is checked off without a scan.
    expect(page.get_by_test_id("labels")).to_contain_text(package.barcode)
    expect(page.locator(f'[data-barcode="{package.barcode}"]')).to_have_attribute("data-ok", "true")
    page.get_by_label("Comment").fill("Left with the doorman")
    page.get_by_test_id("complete-submit").click()
    expect(page.get_by_test_id("route-screen")).to_be_visible()
    wait_for(lambda: stop_status(first) == StopStatus.DONE, message="stop done")
    done = Stop.objects.get(pk=first.pk)
    assert done.receiver_name == "Maria Souza"
    assert done.receiver_document == "123.456.789-09"
    kinds = sorted(Evidence.objects.filter(stop=first).values_list("kind", flat=True))
    assert kinds == [EvidenceKind.LABEL, EvidenceKind.PHOTO, EvidenceKind.SIGNATURE]
    assert Evidence.objects.get(stop=first, kind=EvidenceKind.LABEL).barcodes == [package.barcode]
    signature = Evidence.objects.get(stop=first, kind=EvidenceKind.SIGNATURE)
    assert signature.image.name.endswith(".png")
    # Something was drawn: the stored signature is not a blank white picture.
    from PIL import Image

    with Image.open(signature.image.path) as picture:
        assert picture.convert("L").getextrema()[0] < 100
    first_done = page.locator(f'[data-testid=stop][data-stop="{first.pk}"]')
    expect(first_done.locator('[data-status="done"]')).to_be_visible()

    # Second stop: failed for one of the account's reasons.
    open_stop(page, second)
    page.get_by_test_id("stop-start").click()
    page.get_by_test_id("stop-fail").click()
    page.get_by_text("Customer absent").click()
    page.get_by_label("What happened").fill("Nobody at home, rang twice")
    page.get_by_test_id("fail-submit").click()
    expect(page.get_by_test_id("route-screen")).to_be_visible()
    wait_for(lambda: stop_status(second) == StopStatus.FAILED, message="stop failed")
    failed = Stop.objects.get(pk=second.pk)
    assert failed.failure_reason == crew.absent
    assert failed.failure_description == "Nobody at home, rang twice"

    # Third stop: paused and resumed, then failed for a reason that opens the chat with support.
    open_stop(page, third)
    page.get_by_test_id("stop-start").click()
    page.get_by_test_id("stop-pause").click()
    wait_for(lambda: stop_status(third) == StopStatus.PAUSED, message="stop paused")
    page.get_by_test_id("stop-resume").click()
    wait_for(lambda: stop_status(third) == StopStatus.IN_PROGRESS, message="stop resumed")
    page.get_by_test_id("stop-fail").click()
    page.get_by_text("Address not found").click()
    expect(page.get_by_test_id("fail-hint")).to_contain_text("Support will be told")
    page.get_by_test_id("fail-submit").click()
    expect(page.get_by_test_id("chat")).to_be_visible()
    wait_for(lambda: stop_status(third) == StopStatus.FAILED, message="stop failed")
    system = page.locator('[data-testid=message][data-author="system"]')
    expect(system).to_contain_text("Address not found")

    # The chat: the driver writes, support answers, the answer shows without a reload.
    page.evaluate("window.notReloaded = true")
    page.get_by_label("Message").fill("The gate of number 120 is closed")
    page.get_by_test_id("chat-send").click()
    wait_for(
        lambda: Message.objects.filter(author=MessageAuthor.DRIVER).exists(), message="message"
    )
    written = Message.objects.get(author=MessageAuthor.DRIVER)
    assert written.text == "The gate of number 120 is closed"
    assert written.conversation.stop_id == third.pk  # the chat about the failed stop
    message_send(
        route=crew.route, author=MessageAuthor.SUPPORT, text="Call the customer", user=crew.operator
    )
    support = page.locator('[data-testid=message][data-author="support"]')
    expect(support).to_contain_text("Call the customer", timeout=15_000)
    assert page.evaluate("window.notReloaded") is True
    wait_for(
        lambda: Message.objects.get(author=MessageAuthor.SUPPORT).read_at is not None,
        message="the answer marked read",
    )

    # The phone sent its position while the route ran, at the phone's times.
    moved_here = Position.objects.filter(driver=crew.driver, lat=moved["latitude"])
    wait_for(moved_here.exists, message="positions")
    point = moved_here.get()
    assert (point.lng, point.accuracy_m) == (HERE["longitude"], HERE["accuracy"])
    assert point.route_id == crew.route.pk

    # Every stop has its outcome: the route is finished.
    page.get_by_test_id("back").click()
    page.get_by_test_id("back").click()
    page.get_by_test_id("finish-route").click()
    page.get_by_test_id("confirm-finish").click()
    route = crew.route.__class__.objects.filter(pk=crew.route.pk)
    wait_for(lambda: route.get().status == RouteStatus.FINISHED, message="route finished")

    # Logging out revokes the device's token.
    page.get_by_test_id("menu").click()
    page.get_by_test_id("log-out").click()
    expect(page.get_by_test_id("login")).to_be_visible()
    wait_for(
        lambda: DriverDevice.objects.get(pk=device.pk).revoked_at is not None, message="revoked"
    )
    assert page.errors == []


def test_a_stop_completed_offline_is_sent_once_with_every_position(phone, crew):
    page = phone
    context = page.context
    first = crew.stops[0]
    log_in(page)
    page.wait_for_function("() => Boolean(navigator.serviceWorker.controller)")
    page.get_by_test_id("route").click()
    page.get_by_test_id("start-route").click()
    wait_for(lambda: Stop.objects.get(pk=first.pk).route.status == RouteStatus.IN_PROGRESS)

    context.set_offline(True)
    open_stop(page, first)
    page.get_by_test_id("stop-start").click()
    page.get_by_test_id("stop-arrive").click()
    page.get_by_test_id("stop-complete").click()
    page.get_by_label("Receiver's name").fill("João Pereira")
    sign(page)
    page.get_by_test_id("complete-submit").click()
    expect(page.get_by_test_id("route-screen")).to_be_visible()
    expect(page.get_by_test_id("sync")).to_contain_text("Offline")
    stop_card = page.locator(f'[data-testid=stop][data-stop="{first.pk}"]')
    expect(stop_card.locator('[data-status="done"]')).to_be_visible()
    expect(stop_card.get_by_test_id("unsent")).to_be_visible()

    # The driver drives on: points are kept on the phone, a few seconds apart.
    for step in range(1, 5):
        time.sleep(1.2)
        context.set_geolocation({**HERE, "latitude": HERE["latitude"] + step * 0.0003})
    page.wait_for_function(
        """async () => {
          const db = await new Promise((resolve) => {
            const opening = indexedDB.open("driver-app");
            opening.onsuccess = () => resolve(opening.result);
          });
          const count = await new Promise((resolve) => {
            const request = db.transaction("positions").objectStore("positions").count();
            request.onsuccess = () => resolve(request.result);
          });
          const batches = await new Promise((resolve) => {
            const request = db.transaction("outbox").objectStore("outbox").getAll();
            request.onsuccess = () => resolve(request.result.filter((e) => e.kind === "positions"));
          });
          db.close();
          return count + batches.reduce((sum, e) => sum + e.json.positions.length, 0) >= 4;
        }""",
        polling=500,
    )

    # Closed and opened again without a network: the service worker serves the app.
    page.reload()
    expect(page.get_by_test_id("route-screen")).to_be_visible()
    expect(stop_card.get_by_test_id("unsent")).to_be_visible()
    expect(page.get_by_test_id("sync")).to_contain_text("Offline")
    queue = phone_queue(page)
    kinds = [entry["kind"] for entry in queue["outbox"]]
    assert {"stop_start", "stop_arrive", "evidence", "stop_complete"} <= set(kinds)
    assert kinds.index("evidence") < kinds.index("stop_complete")
    complete = next(entry for entry in queue["outbox"] if entry["kind"] == "stop_complete")
    assert complete["key"] and complete["json"]["recorded_at"]
    waiting_points = phone_times(queue)
    assert len(waiting_points) >= 4
    assert stop_status(first) == StopStatus.PENDING  # nothing reached the server
    # The driver sees what waits to be sent.
    page.get_by_test_id("sync").click()
    expect(page.locator('[data-testid=outbox-entry][data-kind="stop_complete"]')).to_contain_text(
        "Complete stop 1"
    )

    # Back online; the first completion's answer is lost on the way, so the phone sends it
    # again with the same key.
    lost = []

    def lose_first_answer(route):
        response = route.fetch()
        if not lost:
            lost.append(response.status)
            route.abort("connectionreset")
        else:
            route.fulfill(response=response)

    context.route("**/api/driver/v1/stops/*/complete", lose_first_answer)
    context.set_offline(False)
    expect(page.get_by_test_id("sync")).to_have_text("Sent ✓", timeout=30_000)
    assert lost == [200]
    wait_for(lambda: stop_status(first) == StopStatus.DONE, message="the completion")

    completions = ServiceEvent.objects.filter(service=first.service, to_status=ServiceStatus.DONE)
    assert completions.count() == 1
    assert Evidence.objects.filter(stop=first, kind=EvidenceKind.SIGNATURE).count() == 1
    done = Stop.objects.get(pk=first.pk)
    assert done.receiver_name == "João Pereira"
    # The phone's times, not the time the server heard them.
    assert done.left_at == datetime.fromisoformat(complete["json"]["recorded_at"])

    # Points are batched every 2 seconds: the last ones follow the writes.
    positions = Position.objects.filter(driver=crew.driver)
    wait_for(
        lambda: waiting_points <= set(positions.values_list("recorded_at", flat=True)),
        message="every point the phone kept",
    )
    # The points taken on the way are the route's path.
    on_the_way = positions.exclude(lat=HERE["latitude"])
    assert on_the_way.count() == 4
    assert set(on_the_way.values_list("route", flat=True)) == {crew.route.pk}
    assert page.errors == []


def test_the_app_speaks_the_phones_language_and_switches(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport=PHONE, locale="pt-BR")
    page = context.new_page()
    page.goto("/driver/")
    expect(page.get_by_test_id("log-in")).to_have_text("Entrar")
    expect(page.locator("html")).to_have_attribute("lang", "pt-BR")
    page.get_by_test_id("language").select_option("es")
    expect(page.get_by_label("Contraseña")).to_be_visible()
    # The choice is kept on the phone.
    page.reload()
    expect(page.get_by_label("Contraseña")).to_be_visible()
    # A 360-pixel screen scrolls only down, never sideways.
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
    context.close()


# Where the browser reads barcodes (BarcodeDetector, as Chrome on Android), a camera that sees the
# package's label; headless Chromium has neither, so both are stood in for before the app loads.
FAKE_SCANNER = """
window.BarcodeDetector = class {
  static async getSupportedFormats() { return ["code_128", "qr_code"]; }
  async detect() { return window.seenCode ? [{ rawValue: window.seenCode }] : []; }
};
navigator.mediaDevices.getUserMedia = async () => {
  const canvas = document.createElement("canvas");
  canvas.width = 64;
  canvas.height = 48;
  canvas.getContext("2d").fillRect(0, 0, 64, 48);
  return canvas.captureStream();
};
"""


def test_barcodes_scanned_with_the_camera_go_with_the_completion(phone, crew):
    page = phone
    Account.objects.filter(pk=crew.account.pk).update(signature_required=True)
    first = crew.stops[0]
    package = first.service.packages.get()
    page.context.add_init_script(FAKE_SCANNER)
    log_in(page)
    page.get_by_test_id("route").click()
    page.get_by_test_id("start-route").click()
    open_stop(page, first)
    page.get_by_test_id("stop-start").click()
    page.get_by_test_id("stop-complete").click()

    # The account requires a signature: the app says so before queueing anything.
    page.get_by_test_id("complete-submit").click()
    expect(page.get_by_test_id("complete-error")).to_have_text("The receiver must sign.")

    page.get_by_test_id("scan").click()
    expect(page.get_by_test_id("scan")).to_have_text("Stop the camera")
    page.evaluate("code => { window.seenCode = code; }", "NOT-A-PACKAGE")
    expect(page.get_by_test_id("scan-message")).to_have_text(
        "NOT-A-PACKAGE is not a package of this stop."
    )
    page.evaluate("code => { window.seenCode = code; }", package.barcode)
    item = page.locator(f'[data-barcode="{package.barcode}"]')
    expect(item).to_have_attribute("data-ok", "true")
    expect(item).to_contain_text("scanned")
    page.get_by_test_id("scan").click()
    sign(page)
    page.get_by_test_id("complete-submit").click()
    expect(page.get_by_test_id("route-screen")).to_be_visible()
    wait_for(lambda: stop_status(first) == StopStatus.DONE, message="stop done")
    event = ServiceEvent.objects.get(service=first.service, to_status=ServiceStatus.DONE)
    assert event.data["barcodes"] == [package.barcode]
    assert page.errors == []
