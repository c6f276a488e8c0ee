"""traceledger: blockchain-backed traceability and settlement ledger (Python side).

One package per domain, layered so that imports only point down:
- `chain`: toolchain, compiler, node and network, deployment, JSON-RPC client, indexer;
- `trace`: EPCIS, signed codes and Digital Link, GS1 keys, Merkle trees, verification;
- `money`: token, vault, settlement, orders, reconciliation;
- `access`: sign-in and roles; `store`: models, sessions, migrations;
- `cli`: the `ledger` command;
- base modules every package may import: `errors`, `paths`, `clock`.
`cli` may import everything here; `trace` and `money` import `chain`, `store` and `access`;
`chain` imports `store` and `access`; `access` and `store` import only the base. Nothing here
imports `api` (`tests/python/test_layout.py` checks all of it).
"""

__version__ = "0.1.0"
