"""`python -m ledger <command>`: the ledger command line."""

from ledger.cli.main import main

main()
