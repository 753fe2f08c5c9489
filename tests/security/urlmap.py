"""The project's URL map as a flat list, read from Django's resolver (the admin's and the APIs'
patterns included), so tests that walk it cover new views without listing them."""

from dataclasses import dataclass

from django.contrib.admin import ModelAdmin
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils.regex_helper import normalize


@dataclass(frozen=True)
class Leaf:
    """One URL pattern: `template` is a %-format string of its `params` (the URL without '/')."""

    template: str
    params: tuple
    callback: object
    name: str

    @property
    def view(self):
        """The view's dotted name, e.g. "routes.views.detail" (admin views are wrapped)."""
        callback = self.callback
        model_admin = getattr(callback, "model_admin", None)
        if model_admin is not None:
            return f"admin:{model_admin.model._meta.label_lower}"
        func = getattr(callback, "view_class", None) or getattr(callback, "func", callback)
        return f"{getattr(func, '__module__', '?')}.{getattr(func, '__qualname__', func)}"

    @property
    def model_admin(self):
        """The ModelAdmin of an admin view: Django's own views carry it, a custom view wrapped
        by admin_view() is one of its bound methods."""
        func = self.callback
        while func is not None:
            if getattr(func, "model_admin", None) is not None:
                return func.model_admin
            owner = getattr(func, "__self__", None)
            if isinstance(owner, ModelAdmin):
                return owner
            func = getattr(func, "__wrapped__", None)
        return None

    def url(self, values):
        return "/" + self.template % values

    @property
    def is_api(self):
        return self.template.startswith("api/")


def leaves(patterns=None, prefix="", namespace=""):
    """Every URLPattern under the root URLconf, with its full regex reduced to a template."""
    if patterns is None:
        patterns = get_resolver().url_patterns
    for pattern in patterns:
        regex = pattern.pattern.regex.pattern.removeprefix("^")
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from leaves(pattern.url_patterns, prefix + regex, inner)
        elif isinstance(pattern, URLPattern):
            # The first of Django's readings of the regex is the one reverse() uses too.
            template, params = normalize(prefix + regex)[0]
            name = f"{namespace}{pattern.name}" if pattern.name else ""
            yield Leaf(template, tuple(params), pattern.callback, name)


def unique_leaves():
    """Leaves with one entry per URL template (django-ninja adds one pattern per operation)."""
    seen = {}
    for leaf in leaves():
        seen.setdefault(leaf.template, leaf)
    return list(seen.values())
