"""The scheduling pages: calendar, window drill-down, a service's schedule page, bulk by file."""

from datetime import time, timedelta

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from scheduling.actions import service_schedule
from scheduling.models import DeliveryWindow, Origin, Schedule, ScheduleChange, WindowBooking
from services.actions import Actor
from services.models import EventKind, ServiceStatus
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def day(account_a):
    """A date within the horizon and well before any cut-off."""
    return timezone.localdate(timezone=account_a.tzinfo) + timedelta(days=3)


@pytest.fixture
def morning(account_a, day):
    return f.DeliveryWindowFactory(
        account=account_a, weekday=day.weekday(), name="Morning", capacity=5
    )


@pytest.fixture
def afternoon(account_a, day):
    return f.DeliveryWindowFactory(
        account=account_a,
        weekday=day.weekday(),
        name="Afternoon",
        start=time(13, 0),
        end=time(17, 0),
        capacity=5,
    )


@pytest.fixture
def service(account_a):
    return f.ServiceFactory(account=account_a, external_id="EXT-1")


def schedule(service, day, window):
    return service_schedule(service=service, day=day, window=window, actor=Actor.system())


def messages_of(response):
    return [str(message) for message in get_messages(response.wsgi_request)]


def urls(service, window, day):
    return [
        reverse("scheduling:index"),
        reverse("scheduling:window", args=[window.pk, day.isoformat()]),
        reverse("scheduling:service", args=[service.pk]),
        reverse("scheduling:bulk"),
    ]


# Calendar -----------------------------------------------------------------------------------------


def test_calendar_shows_used_and_free_capacity(client_of, operator_a, day, morning, afternoon):
    for _ in range(2):
        schedule(f.ServiceFactory(account=operator_a.account), day, morning)
    client = client_of(operator_a)
    for view in ("week", "day"):
        response = client.get(reverse("scheduling:index"), {"date": day.isoformat(), "view": view})
        assert response.status_code == 200
        page = response.content.decode()
        assert "2 of 5 used · 3 free" in page
        assert "0 of 5 used · 5 free" in page
        assert reverse("scheduling:window", args=[morning.pk, day.isoformat()]) in page
    week = client.get(reverse("scheduling:index"), {"date": day.isoformat()})
    assert len(week.context["days"]) == 7
    assert week.context["start"].weekday() == 0


def test_calendar_of_a_branch_uses_its_own_windows(client_of, manager_a, day, morning):
    branch = f.BranchFactory(account=manager_a.account)
    f.DeliveryWindowFactory(
        account=manager_a.account, branch=branch, weekday=day.weekday(), name="Branch slot"
    )
    client = client_of(manager_a)
    page = client.get(
        reverse("scheduling:index"), {"date": day.isoformat(), "branch": branch.pk}
    ).content.decode()
    assert "Branch slot" in page
    assert "Morning" not in page


def test_calendar_ignores_garbage_parameters(client_of, operator_a):
    response = client_of(operator_a).get(
        reverse("scheduling:index"), {"date": "nope", "view": "year", "branch": "x"}
    )
    assert response.status_code == 200


def test_window_lists_its_scheduled_services(client_of, operator_a, day, morning, service):
    schedule(service, day, morning)
    other_day = f.ServiceFactory(account=operator_a.account)
    response = client_of(operator_a).get(
        reverse("scheduling:window", args=[morning.pk, day.isoformat()])
    )
    page = response.content.decode()
    assert reverse("services:detail", args=[service.pk]) in page
    assert reverse("services:detail", args=[other_day.pk]) not in page


def test_window_with_a_bad_date_is_404(client_of, operator_a, morning):
    response = client_of(operator_a).get(reverse("scheduling:window", args=[morning.pk, "x"]))
    assert response.status_code == 404


# A service's schedule page ------------------------------------------------------------------------


def test_schedule_page_lists_slots_and_one_click_books(
    client_of, operator_a, day, morning, afternoon, service
):
    client = client_of(operator_a)
    url = reverse("scheduling:service", args=[service.pk])
    page = client.get(url).content.decode()
    assert f'data-slot="{day.isoformat()}-{morning.pk}"' in page
    assert f'data-slot="{day.isoformat()}-{afternoon.pk}"' in page

    response = client.post(url, {"date": day.isoformat(), "window": afternoon.pk})

    assert response.status_code == 302
    assert response.url == reverse("services:detail", args=[service.pk])
    stored = Schedule.objects.get(service=service)
    assert (stored.date, stored.window, stored.origin) == (day, afternoon, Origin.BACK_OFFICE)
    change = ScheduleChange.objects.get(service=service)
    assert change.origin == Origin.BACK_OFFICE and change.user == operator_a
    assert service.events.filter(kind=EventKind.SCHEDULED).count() == 1
    assert WindowBooking.objects.get(window=afternoon, date=day).booked == 1
    detail = client.get(response.url).content.decode()
    assert 'data-testid="delivery-date"' in detail
    assert "Afternoon" in detail
    assert "Change the delivery date" in detail


