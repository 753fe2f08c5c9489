from ninja import Router

from .driver_auth import DeviceTokenAuth

router = Router(auth=DeviceTokenAuth(), tags=["driver"])
