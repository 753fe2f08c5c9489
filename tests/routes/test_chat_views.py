"""The support chat pages: the conversation list (unread counts, newest first, polled), a
conversation (read marks both ways with the driver API, replies, live polling), closing it with a
ticket type (a reversible one turns a failed stop into done), and who sees which conversation."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from routes import actions, chat
from routes.models import (
    Conversation,
    ConversationStatus,
    Message,
    MessageAuthor,
    StopStatus,
)
from services.actions import Actor, service_reschedule
from services.models import ServiceEvent, ServiceStatus
from tests.factories import (
    BranchFactory,
    CarrierFactory,
    ChatTicketTypeFactory,
    DriverFactory,
    FailureReasonFactory,
    PartnerFactory,
    ServiceFactory,
    UserFactory,
)
from tests.routes.test_driver_api import build, log_in, started, step
from tracking.lib.errors import Conflict, Invalid

pytestmark = pytest.mark.django_db

CHAT = reverse("routes:chat")
HTMX = {"HX-Request": "true"}


def url(name, conversation):
    return reverse(f"routes:{name}", args=[conversation.pk])


@pytest.fixture(autouse=True)
def _clean_throttle():
    cache.clear()


@pytest.fixture
def carrier(account_a):
    return CarrierFactory(account=account_a, name="Rápido Transportes")


@pytest.fixture
def driver(account_a, carrier):
    return DriverFactory(
        account=account_a, username="ana", first_name="Ana", last_name="Lima", carrier=carrier
    )


@pytest.fixture
def route(driver):
    return build(driver)


@pytest.fixture
def phone(driver):
    """The driver's app, on its own HTTP client."""
    return log_in(Client(), driver)


@pytest.fixture
def reversible(account_a):
    return ChatTicketTypeFactory(
        account=account_a, description="Customer came back", reversible=True
    )


@pytest.fixture
def solved(account_a):
    return ChatTicketTypeFactory(account=account_a, description="Solved by phone")


def driver_says(route, text, stop=None):
    return chat.message_send(route=route, stop=stop, author=MessageAuthor.DRIVER, text=text)


def failed_with_chat(phone, route, account):
    """The route's first stop failed by the driver with a reason that opens a chat."""
    reason = FailureReasonFactory(account=account, description="Nobody home", opens_chat=True)
    started(route)
    stop = route.stops.order_by("sequence").first()
    phone.post(f"/stops/{stop.pk}/start", step(5))
    response = phone.post(f"/stops/{stop.pk}/fail", step(10, reason_id=reason.pk))
    assert response.status_code == 200, response.json()
    return stop


def listed(response):
    return list(response.context["conversations"])


# The list ---------------------------------------------------------------------------------------


def test_open_conversations_newest_first_with_unread_counts(client_of, operator_a, driver, route):
    quiet = build(DriverFactory(account=driver.account, first_name="Bruno"))
    older = driver_says(quiet, "Flat tyre").conversation
    chat.messages_mark_read(messages=chat.messages_after(route=quiet), reader=MessageAuthor.SUPPORT)
    chat.message_send(route=quiet, author=MessageAuthor.SUPPORT, text="Call a tow truck")
    newer = driver_says(route, "Gate closed").conversation
    driver_says(route, "Anyone?")
    stop = route.stops.first()
    about_stop = driver_says(route, "Wrong number", stop=stop).conversation
    closed = driver_says(build(driver), "Done").conversation
    Conversation.objects.filter(pk=closed.pk).update(status=ConversationStatus.CLOSED)
    now = timezone.now()
    for conversation, minutes_ago in ((older, 30), (newer, 1), (about_stop, 10)):
        Conversation.objects.filter(pk=conversation.pk).update(
            last_message_at=now - timedelta(minutes=minutes_ago)
        )

    response = client_of(operator_a).get(CHAT)

    assert response.status_code == 200
    rows = listed(response)
    assert [row.pk for row in rows] == [newer.pk, about_stop.pk, older.pk]
    assert [row.unread_count for row in rows] == [2, 1, 0]
    assert rows[0].last_text == "Anyone?" and rows[2].last_author == MessageAuthor.SUPPORT
    body = response.content.decode()
    assert "Ana Lima" in body and "Wrong number" in body
    assert f"Stop {stop.sequence} · {stop.service.customer.name}" in body
    assert response.context["unread_total"] == 3
    assert 'hx-trigger="every 5s"' in body


