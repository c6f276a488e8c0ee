"""The GS1-conformant Digital Link resolver: the ASGI front every `/01/...` URI meets
(`gs1_front`: linksets, link types, CORS, 400s) and the link registry's routes (`links`).

May import `api.core`, `api.access` and `ledger`; no other domain.
"""
