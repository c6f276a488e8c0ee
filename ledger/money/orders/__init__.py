"""Orders: the settlement contract's batched calls (`settlement`), packed order terms and keyed
order keys (`terms`), the platform's secret and slots (`books`), the order table's lifecycle
(`lifecycle`: escrow, refund, dispute, ruling, settlement) and deliveries by carrier and from EPCIS
capture (`deliveries`).

Part of `ledger.money`, with its rights to import (`ledger.chain`, `ledger.store`, `ledger.access`,
base); never `ledger.money.recon`, which reads the orders.
"""
