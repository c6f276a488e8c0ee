"""Background work: the EPCIS anchorer, webhook deliveries, PACT requests' answers and the
code-issue catch-up, each loop led by one process of the deployment at a time (`ledger.store.locks`
leases). Run by `ledger worker` (as `make run` does), or inside the API's web workers where a
setting says so.

May import `ledger.chain`, `ledger.store`, `ledger.access`, `ledger.trace`, `ledger.flows`,
`ledger.privacy` and `ledger.carbon` (answering PACT requests).
"""
