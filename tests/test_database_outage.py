"""A database that cannot be reached (restarting, failing over) answers 503 with Retry-After,
in the APIs' error shape for their clients, and the next request after it is back succeeds
without a restart (found by the soak: a PostgreSQL restart answered 500s, which read as a bug)."""

import socket
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.conftest import require
from tests.factories import AccountFactory, DriverFactory, ServiceFactory, UserFactory
from tests.routes.test_positions import Phone, point


def _closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def database(transactional_db):
    """Switches the app's PostgreSQL off and on by pointing its connection at a closed port."""
    require(connection.vendor == "postgresql", "PostgreSQL (set DATABASE_URL)")
    saved = dict(connection.settings_dict)

    class Switch:
        def off(self):
            connection.close()
            connection.settings_dict["PORT"] = _closed_port()

        def on(self):
            connection.close()
            connection.settings_dict.update(saved)

    switch = Switch()
    yield switch
    switch.on()


@pytest.fixture
def browser():
    return Client(raise_request_exception=False)


def test_the_driver_api_answers_503_in_its_error_shape_and_recovers(browser, database):
    driver = DriverFactory(account=AccountFactory(), username="ana")
    phone = Phone(browser, driver)
    now = timezone.now().replace(microsecond=0)
    database.off()
    response = phone.send([point(now - timedelta(seconds=5))], key="batch-1")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json()["error"]["code"] == "unavailable"
    database.on()
    # The phone sends the batch again with its key: stored once.
    response = phone.send([point(now - timedelta(seconds=5))], key="batch-1")
    assert response.status_code == 200
    assert response.json()["accepted"] == 1


def test_the_last_mile_page_answers_503_and_recovers(browser, database):
    service = ServiceFactory(account=AccountFactory())
    url = reverse("lastmile:page", args=[service.tracking_token])
    database.off()
    response = browser.get(url)
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert b"Try again in a few seconds" in response.content
    database.on()
    assert browser.get(url).status_code == 200


def test_a_signed_in_page_answers_503_when_a_middleware_needs_the_database(browser, database):
    account = AccountFactory()
    browser.force_login(UserFactory(account=account))
    database.off()
    # The session and the user are read by middleware, before any view.
    response = browser.get(reverse("home"))
    assert response.status_code == 503
    database.on()
    assert browser.get(reverse("home")).status_code == 200
