"""traceledger HTTP API (FastAPI). `api.app:create_app()` builds it; `api.app:app` is the served instance.

May import all of `ledger`; nothing in `ledger` imports `api`, and no module here imports another
around a circle (`tests/python/test_layout.py`).
"""
