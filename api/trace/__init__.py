"""Master data and codes: products and batches, authorised recorders, code issues, code keys.

May import `api.core`, `api.access` and `ledger`; no other domain.
"""
