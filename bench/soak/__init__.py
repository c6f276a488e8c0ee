"""`make soak`: a mixed load against the whole stack while a seeded fault injector breaks its parts,
then a check that nothing acknowledged was lost or done twice.

- `stack`: the parts, started for the run under a temporary directory: a PostgreSQL and the API's
  data directory on a small filesystem of their own (tmpfs, when run as root), anvil, the API in
  two supervised worker processes, the indexer; a supervisor restarts what dies, as systemd would.
- `load`: clients doing what members and shoppers do (captures, code issues, scans, orders through
  their lifecycle, deposits), each request's outcome written down: acknowledged, refused, unknown.
- `faults`: the injector, from a seed it prints: SIGKILLs API workers, the anchoring worker and the
  indexer, restarts PostgreSQL, stops the chain node longer than the client timeouts, fills the
  filesystem; and how long the stack took to answer again after each.
- `checks`: after the load, each acknowledged effect exactly once (on chain and in the tables),
  no half-written state, the contracts' balances, reconciliation.

May import `ledger`, `api.serve` (as a program) and `bench.server`; nothing imports it but `make soak`
and its test.
"""
