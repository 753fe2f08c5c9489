"""The services status machine, transition by transition, and the event log it writes."""

import itertools
from datetime import timedelta

import pytest
from django.utils import timezone

from services import actions
from services.actions import Actor
from services.models import (
    TRANSITIONS,
    ActorType,
    EventKind,
    Service,
    ServiceEvent,
    ServiceStatus,
)
from services.signals import service_event_recorded
from tests.factories import ServiceFactory, StatusChangeReasonFactory
from tracking.lib.errors import Conflict, DomainError

pytestmark = pytest.mark.django_db
S = ServiceStatus

ALLOWED = {
    (S.PENDING, S.ROUTED), (S.PENDING, S.CANCELLED),
    (S.ROUTED, S.PENDING), (S.ROUTED, S.IN_PROGRESS), (S.ROUTED, S.CANCELLED),
    (S.IN_PROGRESS, S.PAUSED), (S.IN_PROGRESS, S.DONE), (S.IN_PROGRESS, S.FAILED),
    (S.PAUSED, S.IN_PROGRESS), (S.PAUSED, S.FAILED),
    (S.FAILED, S.PENDING), (S.FAILED, S.RETURNED), (S.FAILED, S.DONE), (S.FAILED, S.CANCELLED),
}  # fmt: skip
ALL_PAIRS = [(a, b) for a, b in itertools.product(S.values, S.values) if a != b]


def test_the_machine_is_exactly_the_documented_one():
    declared = {(a, b) for a, targets in TRANSITIONS.items() for b in targets}
    assert declared == ALLOWED


@pytest.mark.parametrize(("from_status", "to_status"), sorted(ALLOWED))
def test_allowed_transition_changes_status_and_records_an_event(account_a, from_status, to_status):
    service = ServiceFactory(account=account_a, status=from_status)
    actions.service_change_status(
        service=service, to_status=to_status, actor=Actor.system(), note="moved"
    )
    service.refresh_from_db()
    assert service.status == to_status
    event = service.events.get()
    assert (event.kind, event.from_status, event.to_status) == (
        EventKind.STATUS,
        from_status,
        to_status,
    )
    assert event.actor_type == ActorType.SYSTEM
    assert event.note == "moved"


@pytest.mark.parametrize(
    ("from_status", "to_status"), [pair for pair in ALL_PAIRS if pair not in ALLOWED]
)
def test_forbidden_transition_is_a_domain_error_and_changes_nothing(
    account_a, from_status, to_status
):
    service = ServiceFactory(account=account_a, status=from_status)
    with pytest.raises(Conflict) as error:
        actions.service_change_status(service=service, to_status=to_status, actor=Actor.system())
    assert error.value.code == "invalid_transition"
    service.refresh_from_db()
    assert service.status == from_status
    assert not service.events.exists()


def test_repeating_the_current_status_is_a_no_op(account_a):
    service = ServiceFactory(account=account_a, status=S.IN_PROGRESS)
    actions.service_change_status(service=service, to_status=S.IN_PROGRESS, actor=Actor.system())
    assert not service.events.exists()


def test_operators_need_a_reason_for_status_change(account_a, operator_a):
    service = ServiceFactory(account=account_a, status=S.PENDING)
    with pytest.raises(DomainError) as error:
        actions.service_change_status(
            service=service, to_status=S.CANCELLED, actor=Actor.for_user(operator_a)
        )
    assert error.value.code == "reason_required"
    reason = StatusChangeReasonFactory(account=account_a)
    actions.service_change_status(
        service=service, to_status=S.CANCELLED, actor=Actor.for_user(operator_a), reason=reason
    )
    event = service.events.get()
    assert event.reason == reason
    assert event.actor_user == operator_a


def test_another_accounts_reason_is_refused(account_a, account_b, operator_a):
    service = ServiceFactory(account=account_a)
    foreign = StatusChangeReasonFactory(account=account_b)
    with pytest.raises(DomainError):
        actions.service_change_status(
            service=service, to_status=S.CANCELLED, actor=Actor.for_user(operator_a), reason=foreign
        )


def test_reschedule_counts_an_attempt_and_returns_after_the_maximum(account_a):
    account_a.max_attempts = 2
    account_a.save()
    service = ServiceFactory(account=account_a, status=S.FAILED)
    actions.service_reschedule(service=service, actor=Actor.customer())
    service.refresh_from_db()
    assert (service.status, service.attempt_count) == (S.PENDING, 1)
    Service.objects.filter(pk=service.pk).update(status=S.FAILED)
    actions.service_reschedule(service=service, actor=Actor.customer())
    service.refresh_from_db()
    assert (service.status, service.attempt_count) == (S.RETURNED, 2)
    kinds = list(service.events.values_list("kind", "to_status"))
    assert kinds == [(EventKind.RESCHEDULED, S.PENDING), (EventKind.STATUS, S.RETURNED)]


def test_only_failed_services_are_rescheduled(account_a):
    service = ServiceFactory(account=account_a, status=S.DONE)
    with pytest.raises(Conflict):
        actions.service_reschedule(service=service, actor=Actor.system())


def test_only_pending_services_are_editable(account_a):
    service = ServiceFactory(account=account_a, status=S.PENDING, description="old")
    actions.service_update(service=service, actor=Actor.system(), values={"description": "new"})
    event = service.events.get()
    assert event.kind == EventKind.UPDATED
    assert event.data["changed"] == {"description": ["old", "new"]}
    Service.objects.filter(pk=service.pk).update(status=S.ROUTED)
    with pytest.raises(Conflict) as error:
        actions.service_update(service=service, actor=Actor.system(), values={"description": "x"})
    assert error.value.code == "not_editable"