def test_the_closed_filter_lists_closed_conversations(client_of, operator_a, route, solved):
    open_one = driver_says(route, "Still here").conversation
    closed = driver_says(route, "Help", stop=route.stops.first()).conversation
    chat.conversation_close(conversation=closed, user=operator_a, ticket_type=solved)

    client = client_of(operator_a)
    assert [row.pk for row in listed(client.get(CHAT, {"status": "closed"}))] == [closed.pk]
    assert [row.pk for row in listed(client.get(CHAT, {"status": "nonsense"}))] == [open_one.pk]
    body = client.get(CHAT, {"status": "closed"}).content.decode()
    assert "Solved by phone" in body


def test_htmx_polls_the_list_partial(client_of, operator_a, route):
    driver_says(route, "Gate closed")
    response = client_of(operator_a).get(CHAT, headers=HTMX)
    body = response.content.decode()
    assert "<html" not in body and 'id="chat-list"' in body and "Gate closed" in body
    assert "HX-Request" in response["Vary"]


def test_a_failure_that_opens_chat_is_listed_with_its_system_message(
    client_of, operator_a, phone, route, account_a
):
    stop = failed_with_chat(phone, route, account_a)
    response = client_of(operator_a).get(CHAT)
    (row,) = listed(response)
    assert row.stop_id == stop.pk and row.last_author == MessageAuthor.SYSTEM
    assert "Nobody home" in row.last_text
    body = response.content.decode()
    assert "Nobody home" in body and 'data-testid="awaiting"' in body


def test_the_list_runs_a_constant_number_of_queries(client_of, operator_a, account_a):
    client = client_of(operator_a)
    client.get(CHAT)  # the session and "last seen" settle on the first request

    def add(count):
        for _ in range(count):
            route = build(DriverFactory(account=account_a), count=1)
            driver_says(route, "Hello")
            driver_says(route, "About the stop", stop=route.stops.first())

    def queries():
        with CaptureQueriesContext(connection) as captured:
            response = client.get(CHAT, headers=HTMX)
        assert response.status_code == 200
        return len(captured), len(response.context["conversations"])

    add(2)
    few, listed_few = queries()
    add(10)
    many, listed_many = queries()
    assert (listed_few, listed_many) == (4, 24)
    assert few == many <= 4


def test_the_call_centre_list_runs_a_constant_number_of_queries(
    client_of, account_a, carrier, driver
):
    agent = UserFactory(account=account_a, role=Role.CALL_CENTRE, chat_states=["SP"])
    agent.chat_carriers.set([carrier])
    client = client_of(agent)
    client.get(CHAT)

    def queries():
        with CaptureQueriesContext(connection) as captured:
            client.get(CHAT, headers=HTMX)
        return len(captured)

    driver_says(build(driver), "One")
    few = queries()
    for _ in range(5):
        driver_says(build(driver), "More", stop=None)
    assert queries() == few <= 5


# A conversation ---------------------------------------------------------------------------------


def test_opening_a_conversation_marks_the_drivers_messages_read(
    client_of, operator_a, phone, route
):
    sent = phone.post("/chat/messages", {"route": route.pk, "text": "Gate closed"}).json()
    conversation = Conversation.objects.get()
    client = client_of(operator_a)
    assert listed(client.get(CHAT))[0].unread_count == 1

    response = client.get(url("chat_conversation", conversation))

    assert response.status_code == 200
    body = response.content.decode()
    assert "Gate closed" in body and 'class="chat-message chat-message-driver"' in body
    assert reverse("routes:detail", args=[route.pk]) in body
    assert Message.objects.get(pk=sent["id"]).read_at is not None
    assert listed(client.get(CHAT))[0].unread_count == 0
    # The driver sees that support read it.
    items = phone.get("/chat/messages", route=route.pk).json()["items"]
    assert items[0]["read_at"] is not None


def test_a_reply_is_appended_and_the_driver_reads_it_through_the_api(
    client_of, operator_a, phone, route
):
    first = driver_says(route, "Gate closed")
    conversation = first.conversation
    client = client_of(operator_a)

    response = client.post(
        url("chat_messages", conversation),
        {"text": "  Ring the bell twice  ", "after": first.pk},
        headers=HTMX,
    )

    assert response.status_code == 200
    reply = Message.objects.get(author=MessageAuthor.SUPPORT)
    assert (reply.text, reply.user, reply.read_at) == ("Ring the bell twice", operator_a, None)
    body = response.content.decode()
    assert 'hx-swap-oob="beforeend:#chat-messages"' in body
    assert f'id="message-{reply.pk}"' in body and f'id="message-{first.pk}"' not in body
    assert f"?after={reply.pk}" in body  # the next poll starts after the reply
    assert 'id="chat-reply"' in body and "Ring the bell twice</textarea>" not in body

    items = phone.get("/chat/messages", route=route.pk).json()["items"]
    assert [(item["author"], item["text"]) for item in items] == [
        ("driver", "Gate closed"),
        ("support", "Ring the bell twice"),
    ]
    reply.refresh_from_db()
    assert reply.read_at is not None
    assert items[1]["read_at"] is not None


