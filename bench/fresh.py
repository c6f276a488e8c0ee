"""A fresh deployment for one benchmark, with a signer for every bootstrap member."""

from __future__ import annotations

from pathlib import Path

from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger.chain.client import Sender, connect, dev_accounts
from ledger.chain.deploy import Deployment, deploy


def fresh_deployment(url: str, manifest: Path) -> tuple[Web3, Deployment, list[LocalAccount], dict[str, Sender]]:
    w3 = connect(url)
    dep, _ = deploy(w3, manifest)
    accounts = dev_accounts(20)
    who = {label: dep.sender(accounts[m["account_index"]]) for label, m in dep.manifest["members"].items()}
    return w3, dep, accounts, who
