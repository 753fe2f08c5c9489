"""Helpers shared by browser tests."""


def log_in(page, email, password):
    """Logs in through the login page (the browser context speaks English)."""
    page.goto("/")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
