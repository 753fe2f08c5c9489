"""The project's URLs with the services import mounted where services.urls will include it."""

from django.urls import include, path

from services import urls as services_urls
from tracking.urls import urlpatterns as project_urlpatterns

services_patterns = [*services_urls.urlpatterns, path("import/", include("services.import_urls"))]

# The first "services" namespace wins when reversing, so this one (with the import) comes first.
urlpatterns = [path("services/", include((services_patterns, "services"))), *project_urlpatterns]
