"""Browser journeys in headless Chromium against the live server."""

import pytest
from django.core.management import call_command

from services.models import Service
from tests.helpers import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def demo(capsys):
    call_command("seed_demo", "--json")
    import json

    return json.loads(capsys.readouterr().out)


def test_demo_manager_logs_in_and_sees_todays_counts(page, demo):
    log_in(page, demo["manager"]["email"], demo["manager"]["password"])
    page.wait_for_url("**/")
    counts = page.get_by_test_id("today-counts")
    pending = Service.objects.filter(account__slug="demo", status="pending").count()
    assert counts.locator('[data-count="pending"]').inner_text() == str(pending)
    assert page.get_by_test_id("account-name").inner_text() == demo["account"]["name"]
    # The account speaks Portuguese by default.
    assert page.locator("html").get_attribute("lang") == "pt-br"


def test_wrong_password_shows_an_error(page, demo):
    log_in(page, demo["manager"]["email"], "not-the-password")
    assert page.get_by_role("alert").first.is_visible()
    assert "/login/" in page.url


def test_on_a_phone_the_navigation_folds_into_a_menu(browser, live_server, demo):
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 375, "height": 740}, is_mobile=True
    )
    page = context.new_page()
    try:
        log_in(page, demo["operator"]["email"], demo["operator"]["password"])
        page.wait_for_url("**/")
        menu_links = page.locator("#main-nav .nav-link")
        assert not menu_links.first.is_visible()
        page.locator(".navbar-toggler").click()
        menu_links.first.wait_for(state="visible")
        # Nothing spills over the phone's width.
        scroll_width = page.evaluate("document.documentElement.scrollWidth")
        assert scroll_width <= 375
    finally:
        context.close()


def test_language_switch_changes_the_interface(page, demo):
    log_in(page, demo["manager"]["email"], demo["manager"]["password"])
    page.wait_for_url("**/")
    with page.expect_navigation():
        page.locator("#language-select").select_option("es")
    assert page.locator("html").get_attribute("lang") == "es"
    assert page.get_by_role("link", name="Servicios").is_visible()
