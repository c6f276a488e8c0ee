"""Shoppers' zero-knowledge proofs of a delivered purchase: the circuit's artefacts (built by
`make zk`), the tree of delivered purchases, proofs through snarkjs on Node, the on-chain checks.

May import `ledger.chain`, `ledger.store` and the base modules; never `money`, `trace`, `cli` or
`api` (orders are read through the store's tables).
"""
