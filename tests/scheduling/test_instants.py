"""The instants a schedule stores (window start and end, end of the date) follow the time zone
of the service's branch, else its account's, when either changes or the service changes branch."""

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from scheduling.models import Origin, Schedule
from services.actions import Actor, service_update
from tests import factories as f

pytestmark = pytest.mark.django_db

DAY = date(2030, 3, 4)


def instants(schedule):
    schedule.refresh_from_db()
    return schedule.starts_at, schedule.ends_at, schedule.date_ends_at


def at(hour, zone):
    return (
        datetime(2030, 3, 4, hour, tzinfo=ZoneInfo(zone))
        if hour < 24
        else datetime(2030, 3, 5, 0, tzinfo=ZoneInfo(zone))
    )


def test_instants_follow_time_zone_changes(account_a, django_capture_on_commit_callbacks):
    account_a.time_zone = "America/Sao_Paulo"
    account_a.save()
    window = f.DeliveryWindowFactory(account=account_a, start=time(8), end=time(12))
    branch = f.BranchFactory(account=account_a, time_zone="")
    service = f.ServiceFactory(account=account_a, branch=branch)
    schedule = Schedule.objects.create(
        account=account_a, service=service, date=DAY, window=window, origin=Origin.CUSTOMER
    )
    zone = "America/Sao_Paulo"
    assert instants(schedule) == (at(8, zone), at(12, zone), at(24, zone))

    account_a.time_zone = "America/Manaus"
    account_a.save()
    zone = "America/Manaus"
    assert instants(schedule) == (at(8, zone), at(12, zone), at(24, zone))

    branch.time_zone = "America/Noronha"
    branch.save(update_fields=["time_zone"])
    zone = "America/Noronha"
    assert instants(schedule) == (at(8, zone), at(12, zone), at(24, zone))

    # The service moves to a branch in another zone (an edit while pending).
    other = f.BranchFactory(account=account_a, time_zone="America/Rio_Branco")
    with django_capture_on_commit_callbacks(execute=True):
        service_update(service=service, actor=Actor.system(), values={"branch": other})
    zone = "America/Rio_Branco"
    assert instants(schedule) == (at(8, zone), at(12, zone), at(24, zone))
