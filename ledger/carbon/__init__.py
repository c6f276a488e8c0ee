"""Carbon footprints of batches computed from their own EPCIS genealogy (ISO 14083 / GLEC style
transport, mass allocation), emission-factor tables as signed, anchored data, and WBCSD PACT v3
ProductFootprint documents (see docs/carbon.md).

May import `ledger.compliance` (the genealogy walk and step names), `ledger.trace` (identifiers,
event hashes, Merkle trees, proofs), `ledger.chain` (anchoring), `ledger.store` (its tables) and
`ledger.access` (partners' secrets sealed at rest)."""
