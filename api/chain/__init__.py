"""The chain as members see it: governance proposals and the explorer of on-chain records.

May import `api.core`, `api.access` and `ledger`; no other domain.
"""
