"""Devices attest the physical chain: SM2/SM3/SM4 (`sm2`, `gm`), the on-chain device registry, the
Mosquitto broker with TLS-PSK, signed batches of readings, their ingestion into EPCIS events.

May import `ledger.trace`, `ledger.chain`, `ledger.store`, `ledger.access` and the base modules."""
