"""The `ledger` command (`python -m ledger`): one subcommand per job, over the rest of `ledger`.

May import all of `ledger`; never `api`.
"""