def test_create_records_a_created_event_with_packages(account_a):
    customer = ServiceFactory(account=account_a).customer
    service = actions.service_create(
        account=account_a,
        actor=Actor.integration("ERP key"),
        values={"customer": customer, "external_id": "E-1", "city": "São Paulo"},
        packages=[{"barcode": "B1"}, {"barcode": "B2", "description": "fragile"}],
    )
    assert service.status == S.PENDING
    assert sorted(service.packages.values_list("barcode", flat=True)) == ["B1", "B2"]
    event = service.events.get()
    assert (event.kind, event.actor_type, event.actor_label) == (
        EventKind.CREATED, ActorType.INTEGRATION, "ERP key",
    )  # fmt: skip
    with pytest.raises(Conflict):
        actions.service_create(
            account=account_a,
            actor=Actor.system(),
            values={"customer": customer, "external_id": "E-1"},
        )


def test_tracking_tokens_are_long_and_unique(account_a):
    tokens = {ServiceFactory(account=account_a).tracking_token for _ in range(20)}
    assert len(tokens) == 20
    assert all(len(token) >= 22 for token in tokens)  # >= 128 bits in URL-safe base64


def test_customer_is_found_not_duplicated(account_a, account_b):
    first = actions.customer_find_or_create(
        account=account_a,
        data={"name": "Maria", "document": "529.982.247-25", "external_code": "C-1"},
    )
    by_code = actions.customer_find_or_create(
        account=account_a, data={"name": "Maria S.", "external_code": "C-1"}
    )
    by_document = actions.customer_find_or_create(
        account=account_a, data={"name": "Maria", "document": "52998224725"}
    )
    by_email = actions.customer_find_or_create(
        account=account_a,
        data={"name": "M", "email": "maria@example.com", "document": "52998224725"},
    )
    assert first.pk == by_code.pk == by_document.pk == by_email.pk
    other = actions.customer_find_or_create(
        account=account_b, data={"name": "Maria", "external_code": "C-1"}
    )
    assert other.pk != first.pk


class Received:
    def __init__(self):
        self.events = []

    def __call__(self, sender, event_id, account_id, **kwargs):
        self.events.append(event_id)


@pytest.fixture
def received():
    receiver = Received()
    service_event_recorded.connect(receiver)
    yield receiver
    service_event_recorded.disconnect(receiver)


def test_events_are_dispatched_once_after_commit(
    account_a, received, django_capture_on_commit_callbacks
):
    service = ServiceFactory(account=account_a)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        actions.service_change_status(service=service, to_status=S.ROUTED, actor=Actor.system())
    # Nothing is sent before the transaction commits.
    assert received.events == []
    for callback in callbacks:
        callback()
    event = service.events.get()
    assert received.events == [event.pk]
    event.refresh_from_db()
    assert event.dispatched_at is not None
    # Dispatching again does nothing.
    assert actions.service_event_dispatch(event_id=event.pk) is False
    assert received.events == [event.pk]


def test_the_sweep_redispatches_events_left_behind(account_a, received):
    service = ServiceFactory(account=account_a)
    # The commit hook never ran (a process died): the event stays undispatched.
    actions.service_change_status(service=service, to_status=S.ROUTED, actor=Actor.system())
    event = service.events.get()
    assert event.dispatched_at is None
    assert actions.service_events_redispatch() == 0  # too recent: its own hook may still run
    ServiceEvent.objects.filter(pk=event.pk).update(
        received_at=timezone.now() - timedelta(minutes=2)
    )
    from services.tasks import redispatch_service_events

    assert redispatch_service_events.delay().get() == 1
    assert received.events == [event.pk]


def test_a_failing_receiver_does_not_undo_the_change(account_a, django_capture_on_commit_callbacks):
    def broken(**kwargs):
        raise RuntimeError("broker down")

    service_event_recorded.connect(broken)
    try:
        service = ServiceFactory(account=account_a)
        with django_capture_on_commit_callbacks(execute=True):
            actions.service_change_status(service=service, to_status=S.ROUTED, actor=Actor.system())
    finally:
        service_event_recorded.disconnect(broken)
    service.refresh_from_db()
    assert service.status == S.ROUTED
    assert service.events.get().dispatched_at is None  # left for the sweep


def test_finished_at_is_when_an_outcome_was_reached_and_cleared_when_reopened(account_a):
    """The reports place a finished service by finished_at: the device's time of its outcome."""
    system = Actor.system("test")
    service = ServiceFactory(account=account_a)
    assert service.finished_at is None
    for status in (ServiceStatus.ROUTED, ServiceStatus.IN_PROGRESS):
        service = actions.service_change_status(service=service, to_status=status, actor=system)
        assert service.finished_at is None
    on_the_phone = timezone.now() - timedelta(minutes=7)
    service = actions.service_change_status(
        service=service, to_status=ServiceStatus.FAILED, actor=system, recorded_at=on_the_phone
    )
    service.refresh_from_db()
    assert service.finished_at == on_the_phone

    service = actions.service_reschedule(service=service, actor=system)
    service.refresh_from_db()
    assert (service.status, service.finished_at) == (ServiceStatus.PENDING, None)

    before = timezone.now()
    service = actions.service_cancel(service=service, actor=system)
    service.refresh_from_db()
    assert service.finished_at >= before
