"""Development and operations tooling apart from the runtime chain client: the local development
node (`node`: anvil), the consortium's geth Clique network (`network`, `geth`, `geth_nodes`,
`genesis`), validator changes as governance decides (`validators`), an auditor's read-only node
(`auditor_node`), and the PostgreSQL and Redis servers the tests and `make run` start (`servers`).

May import `ledger.chain`, `ledger.store`, `ledger.access` and the base modules; nothing below
`ledger.cli` imports it.
"""
