"""The chain: the Solidity toolchain and compiler, the local node (and the consortium network),
deployment and its manifest, the JSON-RPC client (keys, nonces, receipts) and the indexer.

May import `ledger.store`, `ledger.access` and the base modules (`errors`, `paths`, `clock`);
never `trace`, `money`, `cli` or `api`.
"""
