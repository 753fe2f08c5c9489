"""The URL map: each app has its place."""

from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path

from . import views
from .api import driver_api, integration_api

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("", include("accounts.urls")),
    path("admin/", admin.site.urls),
    path("services/", include("services.urls")),
    path("schedule/", include("scheduling.urls")),
    path("routes/", include("routes.urls")),
    path("reports/", include("reports.urls")),
    path("t/", include("lastmile.urls")),
    path("hooks/", include("lastmile.callback_urls")),
    path("driver/", include("routes.driver_app_urls")),
    path("gps/", include("routes.tracker_urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", integration_api.urls),
    path("api/driver/v1/", driver_api.urls),
]

# Also for an error raised by a middleware, which a middleware's process_exception never sees.
handler500 = "tracking.views.server_error"

if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
