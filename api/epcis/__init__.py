"""EPCIS events. Two doors: this project's own API under `/v1/epcis` (`v1`) and the GS1 EPCIS 2.0
REST binding under `/epcis/` (the package `binding`); the trace-record profile checks on
captured events (`capture_profile`, `compliance`, `/v1/compliance`).

May import `api.core`, `api.access` and `ledger`; no other domain.
"""
