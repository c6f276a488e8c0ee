"""EPCIS 2.0 events: schema validation, CBV 2.0 event hash IDs, capture, queries, proofs and
anchoring. Part of `ledger.trace`: may import `ledger.chain`, `ledger.store` and the base modules."""

from ledger import native

native.install()  # the hash path's compiled build, where it is the source's (before its modules are imported)
