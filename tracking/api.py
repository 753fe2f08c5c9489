"""Mounts the JSON APIs (django-ninja), each with its OpenAPI document and one error shape.

The integration API lives under /api/v1/ and the driver API under /api/driver/v1/; each app adds
its routers to these objects in its own api.py.
"""

from django.http import Http404
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.parser import Parser

from tracking.lib.errors import DomainError, error_payload


class NotAnObject(ValueError):
    """A JSON body that is valid JSON but not an object."""


class ObjectParser(Parser):
    """Every JSON body of these APIs is an object. Without this check ninja's schemas, which also
    read attributes of any object, take `5` or `"text"` for an object with no fields: a cancel
    or a change with such a body answered 200 as if `{}` had been sent."""

    def parse_body(self, request):
        data = super().parse_body(request)
        if not isinstance(data, dict):
            raise NotAnObject("Send a JSON object.")
        return data


def build_api(*, title, version, urls_namespace, description=""):
    api = NinjaAPI(
        title=title,
        version=version,
        urls_namespace=urls_namespace,
        description=description,
        parser=ObjectParser(),
    )

    @api.exception_handler(DomainError)
    def domain_error(request, exc):
        return api.create_response(request, exc.as_payload(), status=exc.status)

    @api.exception_handler(ValidationError)
    def validation_error(request, exc):
        fields = {}
        for error in exc.errors:
            location = [
                str(part)
                for part in error.get("loc", ())
                if part not in ("body", "payload", "query", "path", "header", "form", "file")
            ]
            fields.setdefault(".".join(location) or "__all__", []).append(error.get("msg", ""))
        payload = error_payload("invalid", "The request has invalid fields.", fields)
        return api.create_response(request, payload, status=422)

    @api.exception_handler(AuthenticationError)
    def authentication_error(request, exc):
        payload = error_payload("unauthenticated", "Missing or invalid credentials.")
        return api.create_response(request, payload, status=401)

    @api.exception_handler(Http404)
    def not_found(request, exc):
        return api.create_response(request, error_payload("not_found", "Not found."), status=404)

    @api.exception_handler(HttpError)
    def http_error(request, exc):
        if isinstance(exc.__cause__, NotAnObject):
            # ninja answers 400 for any body its parser refuses; this one is JSON, but invalid.
            fields = {"__all__": [str(exc.__cause__)]}
            payload = error_payload("invalid", "The request has invalid fields.", fields)
            return api.create_response(request, payload, status=422)
        payload = error_payload(f"http_{exc.status_code}", str(exc))
        return api.create_response(request, payload, status=exc.status_code)

    return api


integration_api = build_api(
    title="Last Mile integration API",
    version="1",
    urls_namespace="api-v1",
    description="Create services and read their status from a shop or ERP.",
)
driver_api = build_api(
    title="Last Mile driver API",
    version="1",
    urls_namespace="api-driver-v1",
    description="The contract of the driver's mobile app.",
)

integration_api.add_router("/services", "services.api.router")
integration_api.add_router("/services", "scheduling.api.router")
integration_api.add_router("/routes", "routes.api.router")
driver_api.add_router("", "routes.driver_api.router")
driver_api.add_router("", "routes.positions_api.router")
driver_api.add_router("", "routes.evidence_api.router")
