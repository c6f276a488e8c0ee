"""`brownie run scripts/deploy.py [--network NAME]`: deploy through brownie's connection.

The deployment itself is `ledger.deploy.deploy` (one code path for `make run`, tests and this
script); brownie only supplies the node connection. Keys come from `LEDGER_MNEMONIC` (anvil's
development mnemonic by default); the manifest goes where the runtime reads it
(`LEDGER_MANIFEST`, default `.data/deployment.json`).
"""

from brownie import web3

from ledger.chain.deploy import deploy
from ledger.paths import manifest_path


def main():
    dep, new = deploy(web3)
    verb = "deployed" if new else "reusing deployment"
    print(f"{verb} on chain {dep.manifest['chain_id']}; manifest {manifest_path()}")
    for name, c in dep.manifest["contracts"].items():
        print(f"  {name:16} {c['address']}")
