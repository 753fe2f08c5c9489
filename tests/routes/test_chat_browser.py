"""Browser journey of the support chat: an operator opens the chat, a driver's message arrives
(posted through the driver API during the test) without a reload, the operator opens it and
answers, and the driver reads the answer through the API."""

import re

import pytest
from django.core.cache import cache
from django.test import Client
from playwright.sync_api import expect

from accounts.models import Role
from routes.models import Message, MessageAuthor
from tests import factories as f
from tests.helpers import log_in
from tests.routes.test_driver_api import build
from tests.routes.test_driver_api import log_in as phone_log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_operator_answers_a_driver_who_then_reads_the_answer(page, password):
    cache.clear()
    account = f.AccountFactory(slug="acme-chat", name="Acme Entregas")
    operator = f.UserFactory(account=account, role=Role.OPERATOR, email="op@acme.test")
    driver = f.DriverFactory(account=account, username="ana", first_name="Ana", last_name="Lima")
    route = build(driver)
    phone = phone_log_in(Client(), driver)

    log_in(page, operator.email, password)
    page.wait_for_url("**/")
    page.get_by_role("link", name="Chat", exact=True).first.click()
    page.wait_for_url("**/routes/chat/")
    expect(page.get_by_test_id("empty-state")).to_be_visible()
    page.evaluate("window.notReloaded = true")

    # The driver writes; the list shows it at its next poll, without a reload.
    sent = phone.post("/chat/messages", {"route": route.pk, "text": "Gate closed at number 120"})
    assert sent.status_code == 201, sent.json()
    row = page.get_by_test_id("conversation")
    expect(row).to_contain_text("Ana Lima", timeout=15_000)
    expect(row).to_contain_text("Gate closed at number 120")
    expect(row.get_by_test_id("unread-count")).to_have_text(re.compile(r"^\s*1\b"))
    assert page.evaluate("window.notReloaded") is True

    row.get_by_test_id("conversation-driver").click()
    page.wait_for_url(re.compile(r".*/routes/chat/\d+/$"))
    thread = page.get_by_test_id("chat-messages")
    expect(thread).to_contain_text("Gate closed at number 120")
    expect(page.locator(".alert")).to_have_count(0)  # a message is not a flashed notice
    assert Message.objects.get(pk=sent.json()["id"]).read_at is not None  # support read it
    page.evaluate("window.notReloaded = true")

    # A second message arrives while the conversation is open.
    phone.post("/chat/messages", {"route": route.pk, "text": "Nobody answers the door"})
    expect(thread.locator(".chat-message-driver")).to_have_count(2, timeout=15_000)
    expect(thread).to_contain_text("Nobody answers the door")

    page.get_by_label("Answer").fill("Ring the bell twice, then call the customer")
    page.get_by_test_id("send").click()
    expect(thread.locator(".chat-message-support")).to_contain_text("Ring the bell twice")
    expect(page.get_by_label("Answer")).to_have_value("")
    expect(thread.get_by_test_id("message")).to_have_count(3)
    assert page.evaluate("window.notReloaded") is True

    # The driver reads the answer through the API, and it is marked read.
    items = phone.get("/chat/messages", route=route.pk).json()["items"]
    assert [item["author"] for item in items] == ["driver", "driver", "support"]
    assert items[-1]["text"] == "Ring the bell twice, then call the customer"
    answer = Message.objects.get(author=MessageAuthor.SUPPORT)
    assert answer.user == operator and answer.read_at is not None
    # Both driver messages were read by support on the page.
    assert not Message.objects.filter(author=MessageAuthor.DRIVER, read_at=None).exists()
