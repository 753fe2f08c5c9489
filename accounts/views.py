"""Login, logout and password reset pages."""

from django.contrib.auth import views as auth_views
from django.urls import reverse_lazy

from .forms import LoginForm, PasswordResetForm


class LoginView(auth_views.LoginView):
    form_class = LoginForm
    template_name = "registration/login.html"


class PasswordResetView(auth_views.PasswordResetView):
    form_class = PasswordResetForm
    email_template_name = "registration/password_reset_email.txt"
    subject_template_name = "registration/password_reset_subject.txt"
    success_url = reverse_lazy("password_reset_done")
