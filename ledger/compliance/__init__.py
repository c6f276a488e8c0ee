"""Compliance with the national food-traceability rules: GB 32100 party identities
(`credit_code`, `parties`), the trace-record profile of GB/T 38156 / GB/T 37029 / the Food Safety
Law and each event's completeness against it (`profile`, `completeness`), genealogy trace
(`genealogy`), per-batch reports (`report`), retention and pruning past it (`retention`, `prune`)
and recall drafts (`recall`).

May import `ledger.trace`, `ledger.chain`, `ledger.store` and the base modules; never `money`,
`flows`, `cli` or `api`.
"""
