"""The URL map the served benchmarks use: the product's, with two benchmark-only URLs in front.

`_bench/hello` is the baseline of the load benchmarks: a bare view returning a fixed string,
behind the same server, settings and middleware as the pages it is compared with.
`_bench/server` answers the gunicorn master's PID, so a benchmark knows it is talking to the
server it started and not to an older one left on the port.
"""

import os

from django.http import HttpResponse
from django.urls import include, path


def hello(request):
    return HttpResponse("Hello, world")


def server(request):
    return HttpResponse(str(os.getppid()))


urlpatterns = [
    path("_bench/hello", hello),
    path("_bench/server", server),
    path("", include("tracking.urls")),
]
