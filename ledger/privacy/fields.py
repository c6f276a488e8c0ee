"""The circuit's field and what its public inputs mean: batch ids, purposes, and the messages a
proof binds (the same keccak the contract computes: tests check they agree)."""

from __future__ import annotations

import hashlib

from eth_abi import encode
from eth_utils import keccak, to_checksum_address

#: BN254's scalar field
FIELD = 21888242871839275222246405745257275088548364400416034343698204186575808495617
PURPOSES = {"review": 1, "claim": 2, "dispute": 3}


def batch_id(gtin: str, lot: str) -> int:
    """A batch (GTIN-14 and lot) as a field element: SHA-256 of "gtin/lot", top 248 bits."""
    return int.from_bytes(hashlib.sha256(f"{gtin}/{lot}".encode()).digest(), "big") >> 8


def text_hash(text: str) -> bytes:
    return keccak(text.encode())


#: (chain id, PurchaseProofs' address): every message binds them, as the contract computes it, so
#: a proof spent on one deployment is not spent again on another (`onchain.domain` reads them)
Domain = tuple[int, str]


def _message(domain: Domain, kind: str, types: list[str], values: list) -> int:
    chain_id, contract = domain
    blob = encode(["string", "uint256", "address", *types], [kind, chain_id, to_checksum_address(contract), *values])
    return int.from_bytes(keccak(blob), "big") % FIELD


def review_message(domain: Domain, rating: int, text_hash_: bytes) -> int:
    return _message(domain, "review", ["uint8", "bytes32"], [rating, text_hash_])


def claim_message(domain: Domain, pay_to: str, amount_fen: int) -> int:
    return _message(domain, "claim", ["address", "uint256"], [to_checksum_address(pay_to), amount_fen])


def dispute_message(domain: Domain, statement_hash: bytes, pay_to: str) -> int:
    return _message(domain, "dispute", ["bytes32", "address"], [statement_hash, to_checksum_address(pay_to)])
