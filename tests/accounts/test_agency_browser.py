"""Browser journey: a manager sets up an agency's messages in the web admin, with the preview."""

import pytest

from accounts.models import Agency, Role, Trigger
from tests.factories import AccountFactory, UserFactory
from tests.helpers import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SMS = "Hi {{customer_first_name}}, {{ driver_name }} is on the way with {{order_number}}"


def template_row(page, trigger):
    """The inline row (e.g. #templates-2) whose trigger select shows trigger."""
    rows = page.locator("#templates-group .inline-related:not(.empty-form)")
    for index in range(rows.count()):
        row = rows.nth(index)
        if row.locator("select[name$='-trigger']").input_value() == trigger:
            return row
    raise AssertionError(f"no template row for {trigger}")


def test_manager_creates_an_agency_previews_a_template_and_is_refused_an_unknown_tag(
    page, password
):
    account = AccountFactory(slug="acme", name="Acme Entregas", language="en")
    manager = UserFactory(account=account, role=Role.MANAGER, email="manager@acme.test")
    log_in(page, manager.email, password)
    page.wait_for_url("**/")

    page.goto("/admin/accounts/agency/add/")
    page.locator("#id_name").fill("Acme Express")
    row = template_row(page, Trigger.DELIVERY_STARTED)
    row.locator("textarea[name$='-sms_body']").fill(SMS)
    row.get_by_role("button", name="Preview").click()
    preview = row.get_by_test_id("preview-sms")
    preview.wait_for()
    assert preview.inner_text() == "Hi Maria, Carlos is on the way with PED-10422"
    assert "1 SMS segment" in row.get_by_test_id("preview-sms-length").inner_text()

    page.get_by_role("button", name="Save and continue editing").click()
    page.wait_for_url("**/change/")
    agency = Agency.objects.get(account=account, name="Acme Express")
    assert agency.templates.count() == len(Trigger)
    assert agency.templates.get(trigger=Trigger.DELIVERY_STARTED).sms_body == SMS

    row = template_row(page, Trigger.DELIVERED)
    row.locator("textarea[name$='-sms_body']").fill("Delivered, {{nope}}!")
    page.get_by_role("button", name="Save and continue editing").click()
    error = row.locator(".errorlist").first
    error.wait_for()
    assert "Unknown tag {{nope}}." in error.inner_text()
    assert "{{nope}}" not in agency.templates.get(trigger=Trigger.DELIVERED).sms_body
