"""The scheduling part of the demo: the account's default windows, its policy, and about half of
the demo's pending services scheduled as an integration would. Seeding again books nothing twice."""

from datetime import time

from services.actions import Actor
from services.models import Service, ServiceStatus
from tracking.lib.errors import DomainError

from .actions import service_schedule
from .models import DeliveryWindow, Schedule, SchedulingPolicy, Weekday
from .selectors import available_slots

WEEKDAYS = [Weekday.MONDAY, Weekday.TUESDAY, Weekday.WEDNESDAY, Weekday.THURSDAY, Weekday.FRIDAY]
# name, start, end, capacity, weekdays
WINDOWS = [
    ("Manhã", time(8), time(12), 20, [*WEEKDAYS, Weekday.SATURDAY]),
    ("Tarde", time(13), time(18), 20, [*WEEKDAYS, Weekday.SATURDAY]),
    ("Noite", time(18), time(21), 10, WEEKDAYS),
]
CUTOFF_HOURS = 12
HORIZON_DAYS = 14
# Slots of the first days only: the demo's deliveries fall in the coming week.
FIRST_SLOTS = 8
DEMO_ACTOR = Actor.integration("demo")


def seed_scheduling(context):
    account = context.account
    SchedulingPolicy.objects.update_or_create(
        account=account,
        branch=None,
        defaults={"cutoff_hours": CUTOFF_HOURS, "horizon_days": HORIZON_DAYS},
    )
    for name, start, end, capacity, weekdays in WINDOWS:
        for weekday in weekdays:
            DeliveryWindow.objects.update_or_create(
                account=account,
                branch=None,
                weekday=weekday,
                name=name,
                defaults={"start": start, "end": end, "capacity": capacity, "is_active": True},
            )
    scheduled = set(Schedule.objects.filter(account=account).values_list("service_id", flat=True))
    services = Service.objects.filter(
        account=account, status=ServiceStatus.PENDING, external_id__startswith="DEMO-"
    ).order_by("external_id")
    # Every other demo service (by its number): the same half on every run.
    for index, service in enumerate(services):
        if index % 2 or service.pk in scheduled:
            continue
        slots = available_slots(service=service)[:FIRST_SLOTS]
        if not slots:
            continue
        slot = slots[index // 2 % len(slots)]
        try:
            # Set with the registration, in the seed's transaction: not news to confirm.
            service_schedule(
                service=service,
                day=slot.date,
                window=slot.window,
                actor=DEMO_ACTOR,
                confirm_first_date=False,
            )
        except DomainError:
            continue
