"""The operators' pages for services."""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import render

from accounts import access

from . import selectors
from .models import ServiceStatus


@login_required
def index(request):
    if not access.can_see_section(request.user, access.SERVICES):
        raise Http404
    status = request.GET.get("status", "")
    if status not in ServiceStatus.values:
        status = ""
    services = selectors.service_list(user=request.user, status=status or None)
    page = Paginator(services, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "services/index.html",
        {"page": page, "status": status, "statuses": ServiceStatus.choices},
    )
