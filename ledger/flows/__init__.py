"""Flows: use-cases that cross domains, called alike by every door that starts them (the API's
routers, the CLI): a carrier's EPCIS capture confirming deliveries on chain (`delivery_capture`); a capture
checked against the trace-record profile of ledger.compliance (`compliance_capture`); the answer to
a scan, its verdict and the merchant's deposit, alike for the consumer's page and the JSON answer
(`scan_answer`).

May import `ledger.compliance`, `ledger.trace`, `ledger.money`, `ledger.chain`, `ledger.store`, `ledger.access` and the
base modules; never `cli` or `api`.
"""
