"""Devices over HTTP: register a device (its PSK is handed out once), list, revoke, readings.

May import `ledger.devices`, `ledger.store`, `ledger.access`, base modules and api's shared
modules (auth, errors, services)."""

from .router import router

__all__ = ["router"]
