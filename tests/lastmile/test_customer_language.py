"""The customer's language on the Last Mile page and in the messages: their own when set, else the
account's; the agency's template text is kept as written, only the values follow it."""

from datetime import datetime, time, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import NotificationTemplate, Trigger
from lastmile.models import Channel
from routes.actions import route_start, stop_change_status
from routes.models import StopStatus
from services.actions import Actor
from tests.lastmile.fakes import agency_with_templates, customer_of, route_of, service_registered

pytestmark = pytest.mark.django_db

SYSTEM = Actor.system()


def delivered(account, *, language):
    service = service_registered(account, customer=customer_of(account, language=language))
    route = route_of(account, [service])
    route_start(route=route, actor=SYSTEM)
    stop = route.stops.get(service=service)
    stop = stop_change_status(stop=stop, to_status=StopStatus.IN_PROGRESS, actor=SYSTEM)
    stop_change_status(stop=stop, to_status=StopStatus.DONE, actor=SYSTEM)
    return service


def page(client, service):
    return client.get(
        reverse("lastmile:page", args=[service.tracking_token]), HTTP_ACCEPT_LANGUAGE="es"
    )


def test_a_portuguese_customer_of_an_english_account_sees_the_page_in_portuguese(client, account_a):
    assert account_a.language == "en"
    service = delivered(account_a, language="pt-br")
    response = page(client, service)
    body = response.content.decode()
    assert response.status_code == 200
    assert response["Content-Language"] == "pt-br"
    assert '<html lang="pt-br">' in body
    assert "Entregue" in body  # Delivered
    assert "Ir para o conteúdo" in body  # Skip to content


def test_a_customer_without_a_language_sees_the_accounts(client, account_a):
    service = delivered(account_a, language="")
    response = page(client, service)
    body = response.content.decode()
    assert response["Content-Language"] == "en"
    assert '<html lang="en">' in body
    assert "Delivered" in body and "Skip to content" in body


# Messages -----------------------------------------------------------------------------------------


def a_deadline(account):
    """A future local 15:30 on a 20th: day and month cannot be mistaken for one another."""
    day = (timezone.localdate() + timedelta(days=40)).replace(day=20)
    return datetime.combine(day, time(15, 30), tzinfo=account.tzinfo)


def registered_with_deadline_sms(account, *, language):
    agency = agency_with_templates(account)
    NotificationTemplate.objects.filter(agency=agency, trigger=Trigger.SERVICE_REGISTERED).update(
        sms_body="{{agency_name}}: due {{deadline}}"
    )
    deadline = a_deadline(account)
    customer = customer_of(account, language=language)
    service = service_registered(account, agency=agency, customer=customer, deadline=deadline)
    return service.messages.get(channel=Channel.SMS), deadline


def test_a_portuguese_customer_gets_dates_the_portuguese_way_in_the_agencys_text(account_a):
    sms, deadline = registered_with_deadline_sms(account_a, language="pt-br")
    assert sms.language == "pt-br"
    # The agency's English text as written; the date the Brazilian way.
    assert sms.body == f"Acme Express: due {deadline:%d/%m/%Y %H:%M}"

    email = sms.service.messages.get(channel=Channel.EMAIL)
    assert email.language == "pt-br"
    assert email.subject == "We received your order PED-10422"  # the template is the agency's


def test_a_customer_without_a_language_gets_the_accounts(account_a):
    sms, deadline = registered_with_deadline_sms(account_a, language="")
    assert sms.language == "en"
    assert sms.body == f"Acme Express: due {deadline:%m/%d/%Y} 3:30 p.m."
