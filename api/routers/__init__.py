"""One router module per resource. May import `ledger` and the shared `api` modules."""
