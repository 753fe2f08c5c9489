"""Panels that higher apps add to the service page, without services importing them.

A higher app registers a function in its AppConfig.ready():

    services.panels.register(messages_panel)

Each function takes (request, service) — a service the user may see, already loaded by the
view — and returns (template_name, context) to show a panel, or None to show nothing. Panels are
rendered in the order they were registered, below the service's history.
"""

from django.template.loader import render_to_string

_panels = []


def register(func):
    """Adds func to the service page's panels (once, however often it is registered)."""
    if func not in _panels:
        _panels.append(func)
    return func


def render_panels(request, service):
    """The HTML of each registered panel that has something to show for the service."""
    rendered = []
    for func in _panels:
        panel = func(request, service)
        if panel is None:
            continue
        template_name, context = panel
        rendered.append(
            render_to_string(template_name, {"service": service, **context}, request=request)
        )
    return rendered