def test_a_reply_without_htmx_goes_back_to_the_page(client_of, operator_a, route):
    conversation = driver_says(route, "Hi").conversation
    response = client_of(operator_a).post(url("chat_messages", conversation), {"text": "Hello"})
    assert response.status_code == 302
    assert response["Location"] == url("chat_conversation", conversation)
    assert conversation.messages.filter(author=MessageAuthor.SUPPORT, text="Hello").exists()


def test_an_empty_reply_shows_the_error_in_the_form(client_of, operator_a, route):
    conversation = driver_says(route, "Hi").conversation
    response = client_of(operator_a).post(
        url("chat_messages", conversation), {"text": "   "}, headers=HTMX
    )
    assert response.status_code == 200
    assert response["HX-Retarget"] == "#chat-reply" and response["HX-Reswap"] == "outerHTML"
    assert "Write a message." in response.content.decode()
    assert conversation.messages.count() == 1


def test_the_page_polls_for_messages_after_the_last_one(client_of, operator_a, route):
    first = driver_says(route, "One")
    conversation = first.conversation
    client = client_of(operator_a)
    page = client.get(url("chat_conversation", conversation)).content.decode()
    assert f"?after={first.pk}" in page and 'hx-trigger="every 3s"' in page

    second = driver_says(route, "Two")
    polled = client.get(url("chat_messages", conversation), {"after": first.pk}, headers=HTMX)

    body = polled.content.decode()
    assert f'id="message-{second.pk}"' in body and f'id="message-{first.pk}"' not in body
    assert f"?after={second.pk}" in body
    second.refresh_from_db()
    assert second.read_at is not None  # seen on the page: read by support
    quiet = client.get(url("chat_messages", conversation), {"after": second.pk}, headers=HTMX)
    assert "hx-swap-oob" not in quiet.content.decode()
    assert f"?after={second.pk}" in quiet.content.decode()


def test_a_poll_after_someone_closed_it_reloads_the_page(client_of, operator_a, route, solved):
    conversation = driver_says(route, "One").conversation
    chat.conversation_close(conversation=conversation, user=operator_a, ticket_type=solved)
    client = client_of(operator_a)
    polled = client.get(url("chat_messages", conversation), {"after": 0}, headers=HTMX)
    assert polled["HX-Refresh"] == "true"
    page = client.get(url("chat_conversation", conversation)).content.decode()
    assert 'id="chat-reply"' not in page and 'id="chat-poll"' not in page
    replied = client.post(url("chat_messages", conversation), {"text": "Late"}, headers=HTMX)
    assert "This conversation is closed." in replied.content.decode()


# Closing ----------------------------------------------------------------------------------------


def test_closing_requires_an_active_ticket_type_of_the_account(
    client_of, operator_a, route, account_b
):
    conversation = driver_says(route, "Hi").conversation
    retired = ChatTicketTypeFactory(account=operator_a.account, is_active=False)
    foreign = ChatTicketTypeFactory(account=account_b)
    client = client_of(operator_a)
    for data in ({}, {"ticket_type": retired.pk}, {"ticket_type": foreign.pk}):
        response = client.post(url("chat_close", conversation), data)
        assert response.status_code == 200
        assert response.context["close_form"].errors["ticket_type"]
        assert 'data-testid="ticket-type-error"' in response.content.decode()
    conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.OPEN
    with pytest.raises(Invalid):
        chat.conversation_close(conversation=conversation, user=operator_a, ticket_type=None)


