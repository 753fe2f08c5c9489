"""Dashboard pages under load: the home page and the services list against a bare Django view.
Prints the figures and writes benchmarks/results/pages.json."""

import time

from django.db import connection
from django.http import HttpResponse
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import include, path

from benchmarks import write_results

SERVICES = 2000
REQUESTS = 300


def baseline(request):
    return HttpResponse("ok")


urlpatterns = [path("__baseline__", baseline), path("", include("tracking.urls"))]


def measure(client, url, count):
    client.get(url)  # warm up caches, templates and connections
    started = time.perf_counter()
    for _ in range(count):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
    return count / (time.perf_counter() - started)


def queries(client, url):
    with CaptureQueriesContext(connection) as captured:
        client.get(url)
    return len(captured)


def run():
    from accounts import demo
    from accounts.models import User
    from services.models import Service

    output = demo.seed(slug="bench")
    account = User.objects.get(email=output["manager"]["email"]).account
    template = Service.objects.filter(account=account).first()
    extra = []
    for number in range(SERVICES - Service.objects.filter(account=account).count()):
        clone = Service(
            **{
                field.attname: getattr(template, field.attname)
                for field in Service._meta.concrete_fields
                # The id and the unique tracking token are each clone's own (their defaults).
                if not field.primary_key and not field.unique
            }
        )
        clone.external_id = f"BENCH-{number}"
        extra.append(clone)
    Service.objects.bulk_create(extra)

    client = Client()
    client.force_login(User.objects.get(email=output["manager"]["email"]))
    with override_settings(ROOT_URLCONF=__name__):
        base_rps = measure(client, "/__baseline__", REQUESTS)
        print(f"pages: baseline (bare view)   {base_rps:8.0f} req/s")
        results = {"services": SERVICES, "requests": REQUESTS, "baseline_rps": base_rps}
        for label, url in [("home", "/"), ("services list", "/services/")]:
            rps = measure(client, url, REQUESTS)
            count = queries(client, url)
            print(
                f"pages: {label:<20} {rps:8.0f} req/s  ratio to baseline {rps / base_rps:5.2f}"
                f"  queries {count}  ({SERVICES} services)"
            )
            results[label] = {"rps": rps, "ratio": rps / base_rps, "queries": count}
    write_results("pages", results)
