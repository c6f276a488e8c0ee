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


def review_message(rating: int, text_hash_: bytes) -> int:
    return int.from_bytes(keccak(encode(["string", "uint8", "bytes32"], ["review", rating, text_hash_])), "big") % FIELD


def claim_message(pay_to: str, amount_fen: int) -> int:
    blob = encode(["string", "address", "uint256"], ["claim", to_checksum_address(pay_to), amount_fen])
    return int.from_bytes(keccak(blob), "big") % FIELD


def dispute_message(statement_hash: bytes, pay_to: str) -> int:
    blob = encode(["string", "bytes32", "address"], ["dispute", statement_hash, to_checksum_address(pay_to)])
    return int.from_bytes(keccak(blob), "big") % FIELD
