"""`python -m ledger <command>`: the ledger command line."""

from .cli import main

main()
