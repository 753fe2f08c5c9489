"""Who calls the driver API: a device token (`Authorization: Bearer dt_...`) from
accounts.devices. request.auth is the DriverDevice; its driver (with account and vehicle) is
loaded with it."""

from ninja.security import HttpBearer

from accounts.devices import device_authenticate


class DeviceTokenAuth(HttpBearer):
    def authenticate(self, request, token):
        return device_authenticate(token)


def device_caller(request):
    """The Idempotency-Key namespace of a call: the driver (a key replayed after logging in again
    on the same phone still finds its first response)."""
    return f"driver:{request.auth.driver_id}"


def driver_of(request):
    return request.auth.driver
