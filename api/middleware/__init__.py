"""The floor above the domains: the ordered ASGI stack (`stack`) and the request guard (`guard`).

May import every package of `api` except the app factory, and `ledger`.
"""
