"""The shell that knows no domain: settings, the process context (`services`), errors and the
registry through which each domain declares its paths' policies (`domain`), caches, limits,
idempotency, self-signing, GS1 path segments.

May import `ledger`; imports no other package of `api` (tests/python/test_layout.py).
"""
