"""Orders as `OrderSettlement` takes them: one packed word of terms per order over a table of
accounts, the 160-bit commitment the contract keeps per slot, the split it pays, and the keyed
order keys that keep order numbers off the chain.

Packed word, from the low bit (see `OrderSettlement._decode`): amount 48 | platform fee bps 16 |
level 1, 2, 3 bps 16 each | levels 8 | merchant 16 | referrer 1, 2, 3 16 each | carrier 16
(0xFFFF: none) | payer 16 | slot 32. The 16-bit fields after `levels` index the accounts table.

Order keys: `key = keccak256(utf8(order_id) || salt)` with `salt = HMAC-SHA256(secret, order_id)`.
Nobody without the platform's secret can enumerate keys from order numbers; disclosing one order's
salt lets an auditor check that order's key and no other.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from eth_abi import encode as abi_encode
from eth_utils import keccak

from ledger.chain.addresses import checksum

NO_CARRIER = 0xFFFF
MAX_AMOUNT = 2**48 - 1
MAX_SLOT = 2**32 - 1
BPS = 10_000
STATUSES = ("none", "escrowed", "delivered", "disputed", "settled", "refunded")
ZERO = "0x" + "00" * 20
_M16 = 0xFFFF
_M48 = 2**48 - 1


def order_salt(secret: bytes, order_id: str) -> bytes:
    return hmac.new(secret, order_id.encode(), hashlib.sha256).digest()


def order_key(order_id: str, salt: bytes) -> bytes:
    """The on-chain key of an order: a commitment to its number, opened by its salt."""
    return keccak(order_id.encode() + salt)


@dataclass(frozen=True)
class OrderTerms:
    key: bytes
    amount: int
    merchant: str
    payer: str
    slot: int
    referrers: tuple[str, ...] = ()
    referral_bps: tuple[int, ...] = ()
    platform_fee_bps: int = 0
    carrier: str | None = None

    def __post_init__(self) -> None:
        if not 0 < self.amount <= MAX_AMOUNT:
            raise ValueError(f"amount must be 1..{MAX_AMOUNT} fen, not {self.amount}")
        if len(self.referrers) != len(self.referral_bps) or len(self.referrers) > 3:
            raise ValueError("up to three referrers, each with its rate")
        if not 0 <= self.slot <= MAX_SLOT:
            raise ValueError(f"slot out of range: {self.slot}")

    def numeric(self) -> int:
        bps = list(self.referral_bps) + [0] * (3 - len(self.referral_bps))
        w = self.amount | self.platform_fee_bps << 48
        for i, b in enumerate(bps):
            w |= b << (64 + 16 * i)
        return w | len(self.referrers) << 112

    def commitment(self) -> int:
        """The 160 bits the contract stores for these terms (the slot is not part of it)."""
        refs = list(self.referrers) + [ZERO] * (3 - len(self.referrers))
        blob = abi_encode(
            ["bytes32", "uint256", "address", "address", "address", "address", "address", "address"],
            [self.key, self.numeric(), self.merchant, *refs, self.carrier or ZERO, self.payer],
        )
        return int.from_bytes(keccak(blob), "big") >> 96

    def split(self, amount: int | None = None) -> dict[str, Any]:
        """The contract's split of `amount` (default: the whole order): exact, merchant the rest."""
        amount = self.amount if amount is None else amount
        fee = amount * self.platform_fee_bps // BPS
        shares = [amount * b // BPS for b in self.referral_bps]
        return {"merchant_fen": amount - fee - sum(shares), "referral_fen": shares, "platform_fee_fen": fee}


@dataclass
class Batch:
    """Orders packed for one contract call over one accounts table."""

    accounts: list[str] = field(default_factory=list)
    words: list[int] = field(default_factory=list)  # key, word, key, word, ...
    _index: dict[str, int] = field(default_factory=dict)

    def _idx(self, address: str) -> int:
        i = self._index.get(address)
        if i is not None:
            return i
        a = checksum(address)
        i = self._index.get(a)
        if i is None:
            if len(self.accounts) >= NO_CARRIER:
                raise ValueError("a batch may name at most 65,535 accounts")
            i = self._index[a] = len(self.accounts)
            self.accounts.append(a)
        self._index[address] = i
        return i

    def word(self, t: OrderTerms) -> int:
        w = t.numeric() | self._idx(t.merchant) << 120
        for i, r in enumerate(t.referrers):
            w |= self._idx(r) << (136 + 16 * i)
        w |= (self._idx(t.carrier) if t.carrier else NO_CARRIER) << 184
        return w | self._idx(t.payer) << 200 | t.slot << 216

    def add(self, t: OrderTerms) -> Batch:
        self.words += [int.from_bytes(t.key, "big"), self.word(t)]
        return self

    @classmethod
    def of(cls, terms: Iterable[OrderTerms]) -> Batch:
        """The orders over an accounts table in ascending order of address, each once (as the
        contract's escrow requires: two indexes then name two parties)."""
        terms = list(terms)
        b = cls()
        named = {checksum(a) for t in terms for a in (t.merchant, t.payer, t.carrier, *t.referrers) if a}
        for a in sorted(named, key=lambda a: int(a, 16)):
            b._idx(a)
        for t in terms:
            b.add(t)
        return b

    def __len__(self) -> int:
        return len(self.words) // 2


def unpack(word: int, accounts: Sequence[str]) -> dict[str, Any]:
    """The terms in a packed word, addresses resolved through `accounts` (an `EscrowBatch` table)."""
    levels = word >> 112 & 0xFF
    carrier = word >> 184 & _M16
    return {
        "amount": word & _M48,
        "platform_fee_bps": word >> 48 & _M16,
        "referral_bps": [word >> (64 + 16 * i) & _M16 for i in range(levels)],
        "merchant": accounts[word >> 120 & _M16],
        "referrers": [accounts[word >> (136 + 16 * i) & _M16] for i in range(levels)],
        "carrier": None if carrier == NO_CARRIER else accounts[carrier],
        "payer": accounts[word >> 200 & _M16],
        "slot": word >> 216 & MAX_SLOT,
    }


def unpack_amount(word: int) -> int:
    return word & _M48


def unpack_shares(shares: int, levels: int = 3) -> dict[str, Any]:
    """An `OrderSettled` event's packed shares."""
    return {
        "merchant_fen": shares & _M48,
        "referral_fen": [shares >> (48 * (i + 1)) & _M48 for i in range(levels)],
        "platform_fee_fen": shares >> 192 & _M48,
        "by_timeout": bool(shares >> 255),
    }
