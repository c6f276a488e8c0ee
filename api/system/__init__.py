"""Liveness, health and deployment information (`routes`, `health`).

May import `api.core`, `api.access` and `ledger`; no other domain.
"""