def test_closing_records_who_when_and_how_and_tells_the_driver(
    client_of, operator_a, phone, route, solved
):
    conversation = driver_says(route, "Hi").conversation
    response = client_of(operator_a).post(
        url("chat_close", conversation), {"ticket_type": solved.pk}
    )
    assert response.status_code == 302
    conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.CLOSED
    assert (conversation.ticket_type, conversation.closed_by) == (solved, operator_a)
    assert conversation.closed_at is not None
    items = phone.get("/chat/messages", route=route.pk).json()["items"]
    assert items[-1]["author"] == "system" and "Solved by phone" in items[-1]["text"]
    # The driver's next message opens a new conversation; closing twice is refused.
    again = phone.post("/chat/messages", {"route": route.pk, "text": "One more thing"}).json()
    assert again["conversation_id"] != conversation.pk
    with pytest.raises(Conflict):
        chat.conversation_close(conversation=conversation, user=operator_a, ticket_type=solved)


def test_a_reversible_ticket_turns_the_failed_stop_into_done(
    client_of, operator_a, phone, route, account_a, reversible
):
    stop = failed_with_chat(phone, route, account_a)
    conversation = Conversation.objects.get(stop=stop)
    client = client_of(operator_a)
    page = client.get(url("chat_conversation", conversation)).content.decode()
    assert 'name="reverse_failure"' in page

    response = client.post(
        url("chat_close", conversation), {"ticket_type": reversible.pk, "reverse_failure": "on"}
    )

    assert response.status_code == 302
    stop.refresh_from_db()
    assert stop.status == StopStatus.DONE and stop.failure_reason is None
    stop.service.refresh_from_db()
    assert stop.service.status == ServiceStatus.DONE
    event = ServiceEvent.objects.filter(service=stop.service).latest("pk")
    assert (event.from_status, event.to_status) == (ServiceStatus.FAILED, ServiceStatus.DONE)
    assert event.data["ticket_type_id"] == reversible.pk
    assert event.data["conversation_id"] == conversation.pk
    assert event.note == "Customer came back" and event.actor_label == str(operator_a)
    conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.CLOSED
    assert conversation.ticket_type == reversible


def test_a_non_reversible_ticket_cannot_turn_a_failure_into_done(
    client_of, operator_a, phone, route, account_a, solved
):
    stop = failed_with_chat(phone, route, account_a)
    conversation = Conversation.objects.get(stop=stop)

    response = client_of(operator_a).post(
        url("chat_close", conversation), {"ticket_type": solved.pk, "reverse_failure": "on"}
    )

    assert response.status_code == 200
    assert "Only a reversible ticket type" in response.content.decode()
    stop.refresh_from_db()
    conversation.refresh_from_db()
    assert stop.status == StopStatus.FAILED
    assert conversation.status == ConversationStatus.OPEN  # nothing happened
    assert not ServiceEvent.objects.filter(to_status=ServiceStatus.DONE).exists()


def test_only_a_failed_stop_with_a_failed_service_can_be_reversed(
    operator_a, phone, route, account_a, reversible
):
    stop = failed_with_chat(phone, route, account_a)
    about_route = driver_says(route, "And the route?").conversation
    with pytest.raises(Invalid):  # a conversation about the route has no stop to reverse
        chat.conversation_close(
            conversation=about_route,
            user=operator_a,
            ticket_type=reversible,
            reverse_failure=True,
        )
    other = route.stops.exclude(pk=stop.pk).get()
    with pytest.raises(Conflict):  # not failed
        actions.stop_reverse_failure(
            stop=other, actor=Actor.for_user(operator_a), ticket_type=reversible
        )
    service_reschedule(service=stop.service, actor=Actor.system())
    with pytest.raises(Conflict):  # its service was rescheduled meanwhile
        actions.stop_reverse_failure(
            stop=stop, actor=Actor.for_user(operator_a), ticket_type=reversible
        )
    stop.refresh_from_db()
    assert stop.status == StopStatus.FAILED


def test_the_reverse_option_is_offered_only_for_a_failed_stop(client_of, operator_a, route):
    about_route = driver_says(route, "Hi").conversation
    page = client_of(operator_a).get(url("chat_conversation", about_route)).content.decode()
    assert 'name="reverse_failure"' not in page


# Who sees what ----------------------------------------------------------------------------------


def _chat_urls(conversation):
    return [
        ("get", url("chat_conversation", conversation)),
        ("get", url("chat_messages", conversation)),
        ("post", url("chat_messages", conversation)),
        ("post", url("chat_close", conversation)),
    ]


def assert_hidden(client, conversation):
    for method, address in _chat_urls(conversation):
        response = getattr(client, method)(address, {"text": "x"} if method == "post" else {})
        assert response.status_code == 404, (method, address)


