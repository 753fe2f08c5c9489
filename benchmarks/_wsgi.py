"""The WSGI application the load benchmarks serve with gunicorn: tracking.wsgi's, with the URL
map of benchmarks/_urls.py (the product's plus the baseline view), Celery tasks sent to the queue
named by BENCH_CELERY_QUEUE (no worker reads it; the benchmark deletes it afterwards) and, with
BENCH_LASTMILE_PAGE_CACHE_S, that many seconds for lastmile.views.PAGE_CACHE_S (0: the page
rendered on every request)."""

import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracking.settings")

# Before the application loads: settings are read here, the URL map at the first request.
settings.ROOT_URLCONF = "benchmarks._urls"
if os.environ.get("BENCH_CELERY_QUEUE"):
    settings.CELERY_TASK_DEFAULT_QUEUE = os.environ["BENCH_CELERY_QUEUE"]

application = get_wsgi_application()

if os.environ.get("BENCH_LASTMILE_PAGE_CACHE_S"):
    from lastmile import views

    views.PAGE_CACHE_S = int(os.environ["BENCH_LASTMILE_PAGE_CACHE_S"])
