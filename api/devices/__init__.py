"""Devices over HTTP: register a device (its PSK is handed out once), list, revoke, readings."""

from .router import router

__all__ = ["router"]
