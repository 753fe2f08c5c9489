"""The short-lived copy of a Last Mile page (lastmile.views.PAGE_CACHE_S): given to anyone who
opens the same link meanwhile, never when the page holds something of its visitor's (a form's
CSRF token, a flash message), and dropped by the customer's own changes."""

import pytest
from django.core.cache import cache

from lastmile import views
from routes.models import StopStatus
from tests.factories import DriverFactory
from tests.lastmile.test_page import delivery, done_service, page_url, started, step, text

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _page_cache(monkeypatch):
    # Each test's service has its own token, so no copy of another test's page is found.
    monkeypatch.setattr(views, "PAGE_CACHE_S", 60)


@pytest.fixture
def driver(account_a):
    return DriverFactory(account=account_a, first_name="Ana", last_name="Lima")


@pytest.fixture
def service(account_a):
    return delivery(account_a)


@pytest.fixture
def under_way(account_a, driver, service):
    route = started(account_a, driver, service)
    step(route, service, StopStatus.IN_PROGRESS)
    return route


def test_a_page_under_way_is_read_once_for_everyone_meanwhile(
    client, django_assert_num_queries, service, under_way
):
    first = client.get(page_url(service))
    assert first.status_code == 200 and "On the way" in text(first)
    with django_assert_num_queries(0):
        again = client.get(page_url(service))
    assert again.status_code == 200
    assert again.content == first.content
    assert again["Content-Language"] == first["Content-Language"]
    assert again["Referrer-Policy"] == "strict-origin"
    assert again["X-Robots-Tag"] == "noindex, nofollow"
    assert "no-cache" in again["Cache-Control"] and "private" in again["Cache-Control"]
    assert "Cookie" in again["Vary"]


def test_the_copy_is_dropped_by_the_customers_post(client, service, under_way):
    client.get(page_url(service))
    client.post(page_url(service), {"stars": 5})  # refused (not done), but it drops the copy
    client.cookies.clear()  # the flash message's cookie would bypass the copy
    step(under_way, service, StopStatus.ARRIVED)
    assert "The driver has arrived" in text(client.get(page_url(service)))


def test_a_visitor_with_a_session_or_a_message_gets_the_page_of_the_moment(
    client, service, under_way
):
    client.get(page_url(service))
    step(under_way, service, StopStatus.ARRIVED)
    client.cookies["messages"] = "anything"
    assert "The driver has arrived" in text(client.get(page_url(service)))
    client.cookies.clear()
    client.cookies["sessionid"] = "anything"
    assert "The driver has arrived" in text(client.get(page_url(service)))


def test_a_page_with_a_form_is_never_kept(client, account_a, driver, service):
    done_service(account_a, driver, service)
    first = client.get(page_url(service))
    assert 'name="csrfmiddlewaretoken"' in text(first)
    assert cache.get(views._page_cache_key(service.tracking_token)) is None


def test_unknown_tokens_are_not_kept(client, django_assert_num_queries):
    token = "Z" * 32
    assert client.get(f"/t/{token}").status_code == 404
    with django_assert_num_queries(1):
        assert client.get(f"/t/{token}").status_code == 404
