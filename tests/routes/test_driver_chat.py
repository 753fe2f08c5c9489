"""The driver's chat with support: posting about a route or a stop (one open conversation each),
polling for new messages, read receipts, and the chat actions the operators' pages reuse."""

import pytest
from django.core.cache import cache

from routes import chat
from routes.models import (
    Conversation,
    ConversationStatus,
    Message,
    MessageAuthor,
)
from tests.factories import DriverFactory
from tests.routes.test_driver_api import build, error_of, log_in
from tracking.lib.errors import Conflict, Invalid

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clean_throttle():
    cache.clear()


@pytest.fixture
def driver(account_a):
    return DriverFactory(account=account_a, username="ana")


@pytest.fixture
def phone(client, driver):
    return log_in(client, driver)


@pytest.fixture
def route(driver):
    return build(driver)


def support_says(route, text, stop=None):
    return chat.message_send(route=route, stop=stop, author=MessageAuthor.SUPPORT, text=text)


# Posting ----------------------------------------------------------------------------------------


def test_the_driver_writes_about_the_route(phone, route, driver):
    response = phone.post("/chat/messages", {"route": route.pk, "text": "  Traffic jam  "})
    assert response.status_code == 201, response.json()
    data = response.json()
    message = Message.objects.get()
    assert data["id"] == message.pk and data["text"] == "Traffic jam"
    assert data["author"] == "driver" and data["stop_id"] is None and data["read_at"] is None
    conversation = message.conversation
    assert data["conversation_id"] == conversation.pk
    assert (conversation.route, conversation.stop, conversation.account) == (
        route,
        None,
        driver.account,
    )
    assert conversation.last_message_at == message.created_at


def test_messages_go_to_the_open_conversation_of_the_route_or_stop(phone, route):
    stop = route.stops.first()
    phone.post("/chat/messages", {"route": route.pk, "text": "one"})
    phone.post("/chat/messages", {"route": route.pk, "text": "two"})
    about_stop = phone.post("/chat/messages", {"route": route.pk, "stop": stop.pk, "text": "3"})
    assert about_stop.json()["stop_id"] == stop.pk
    phone.post("/chat/messages", {"route": route.pk, "stop": stop.pk, "text": "four"})
    assert Conversation.objects.count() == 2
    assert Conversation.objects.get(stop=None).messages.count() == 2
    assert Conversation.objects.get(stop=stop).messages.count() == 2


def test_a_closed_conversation_leads_to_a_new_one(phone, route):
    first = phone.post("/chat/messages", {"route": route.pk, "text": "one"}).json()
    Conversation.objects.filter(pk=first["conversation_id"]).update(
        status=ConversationStatus.CLOSED
    )
    second = phone.post("/chat/messages", {"route": route.pk, "text": "two"}).json()
    assert second["conversation_id"] != first["conversation_id"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"text": "hello"}, "route"),
        ({"route": 1, "text": "   "}, "text"),
        ({"route": 1, "text": "x" * 2001}, "text"),
        ({"route": 1, "text": "a\x00b"}, "text"),
        ({"route": 1}, "text"),
    ],
)
def test_a_bad_message_is_422(phone, route, body, field):
    if "route" in body:
        body["route"] = route.pk
    response = phone.post("/chat/messages", body)
    assert response.status_code == 422
    assert field in error_of(response)["fields"]
    assert not Message.objects.exists()


def test_someone_elses_route_or_stop_is_404(phone, route, account_a, account_b):
    colleague = build(DriverFactory(account=account_a))
    rival = build(DriverFactory(account=account_b))
    for other in (colleague, rival):
        assert phone.post("/chat/messages", {"route": other.pk, "text": "hi"}).status_code == 404
        assert phone.get("/chat/messages", route=other.pk).status_code == 404
    foreign_stop = colleague.stops.first()
    response = phone.post(
        "/chat/messages", {"route": route.pk, "stop": foreign_stop.pk, "text": "hi"}
    )
    assert response.status_code == 404
    assert not Message.objects.exists()


