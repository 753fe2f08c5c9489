"""Forms for logging in and resetting passwords."""

from django import forms
from django.contrib.auth import forms as auth_forms
from django.utils.translation import gettext_lazy as _

from tracking.lib.forms import StyledFormMixin

from . import access
from .models import User


class LoginForm(StyledFormMixin, auth_forms.AuthenticationForm):
    username = auth_forms.UsernameField(
        label=_("E-mail"),
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}),
    )

    error_messages = {
        **auth_forms.AuthenticationForm.error_messages,
        "invalid_login": _("That e-mail and password do not match an active user."),
        "no_web_access": _("This user cannot log into the web platform."),
    }

    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        if not access.can_log_in(user):
            raise forms.ValidationError(self.error_messages["no_web_access"], code="no_web_access")


class PasswordResetForm(StyledFormMixin, auth_forms.PasswordResetForm):
    """Sends reset links through the task queue, also to invited users who have no password yet."""

    def get_users(self, email):
        candidates = User.objects.filter(email__iexact=email.strip(), is_active=True)
        return (user for user in candidates.select_related("account") if access.can_log_in(user))

    def send_mail(
        self,
        subject_template_name,
        email_template_name,
        context,
        from_email,
        to_email,
        html_email_template_name=None,
    ):
        from django.template import loader

        from .tasks import send_email

        subject = "".join(loader.render_to_string(subject_template_name, context).splitlines())
        body = loader.render_to_string(email_template_name, context)
        html = (
            loader.render_to_string(html_email_template_name, context)
            if html_email_template_name
            else None
        )
        send_email.delay_on_commit(
            subject=subject, body=body, to=[to_email], from_email=from_email, html=html
        )


def axes_username(request, credentials):
    """The e-mail a login attempt counts against, lower-cased so case does not evade the limit."""
    raw = (credentials or {}).get("username") or request.POST.get("username", "")
    return raw.strip().lower()


class SetPasswordForm(StyledFormMixin, auth_forms.SetPasswordForm):
    pass
