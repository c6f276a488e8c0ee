"""Traceability: EPCIS events (schema, hash IDs, storage, anchoring, queries), signed codes and
GS1 Digital Link, GS1 keys, Merkle trees, and verification against the chain.

May import `ledger.chain`, `ledger.store`, `ledger.access` and the base modules; never `money`,
`cli` or `api`.
"""