def test_a_full_window_gives_a_message(client_of, operator_a, day, account_a, service):
    full = f.DeliveryWindowFactory(account=account_a, weekday=day.weekday(), capacity=1)
    schedule(f.ServiceFactory(account=account_a), day, full)
    url = reverse("scheduling:service", args=[service.pk])
    response = client_of(operator_a).post(url, {"date": day.isoformat(), "window": full.pk})
    assert response.status_code == 302 and response.url == url
    assert "This window is full. Choose another one." in messages_of(response)
    assert not Schedule.objects.filter(service=service).exists()


def test_a_window_past_its_cutoff_gives_a_message(client_of, operator_a, account_a, service):
    today = timezone.localdate(timezone=account_a.tzinfo)
    window = f.DeliveryWindowFactory(
        account=account_a, weekday=today.weekday(), start=time(0, 0), end=time(0, 30)
    )
    response = client_of(operator_a).post(
        reverse("scheduling:service", args=[service.pk]),
        {"date": today.isoformat(), "window": window.pk},
    )
    assert response.status_code == 302
    assert messages_of(response) == ["This date and window are not offered for this service."]
    assert not Schedule.objects.exists()


def test_changing_after_the_current_cutoff_gives_a_message(
    client_of, operator_a, account_a, day, morning, service
):
    today = timezone.localdate(timezone=account_a.tzinfo)
    early = f.DeliveryWindowFactory(
        account=account_a, weekday=today.weekday(), start=time(0, 0), end=time(0, 30)
    )
    Schedule.objects.create(
        account=account_a, service=service, date=today, window=early, origin=Origin.CUSTOMER
    )
    response = client_of(operator_a).post(
        reverse("scheduling:service", args=[service.pk]),
        {"date": day.isoformat(), "window": morning.pk},
    )
    assert messages_of(response) == ["It is too late to change this delivery date."]
    assert Schedule.objects.get(service=service).window == early


def test_a_done_service_gives_a_message(client_of, operator_a, account_a, day, morning):
    done = f.ServiceFactory(account=account_a, status=ServiceStatus.DONE)
    response = client_of(operator_a).post(
        reverse("scheduling:service", args=[done.pk]),
        {"date": day.isoformat(), "window": morning.pk},
    )
    assert response.status_code == 302
    assert "cannot be changed" in messages_of(response)[0]
    assert not Schedule.objects.exists()


def test_another_accounts_window_is_refused(client_of, operator_a, account_b, day, service):
    foreign = f.DeliveryWindowFactory(account=account_b, weekday=day.weekday())
    response = client_of(operator_a).post(
        reverse("scheduling:service", args=[service.pk]),
        {"date": day.isoformat(), "window": foreign.pk},
    )
    assert response.status_code == 302
    assert messages_of(response) == ["Choose one of the dates and windows offered."]
    assert not Schedule.objects.exists() and not WindowBooking.objects.exists()


def test_garbage_post_gives_a_message(client_of, operator_a, service):
    response = client_of(operator_a).post(
        reverse("scheduling:service", args=[service.pk]), {"date": "soon", "window": "x"}
    )
    assert response.status_code == 302
    assert not Schedule.objects.exists()


# Who sees what ------------------------------------------------------------------------------------


def test_an_outsider_gets_404_on_every_object(client_of, manager_b, day, morning, service):
    schedule(service, day, morning)
    client = client_of(manager_b)
    for url in urls(service, morning, day)[1:3]:
        assert client.get(url).status_code == 404, url
    post = client.post(
        reverse("scheduling:service", args=[service.pk]),
        {"date": day.isoformat(), "window": morning.pk},
    )
    assert post.status_code == 404
    # Their own calendar and bulk page show nothing of account A.
    calendar = client.get(reverse("scheduling:index"), {"date": day.isoformat()})
    assert "Morning" not in calendar.content.decode()
    assert Schedule.objects.get(service=service).window == morning


@pytest.mark.parametrize("role", [Role.PARTNER, Role.CARRIER, Role.CALL_CENTRE])
def test_other_roles_get_404_everywhere(client_of, account_a, day, morning, service, role):
    client = client_of(f.UserFactory(account=account_a, role=role))
    for url in urls(service, morning, day):
        assert client.get(url).status_code == 404, url


def test_anonymous_is_sent_to_log_in(client, day, morning, service):
    for url in urls(service, morning, day):
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response.url