def test_a_replayed_message_is_posted_once(phone, route):
    first = phone.post("/chat/messages", {"route": route.pk, "text": "hi"}, key="msg-1")
    again = phone.post("/chat/messages", {"route": route.pk, "text": "hi"}, key="msg-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert Message.objects.count() == 1


# Reading ----------------------------------------------------------------------------------------


def test_the_driver_polls_for_new_messages(phone, route):
    stop = route.stops.first()
    mine = phone.post("/chat/messages", {"route": route.pk, "text": "Gate closed"}).json()
    answer = support_says(route, "Call the customer", stop=stop)
    other_route = build(route.driver)
    support_says(other_route, "Not this route")

    everything = phone.get("/chat/messages", route=route.pk)
    assert everything.status_code == 200
    items = everything.json()["items"]
    assert [item["id"] for item in items] == [mine["id"], answer.pk]
    assert items[1]["author"] == "support" and items[1]["stop_id"] == stop.pk

    later = support_says(route, "Any news?")
    newer = phone.get("/chat/messages", route=route.pk, after=answer.pk).json()["items"]
    assert [item["id"] for item in newer] == [later.pk]
    assert phone.get("/chat/messages", route=route.pk, after=later.pk).json() == {"items": []}


def test_support_messages_read_by_the_driver_are_marked_read(phone, route):
    mine = phone.post("/chat/messages", {"route": route.pk, "text": "Gate closed"}).json()
    answer = support_says(route, "Call the customer")

    items = phone.get("/chat/messages", route=route.pk).json()["items"]

    assert items[0]["read_at"] is None  # the driver's own message: support has not read it
    assert items[1]["read_at"] is not None
    answer.refresh_from_db()
    assert answer.read_at is not None
    assert Message.objects.get(pk=mine["id"]).read_at is None
    # Read again, it keeps its first read time.
    again = phone.get("/chat/messages", route=route.pk).json()["items"]
    assert again[1]["read_at"] == items[1]["read_at"]


def test_bad_polling_parameters_are_422(phone, route):
    assert phone.get("/chat/messages").status_code == 422
    response = phone.get("/chat/messages", route=route.pk, after="last")
    assert response.status_code == 422
    assert list(error_of(response)["fields"]) == ["after"]


def test_at_most_200_messages_come_at_once(phone, route):
    conversation = chat.conversation_open(route=route)
    Message.objects.bulk_create(
        Message(account=route.account, conversation=conversation, author="support", text=str(n))
        for n in range(205)
    )
    items = phone.get("/chat/messages", route=route.pk).json()["items"]
    assert len(items) == 200 and items[0]["text"] == "0"
    rest = phone.get("/chat/messages", route=route.pk, after=items[-1]["id"]).json()["items"]
    assert [item["text"] for item in rest] == ["200", "201", "202", "203", "204"]


# The actions the operators' pages reuse ---------------------------------------------------------


def test_opening_twice_gives_the_same_conversation(route):
    stop = route.stops.first()
    assert chat.conversation_open(route=route) == chat.conversation_open(route=route)
    about_stop = chat.conversation_open(route=route, stop=stop)
    assert about_stop == chat.conversation_open(route=route, stop=stop)
    assert about_stop != chat.conversation_open(route=route)
    with pytest.raises(Invalid):
        chat.conversation_open(route=route, stop=build(route.driver).stops.first())


def test_a_closed_conversation_takes_no_messages(route):
    conversation = chat.conversation_open(route=route)
    conversation.status = ConversationStatus.CLOSED
    conversation.save(update_fields=["status"])
    with pytest.raises(Conflict):
        chat.message_post(conversation=conversation, author=MessageAuthor.SUPPORT, text="hi")
    with pytest.raises(Invalid):
        chat.message_post(
            conversation=chat.conversation_open(route=route), author="support", text=" "
        )


def test_support_reads_the_drivers_messages(route, operator_a):
    driver_says = chat.message_send(route=route, author=MessageAuthor.DRIVER, text="Help")
    answer = chat.message_send(
        route=route, author=MessageAuthor.SUPPORT, text="On it", user=operator_a
    )
    messages = chat.messages_after(route=route)
    assert chat.messages_mark_read(messages=messages, reader=MessageAuthor.SUPPORT) == 1
    driver_says.refresh_from_db()
    answer.refresh_from_db()
    assert driver_says.read_at is not None and answer.read_at is None
    assert answer.user == operator_a
    assert chat.messages_mark_read(messages=messages, reader=MessageAuthor.SUPPORT) == 0
