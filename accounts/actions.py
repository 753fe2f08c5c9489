"""Writes on accounts and users."""

from django.utils import translation

from .forms import PasswordResetForm


def user_send_password_reset(*, user, domain, use_https=True):
    """Queues an e-mail with a one-time link to set a new password; the old one keeps working
    until the link is used. Sends nothing to users who cannot log in."""
    language = user.account.language if user.account else None
    form = PasswordResetForm(data={"email": user.email})
    form.is_valid()
    with translation.override(language):
        form.save(
            domain_override=domain,
            use_https=use_https,
            subject_template_name="registration/password_reset_subject.txt",
            email_template_name="registration/password_reset_email.txt",
        )
