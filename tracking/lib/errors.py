"""The one hierarchy of domain errors: views turn them into messages, APIs into the error shape."""


class DomainError(Exception):
    """A rule of the domain refused the operation; the message is safe to show to the user."""

    code = "domain_error"
    status = 400

    def __init__(self, message, *, code=None, fields=None):
        super().__init__(message)
        self.message = str(message)
        if code:
            self.code = code
        self.fields = fields or {}

    def as_payload(self):
        """The API's error shape: {"error": {"code", "message", "fields"}}."""
        return error_payload(self.code, self.message, self.fields)


class Invalid(DomainError):
    """The input is well-formed but a value is not acceptable; `fields` names which."""

    code = "invalid"
    status = 422


class NotFound(DomainError):
    """The object does not exist or is outside the caller's scope (the two look the same)."""

    code = "not_found"
    status = 404


class PermissionDenied(DomainError):
    """The caller may see the object but not do this to it."""

    code = "permission_denied"
    status = 403


class Conflict(DomainError):
    """The operation clashes with the object's current state (e.g. a transition not allowed)."""

    code = "conflict"
    status = 409


def error_payload(code, message, fields=None):
    return {"error": {"code": code, "message": str(message), "fields": fields or {}}}
