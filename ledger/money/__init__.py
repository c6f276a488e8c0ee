"""Money: the settlement token, guarantee deposits and cases (vault), order escrow, settlement
and payouts, the order table's lifecycle, and reconciliation of orders against the chain.
Amounts are integer fen everywhere.

May import `ledger.chain`, `ledger.store`, `ledger.access` and the base modules; never `trace`,
`cli` or `api`.
"""
