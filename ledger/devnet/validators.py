"""Who seals blocks is the consortium's decision, taken in governance: an executed proposal
`add_validator` / `remove_validator` calls `Governance.setValidator`, which records the decision
on chain (`ValidatorDecided`). Each organisation's node operator then votes so with its own node
(Clique `clique_propose`), and only with its own: `follow` compares the latest decision for each
address with the node's signers and casts the votes that are missing. Once a majority of the
signers' nodes has voted, Clique applies the change at the next block.
"""

from __future__ import annotations

from typing import Any

from web3 import Web3

from ledger.chain.deploy import Deployment


def decided(dep: Deployment) -> dict[str, bool]:
    """The latest governance decision per validator address: True to seal, False not to."""
    gov = dep.contract("Governance")
    logs = sorted(dep.logs(gov.events.ValidatorDecided), key=lambda x: (x["blockNumber"], x["logIndex"]))
    return {log["args"]["validator"]: bool(log["args"]["authorized"]) for log in logs}


def signers(node: Web3) -> list[str]:
    return [Web3.to_checksum_address(a) for a in node.provider.make_request("clique_getSigners", [])["result"]]


def follow(dep: Deployment, node: Web3) -> list[dict[str, Any]]:
    """Vote with `node` (this organisation's own validator) for every governance decision its chain
    does not yet reflect; a vote already cast is cast again harmlessly (geth keeps one per address).
    The votes cast, as `{"validator", "authorize"}`."""
    current = set(signers(node))
    votes = []
    for validator, authorize in decided(dep).items():
        if authorize != (validator in current):
            node.provider.make_request("clique_propose", [validator, authorize])
            votes.append({"validator": validator, "authorize": authorize})
        else:  # done (or never needed): a vote left standing would act again if it changed back
            node.provider.make_request("clique_discard", [validator])
    return votes
