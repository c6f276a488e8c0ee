"""Money: deposits, orders and their steps, payouts, the token, reconciliation runs; integer-fen
fields (`fields`).

May import `api.core`, `api.access` and `ledger`; no other domain.
"""
