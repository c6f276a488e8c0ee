"""Whose GS1 company prefix a trading party's identifier carries: `urn:epc:id:pgln:` and `sgln:`
name it (the digits before the first dot), a GS1 Digital Link GLN (`/417/` or `/414/`, 13 digits)
starts with it (6 to 12 digits, as `Provenance.prefixHolderOf` reads a GTIN's). Governance assigns
prefixes on chain (`assign_prefix`); a party under an assigned prefix is its holder's to name: the
name shows on the public scan page of any product whose events name the party, so a member
registering another company's URN first could put its own words there."""

from __future__ import annotations

import re

from eth_abi import encode
from eth_utils import keccak

from ledger.chain.deploy import Deployment

_EPC = re.compile(r"urn:epc:id:(?:pgln|sgln):(\d{6,12})\.")
_LINK = re.compile(r"https?://[^/]+/(?:417|414)/(\d{13})(?:[/?#]|$)")
NOBODY = "0x" + "0" * 40


def prefix_holder(dep: Deployment, urn: str) -> str | None:
    """The member holding the company prefix the party's identifier carries; None when it carries
    none this can read or nobody holds it."""
    provenance = dep.contract("Provenance")
    if m := _EPC.match(urn):
        prefix = m.group(1)
        key = keccak(encode(["uint256", "uint256"], [len(prefix), int(prefix)]))  # as assignPrefix keys it
        holder = provenance.functions.prefixHolder(key).call()
    elif m := _LINK.match(urn):
        holder = provenance.functions.prefixHolderOf(int("0" + m.group(1))).call()
    else:
        return None
    return None if holder == NOBODY else holder
