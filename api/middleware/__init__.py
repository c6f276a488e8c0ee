"""The floor above the domains: the ordered ASGI stack (`stack`), the request guard (`guard`), and
below them the connections a client may hold (`connections`, uvicorn's HTTP protocol as served).

May import every package of `api` except the app factory, and `ledger`.
"""
