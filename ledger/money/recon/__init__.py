"""Reconciliation of the platform's orders against the chain: the matching itself (`reconcile`) and
its inputs (`inputs`: the order export, the chain's records); runs an auditor signs off on (`runs`),
streamed over files larger than memory (`stream`), with balances (`balances`), ageing (`ageing`),
breaks across runs (`breaks`) and the report (`report`).

Part of `ledger.money`, with its rights to import (`ledger.chain`, `ledger.store`, `ledger.access`,
base); it reads orders through `ledger.money.orders`, which never imports it back.
"""
