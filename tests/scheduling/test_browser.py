"""Browser journey: an operator checks a window's capacity and moves a service to another one."""

from datetime import time, timedelta

import pytest
from django.utils import timezone

from accounts.models import Role
from scheduling.actions import service_schedule
from scheduling.models import Schedule
from services.actions import Actor
from tests import factories as f
from tests.helpers import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_operator_reschedules_a_service_to_another_window(page, password):
    account = f.AccountFactory(slug="acme-browser")
    operator = f.UserFactory(account=account, role=Role.OPERATOR, email="op@acme.test")
    day = timezone.localdate(timezone=account.tzinfo) + timedelta(days=3)
    morning = f.DeliveryWindowFactory(
        account=account, weekday=day.weekday(), name="Morning", capacity=4
    )
    afternoon = f.DeliveryWindowFactory(
        account=account,
        weekday=day.weekday(),
        name="Afternoon",
        start=time(13, 0),
        end=time(17, 0),
        capacity=4,
    )
    service = f.ServiceFactory(account=account)
    service_schedule(service=service, day=day, window=morning, actor=Actor.system())

    log_in(page, operator.email, password)
    page.wait_for_url("**/")
    page.get_by_role("link", name="Schedule", exact=True).first.click()
    page.goto(f"/schedule/?date={day.isoformat()}")
    cell = page.locator(f'[data-day="{day.isoformat()}"] [data-window="{morning.pk}"]')
    assert "1 of 4 used · 3 free" in cell.get_by_test_id("capacity").inner_text()

    page.goto(f"/schedule/services/{service.pk}/")
    page.locator(f'[data-slot="{day.isoformat()}-{afternoon.pk}"]').click()

    page.wait_for_url(f"**/services/{service.pk}/")
    card = page.get_by_test_id("delivery-date")
    assert "Afternoon" in card.inner_text()
    assert day.strftime("%A") in card.get_by_test_id("schedule-date").inner_text()
    assert Schedule.objects.get(service=service).window == afternoon