def test_a_branch_user_does_not_see_another_branchs_service(client_of, account_a, service):
    branch, other = f.BranchFactory(account=account_a), f.BranchFactory(account=account_a)
    service.branch = other
    service.save(update_fields=["branch"])
    user = f.UserFactory(account=account_a, role=Role.OPERATOR, branch=branch)
    response = client_of(user).get(reverse("scheduling:service", args=[service.pk]))
    assert response.status_code == 404


# Bulk by spreadsheet ------------------------------------------------------------------------------


def upload(client, content, name="schedule.csv"):
    data = content if isinstance(content, bytes) else content.encode()
    return client.post(reverse("scheduling:bulk"), {"file": SimpleUploadedFile(name, data)})


def test_bulk_schedules_good_rows_and_reports_bad_ones(
    client_of, operator_a, account_a, day, morning, afternoon, service, manager_b
):
    by_invoice = f.ServiceFactory(account=account_a, invoice_number="123", invoice_series="1")
    done = f.ServiceFactory(account=account_a, external_id="DONE", status=ServiceStatus.DONE)
    foreign = f.ServiceFactory(account=manager_b.account, external_id="FOREIGN")
    dmy = day.strftime("%d/%m/%Y")
    content = "\n".join(
        [
            "external_id,invoice_number,invoice_series,date,window",
            f"EXT-1,,,{day.isoformat()},morning",
            f",123,1,{dmy},13:00-17:00",
            f"DONE,,,{day.isoformat()},Morning",
            f"FOREIGN,,,{day.isoformat()},Morning",
            f"EXT-1,,,{day.isoformat()},Evening",
            "EXT-1,,,tomorrow,Morning",
            f"NOPE,,,{day.isoformat()},Morning",
        ]
    )
    response = upload(client_of(operator_a), content)
    assert response.status_code == 200
    rows = {row.number: row for row in response.context["report"].rows}
    assert [rows[n].result for n in range(2, 9)] == ["scheduled", "scheduled"] + ["rejected"] * 5
    assert "cannot be changed" in rows[4].reason
    assert rows[5].reason == "No such service."
    assert "Evening" in rows[6].reason
    assert "YYYY-MM-DD" in rows[7].reason
    assert Schedule.objects.get(service=service).window == morning
    assert Schedule.objects.get(service=by_invoice).window == afternoon
    assert not Schedule.objects.filter(service__in=[done, foreign]).exists()
    assert ScheduleChange.objects.get(service=service).origin == Origin.BACK_OFFICE
    page = response.content.decode()
    assert 'data-row="2" data-result="scheduled"' in page
    assert 'data-row="5" data-result="rejected"' in page


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("garbage.csv", "\x00\x01\x02binary\x00" * 50),
        ("header.csv", "external_id,date,window\n"),
        ("columns.csv", "external_id,when\nEXT-1,2030-01-01\n"),
        ("old.xls", b"\xd0\xcf\x11\xe0rest"),
        ("broken.xlsx", b"PK\x03\x04not a zip"),
    ],
)
def test_bulk_refuses_a_malformed_file_and_writes_nothing(
    client_of, operator_a, morning, service, name, content
):
    response = upload(client_of(operator_a), content, name=name)
    assert response.status_code == 200
    assert response.context["report"].error
    assert 'data-testid="bulk-error"' in response.content.decode()
    assert not Schedule.objects.exists()


def test_bulk_refuses_an_empty_upload(client_of, operator_a):
    response = upload(client_of(operator_a), "")
    assert response.context["report"] is None
    assert response.context["form"].errors["file"]


def test_bulk_reads_xlsx(client_of, operator_a, day, morning, service):
    import io

    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["id_externo", "data", "janela"])
    sheet.append(["EXT-1", day, "Morning"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    response = client_of(operator_a).post(
        reverse("scheduling:bulk"),
        {"file": SimpleUploadedFile("s.xlsx", buffer.getvalue())},
    )
    assert [row.result for row in response.context["report"].rows] == ["scheduled"]


# Admin --------------------------------------------------------------------------------------------


def test_managers_change_windows_and_operators_view_them(client_of, manager_a, operator_a, morning):
    change = reverse("admin:scheduling_deliverywindow_change", args=[morning.pk])
    manager_page = client_of(manager_a).get(change)
    assert manager_page.status_code == 200 and 'name="_save"' in manager_page.content.decode()
    operator_page = client_of(operator_a).get(change)
    assert operator_page.status_code == 200
    assert 'name="_save"' not in operator_page.content.decode()
    for model in ("deliverywindow", "schedulingpolicy"):
        assert (
            client_of(manager_a).get(reverse(f"admin:scheduling_{model}_changelist")).status_code
            == 200
        )
    assert DeliveryWindow.objects.count() == 1


def test_an_outsider_cannot_open_anothers_window_in_the_admin(client_of, manager_b, morning):
    change = reverse("admin:scheduling_deliverywindow_change", args=[morning.pk])
    assert client_of(manager_b).get(change).status_code == 404
