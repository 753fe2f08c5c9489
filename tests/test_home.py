import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from services.models import ServiceStatus
from tests.factories import DriverFactory, ServiceFactory, UserFactory

pytestmark = pytest.mark.django_db


def card_values(response):
    return {card["key"]: card["value"] for card in response.context["cards"]}


def test_home_counts_todays_services_of_the_users_account_only(client_of, manager_a, manager_b):
    account = manager_a.account
    ServiceFactory.create_batch(3, account=account, status=ServiceStatus.PENDING)
    ServiceFactory(account=account, status=ServiceStatus.ROUTED)
    ServiceFactory(account=account, status=ServiceStatus.DONE)
    ServiceFactory(account=account, status=ServiceStatus.FAILED)
    # Finished two days ago, edited today (its note, say): not today's.
    ServiceFactory(
        account=account,
        status=ServiceStatus.DONE,
        finished_at=timezone.now() - timezone.timedelta(days=2),
    )
    DriverFactory.create_batch(2, account=account)
    # Account B's rows never count for A.
    ServiceFactory.create_batch(5, account=manager_b.account, status=ServiceStatus.PENDING)
    DriverFactory(account=manager_b.account)

    response = client_of(manager_a).get(reverse("home"))
    assert card_values(response) == {
        "pending": 3,
        "routed": 1,
        "in_progress": 0,
        "done": 1,
        "failed": 1,
        "drivers": 2,
    }
    assert response.context["current_account"] == account
    assert account.name in response.content.decode()


def test_navigation_follows_the_role(client_of, account_a):
    call_centre = UserFactory(account=account_a, role=Role.CALL_CENTRE)
    response = client_of(call_centre).get(reverse("home"))
    sections = [item["section"] for item in response.context["navigation"]]
    assert sections == ["chat"]
    assert "cards" not in response.context


def test_manager_navigation_has_every_section(client_of, manager_a):
    response = client_of(manager_a).get(reverse("home"))
    labels = [str(item["label"]) for item in response.context["navigation"]]
    assert labels == ["Services", "Routes", "Tracking", "Schedule", "Reports", "Chat", "Settings"]
    urls = {item["section"]: item["url"] for item in response.context["navigation"]}
    assert urls["services"] == reverse("services:index")
    assert urls["settings"] == reverse("admin:index")


def test_home_speaks_the_accounts_language(client_of, manager_a):
    manager_a.account.language = "pt-br"
    manager_a.account.save()
    body = client_of(manager_a).get(reverse("home")).content.decode()
    assert "Serviços" in body
    assert 'lang="pt-br"' in body


def test_a_chosen_language_wins_over_the_accounts(client_of, manager_a):
    manager_a.account.language = "pt-br"
    manager_a.account.save()
    client = client_of(manager_a)
    client.post(reverse("set_language"), {"language": "es", "next": "/"})
    body = client.get(reverse("home")).content.decode()
    assert "Servicios" in body


def test_services_list_is_scoped_to_the_account(client_of, manager_a, manager_b):
    mine = ServiceFactory(account=manager_a.account, order_number="MINE-1")
    theirs = ServiceFactory(account=manager_b.account, order_number="THEIRS-1")
    body = client_of(manager_a).get(reverse("services:index")).content.decode()
    assert mine.order_number in body
    assert theirs.order_number not in body


def test_services_list_filters_by_status(client_of, manager_a):
    ServiceFactory(account=manager_a.account, order_number="P-1")
    ServiceFactory(account=manager_a.account, order_number="D-1", status=ServiceStatus.DONE)
    body = client_of(manager_a).get(reverse("services:index") + "?status=done").content.decode()
    assert "D-1" in body and "P-1" not in body


def test_services_list_is_a_404_for_roles_without_it(client_of, account_a):
    partner = UserFactory(account=account_a, role=Role.PARTNER)
    assert client_of(partner).get(reverse("services:index")).status_code == 404


def test_unknown_pages_are_a_friendly_404(client_of, manager_a):
    response = client_of(manager_a).get("/no-such-page/")
    assert response.status_code == 404
    assert "There is nothing at this address." in response.content.decode()


def test_the_navigation_marks_the_most_specific_section(client_of, operator_a):
    from django.urls import reverse

    response = client_of(operator_a).get(reverse("routes:chat"))
    active = [item["section"] for item in response.context["navigation"] if item["active"]]
    assert active == ["chat"]