def test_a_call_centre_user_sees_only_its_chat_scope(client_of, account_a, carrier, driver):
    other_carrier = CarrierFactory(account=account_a)
    ours = driver_says(build(driver), "Ours").conversation
    theirs = driver_says(
        build(DriverFactory(account=account_a, carrier=other_carrier)), "Theirs"
    ).conversation
    own_fleet = driver_says(build(DriverFactory(account=account_a)), "Own fleet").conversation
    agent = UserFactory(account=account_a, role=Role.CALL_CENTRE)
    agent.chat_carriers.set([carrier])
    client = client_of(agent)

    assert [row.pk for row in listed(client.get(CHAT))] == [ours.pk]
    assert client.get(url("chat_conversation", ours)).status_code == 200
    for hidden in (theirs, own_fleet):
        assert_hidden(client, hidden)


def test_a_call_centre_users_states_are_where_the_deliveries_are(
    client_of, account_a, carrier, driver
):
    in_rj = ServiceFactory(account=account_a, state="RJ", city="Rio de Janeiro")
    mixed = actions.route_create(
        account=account_a,
        actor=Actor.system(),
        driver=driver,
        vehicle=driver.vehicle,
        day=account_a.today(),
        services=[in_rj, ServiceFactory(account=account_a, state="SP")],
    )
    stop_rj = mixed.stops.get(service=in_rj)
    stop_sp = mixed.stops.exclude(pk=stop_rj.pk).get()
    about_rj = driver_says(mixed, "Rio", stop=stop_rj).conversation
    about_sp = driver_says(mixed, "São Paulo", stop=stop_sp).conversation
    about_route = driver_says(mixed, "The route").conversation  # has a stop in RJ
    only_sp = driver_says(build(driver), "SP only").conversation
    agent = UserFactory(account=account_a, role=Role.CALL_CENTRE, chat_states=["RJ"])
    client = client_of(agent)

    assert {row.pk for row in listed(client.get(CHAT))} == {about_rj.pk, about_route.pk}
    for hidden in (about_sp, only_sp):
        assert_hidden(client, hidden)

    # Carriers and states together: both must match.
    agent.chat_carriers.set([CarrierFactory(account=account_a)])
    assert listed(client.get(CHAT)) == []


def test_a_call_centre_user_without_a_chat_scope_sees_no_chat(client_of, account_a, route):
    conversation = driver_says(route, "Hi").conversation
    agent = UserFactory(account=account_a, role=Role.CALL_CENTRE)
    client = client_of(agent)
    response = client.get(CHAT)
    assert listed(response) == []
    assert "No chats are assigned to you yet." in response.content.decode()
    assert_hidden(client, conversation)


def test_a_branch_operator_sees_its_branchs_conversations(client_of, account_a, driver):
    north, south = BranchFactory(account=account_a), BranchFactory(account=account_a)
    ours = driver_says(build(driver), "North").conversation
    theirs = driver_says(build(driver), "South").conversation
    ours.route.branch = north
    ours.route.save(update_fields=["branch"])
    theirs.route.branch = south
    theirs.route.save(update_fields=["branch"])
    operator = UserFactory(account=account_a, role=Role.OPERATOR, branch=north)
    client = client_of(operator)
    assert [row.pk for row in listed(client.get(CHAT))] == [ours.pk]
    assert_hidden(client, theirs)


def test_another_accounts_conversation_is_404_everywhere(client_of, manager_b, route):
    conversation = driver_says(route, "Hi").conversation
    client = client_of(manager_b)
    assert listed(client.get(CHAT)) == []
    assert_hidden(client, conversation)


@pytest.mark.parametrize("role", [Role.PARTNER, Role.CARRIER])
def test_partner_and_carrier_users_get_404(client_of, account_a, carrier, route, role):
    conversation = driver_says(route, "Hi").conversation
    scope = (
        {"partner": PartnerFactory(account=account_a)}
        if role == Role.PARTNER
        else {"carrier": carrier}
    )
    user = UserFactory(account=account_a, role=role, **scope)
    client = client_of(user)
    assert client.get(CHAT).status_code == 404
    assert_hidden(client, conversation)


def test_anonymous_visitors_are_sent_to_log_in(client, route):
    conversation = driver_says(route, "Hi").conversation
    for address in (CHAT, url("chat_conversation", conversation)):
        response = client.get(address)
        assert response.status_code == 302 and "login" in response["Location"]


def test_managers_see_the_chat_in_the_navigation(client_of, manager_a):
    body = client_of(manager_a).get(CHAT).content.decode()
    assert f'href="{CHAT}"' in body
