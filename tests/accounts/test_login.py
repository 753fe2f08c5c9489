import logging
import re

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from django.core import mail
from django.urls import reverse

from accounts.models import Role
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def post_login(client, email, password, **extra):
    return client.post(reverse("login"), {"username": email, "password": password}, **extra)


def test_login_page_renders(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert b'name="username"' in response.content
    assert b'type="email"' in response.content


def test_manager_logs_in_with_email_and_lands_on_home(client, manager_a, password):
    response = post_login(client, "Manager@ACME.test", password)
    assert response.status_code == 302
    assert response.url == reverse("home")
    home = client.get(reverse("home"))
    assert home.status_code == 200
    assert home.context["user"] == manager_a


def test_wrong_password_is_a_form_error(client, manager_a):
    response = post_login(client, manager_a.email, "not the password")
    assert response.status_code == 200
    assert "That e-mail and password do not match an active user." in response.content.decode()
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("role", [Role.INTEGRATION])
def test_api_only_roles_cannot_log_into_the_web(client, account_a, role, password):
    user = UserFactory(account=account_a, role=role)
    response = post_login(client, user.email, password)
    assert response.status_code == 200
    assert "This user cannot log into the web platform." in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_users_of_an_inactive_account_cannot_log_in(client, manager_a, password):
    manager_a.account.is_active = False
    manager_a.account.save()
    response = post_login(client, manager_a.email, password)
    assert "_auth_user_id" not in client.session
    assert response.status_code == 200


def test_anonymous_home_redirects_to_login(client):
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_logout_needs_post_and_ends_the_session(client_of, manager_a):
    client = client_of(manager_a)
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert client.get(reverse("home")).status_code == 302


def test_repeated_failures_lock_the_login_and_are_logged(client, manager_a, password, caplog):
    caplog.set_level(logging.WARNING, logger="axes")
    for _ in range(5):
        post_login(client, manager_a.email, "wrong", REMOTE_ADDR="203.0.113.7")
    # Even the right password is refused while locked out, from that address.
    response = post_login(client, manager_a.email, password, REMOTE_ADDR="203.0.113.7")
    assert response.status_code == 429
    assert "Too many attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert AccessFailureLog.objects.filter(username=manager_a.email).count() >= 5
    assert AccessAttempt.objects.get(username=manager_a.email).failures_since_start >= 5
    assert any("login failure" in record.getMessage().lower() for record in caplog.records)
    # Changing the e-mail's case does not get around the limit.
    response = post_login(client, manager_a.email.upper(), password, REMOTE_ADDR="203.0.113.7")
    assert response.status_code == 429


def test_failures_from_one_address_do_not_lock_out_another(client, manager_a, password):
    for _ in range(5):
        post_login(client, manager_a.email, "wrong", REMOTE_ADDR="203.0.113.7")
    response = post_login(client, manager_a.email, password, REMOTE_ADDR="198.51.100.9")
    assert response.status_code == 302


def test_password_reset_by_email_sets_a_new_password(
    client, manager_a, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("password_reset"), {"email": manager_a.email})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [manager_a.email]
    link = re.search(r"https?://[^/\s]+(/password-reset/[^\s]+/)", message.body).group(1)
    form_page = client.get(link, follow=True)
    assert form_page.context["validlink"]
    response = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "a brand new secret 42", "new_password2": "a brand new secret 42"},
    )
    assert response.status_code == 302
    manager_a.refresh_from_db()
    assert manager_a.check_password("a brand new secret 42")
    # The link works once.
    assert not client.get(link, follow=True).context["validlink"]


def test_password_reset_for_unknown_email_says_the_same_and_sends_nothing(
    client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("password_reset"), {"email": "nobody@example.com"})
    assert response.status_code == 302
    assert mail.outbox == []


def test_last_seen_is_recorded(client_of, manager_a):
    assert manager_a.last_seen_at is None
    client_of(manager_a).get(reverse("home"))
    manager_a.refresh_from_db()
    assert manager_a.last_seen_at is not None
