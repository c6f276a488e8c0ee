"""`OrderSettlement` on chain: typed wrappers over its batched entry points, shared by the API, the
CLI and the benchmarks, and the events of a receipt read back. Orders go in as `OrderTerms`;
amounts are integer fen; the contract splits each order exactly.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from eth_abi import encode as abi_encode
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak

from ledger.chain.client import Sender
from ledger.chain.deploy import Deployment
from ledger.chain.indexer import EventDecoder
from ledger.chain.receipts import light_receipt
from ledger.chain.tx_defaults import fill_defaults
from ledger.errors import InvalidInput
from ledger.money.orders.terms import Batch, OrderTerms, unpack_shares
from ledger.money.token import ensure_allowance

RULING_TYPES = {
    "Ruling": [
        {"name": "order", "type": "bytes32"},
        {"name": "payer", "type": "address"},
        {"name": "refund", "type": "uint256"},
        {"name": "terms", "type": "uint256"},
        {"name": "deadline", "type": "uint64"},
    ]
}


def _c(dep: Deployment) -> Any:
    return dep.contract("OrderSettlement")


class _BatchCall:
    """A call of a batched entry point, its calldata encoded with eth_abi directly: web3's own
    encoder spends ~0.15 s on a batch of 500 orders. Quacks like a web3 ContractFunction for
    `Sender` and the self-signing sender (address, fn_name, args, build_transaction, ...)."""

    def __init__(self, dep: Deployment, fn_name: str, types: list[str], args: list[Any]):
        s = _c(dep)
        self.w3, self.address, self.fn_name, self.args = dep.w3, s.address, fn_name, args
        self._data = keccak(text=f"{fn_name}({','.join(types)})")[:4] + abi_encode(types, args)
        # the function's ABI entry, as a ContractFunction has it (the self-signing sender names its arguments)
        self.abi = next((e for e in s.abi if e.get("type") == "function" and e.get("name") == fn_name), {})

    def _encode_transaction_data(self) -> str:
        return "0x" + self._data.hex()

    def build_transaction(self, params: dict[str, Any]) -> dict[str, Any]:
        return fill_defaults(self.w3, {**params, "to": self.address, "data": self._encode_transaction_data()})

    def call(self, params: dict[str, Any] | None = None) -> bytes:
        return bytes(self.w3.eth.call({**(params or {}), "to": self.address, "data": self._data}))


def caps(dep: Deployment) -> tuple[int, list[int]]:
    """(platform fee cap, [level 1, 2, 3 caps]) in basis points, as governance set them."""
    s = _c(dep)
    return int(s.functions.platformFeeCapBps().call()), [int(x) for x in s.functions.referralCapBps().call()]


def referral_terms(dep: Deployment, merchant: str) -> list[int]:
    """The most `merchant` agreed to pay referral levels 1, 2, 3 of its orders (basis points)."""
    word = int(_c(dep).functions.referralTermsOf(merchant).call())
    return [(word >> (16 * level)) & 0xFFFF for level in range(3)]


def set_referral_terms(dep: Deployment, merchant: Any, bps: Sequence[int]) -> Any:
    """The merchant's own transaction: its referral terms (see `referral_terms`)."""
    return merchant.transact(_c(dep).functions.setReferralTerms(list(bps)))


def referral_rates(dep: Deployment, offered: Sequence[int], merchants: Iterable[str]) -> dict[str, list[int]]:
    """Per merchant, the rates its orders pay each level: the platform's rule, but never above what
    the merchant agreed to (the contract refuses more: `ReferralAboveTerms`)."""
    return {m: [min(o, a) for o, a in zip(offered, referral_terms(dep, m), strict=True)] for m in set(merchants)}


def parameters(dep: Deployment) -> dict[str, int]:
    s = _c(dep)
    return {
        "settlement_timeout_s": int(s.functions.settlementTimeout().call()),
        "return_window_s": int(s.functions.returnWindow().call()),
        "ruling_threshold_fen": int(s.functions.rulingThreshold().call()),
        "arbiter_quorum": int(s.functions.arbiterQuorum().call()),
    }


def escrow(dep: Deployment, platform: Sender, orders: Sequence[OrderTerms]) -> Any:
    """Escrow a batch; the platform pays the sum (an allowance is granted first if needed)."""
    s = _c(dep)
    ensure_allowance(dep, platform, s.address, sum(t.amount for t in orders))
    b = Batch.of(orders)
    fn = _BatchCall(dep, "escrow", ["address[]", "uint256[]"], [b.accounts, b.words])
    return platform.transact(fn, light=True)


def escrowed_before(dep: Deployment, orders: Sequence[OrderTerms]) -> Any | None:
    """The receipt of the escrow that already holds exactly these orders in their slots (an earlier
    attempt whose answer was lost: the node stopped, the process died), else None."""
    s = _c(dep)
    for t in orders:
        terms_hash, status, _, _ = s.functions.slotRecord(t.payer, t.slot).call()
        if terms_hash != t.commitment() or status == 0:
            return None
    head = orders[0]
    (entry, *_) = s.events.OrderEscrowed().get_logs(
        from_block=int(dep.manifest["deployed_at_block"]), argument_filters={"key": head.key}
    )
    return light_receipt(dep.w3, entry["transactionHash"])


def delivered_before(dep: Deployment, orders: Sequence[OrderTerms], events: Sequence[bytes]) -> Any | None:
    """The receipt of the one transaction that already confirmed exactly these deliveries (an
    earlier attempt whose answer was lost), else None."""
    delivered = _c(dep).events.OrderDelivered()
    start = int(dep.manifest["deployed_at_block"])
    txs = set()
    for t, ev in zip(orders, events, strict=True):
        found = delivered.get_logs(from_block=start, argument_filters={"key": t.key})
        if len(found) != 1 or bytes(found[0]["args"]["epcisEvent"]) != bytes(ev):
            return None
        txs.add(bytes(found[0]["transactionHash"]))
    return light_receipt(dep.w3, txs.pop()) if len(txs) == 1 else None


def confirm_deliveries(dep: Deployment, carrier: Sender, orders: Sequence[OrderTerms], events: Sequence[bytes]) -> Any:
    b = Batch.of(orders)
    types = ["address[]", "uint256[]", "bytes32[]"]
    return carrier.transact(
        _BatchCall(dep, "confirmDeliveries", types, [b.accounts, b.words, list(events)]), light=True
    )


def confirm_by_platform(dep: Deployment, platform: Sender, orders: Sequence[OrderTerms]) -> Any:
    b = Batch.of(orders)
    types, args = ["address[]", "uint256[]", "bytes32[]"], [b.accounts, b.words, [b"\0" * 32] * len(b)]
    return platform.transact(_BatchCall(dep, "confirmByPlatform", types, args), light=True)


def _one(t: OrderTerms) -> tuple[list[str], bytes, int]:
    b = Batch.of([t])
    return b.accounts, t.key, b.words[1]


def set_carrier(dep: Deployment, platform: Sender, t: OrderTerms, carrier: str) -> Any:
    return platform.transact(_c(dep).functions.setCarrier(*_one(t), carrier))


def refund(dep: Deployment, sender: Sender, t: OrderTerms, amount: int) -> Any:
    return sender.transact(_c(dep).functions.refund(*_one(t), amount))


def dispute(dep: Deployment, platform: Sender, t: OrderTerms) -> Any:
    return platform.transact(_c(dep).functions.dispute(*_one(t)))


def rule(dep: Deployment, sender: Sender, t: OrderTerms, refund_fen: int, signatures: Sequence[bytes]) -> Any:
    return sender.transact(_c(dep).functions.rule(*_one(t), refund_fen, list(signatures)))


def settle(dep: Deployment, anyone: Sender, orders: Sequence[OrderTerms]) -> Any:
    b = Batch.of(orders)
    return anyone.transact(_BatchCall(dep, "settle", ["address[]", "uint256[]"], [b.accounts, b.words]), light=True)


def ruling_typed_data(dep: Deployment, key: bytes, payer: str, refund_fen: int, slot: int) -> dict[str, Any]:
    """What an arbiter signs (EIP-712), built here from the deployment, not asked of a server: the
    order's key and its payer (keys are unique only in each platform's books), the refund, and the
    order's instance as its settlement slot holds it on chain (its terms hash and the return
    window's end its delivery set): a ruling decides this order, not a later one under its key."""
    terms, _, deadline, _ = _c(dep).functions.slotRecord(payer, slot).call()
    return {
        "domain": {
            "name": "traceledger OrderSettlement",
            "version": "1",
            "chainId": int(dep.w3.eth.chain_id),
            "verifyingContract": _c(dep).address,
        },
        "types": RULING_TYPES,
        "primaryType": "Ruling",
        # the terms hash (160 bits) as a decimal string: a JSON number that large loses digits in a browser
        "message": {
            "order": "0x" + key.hex(),
            "payer": payer,
            "refund": refund_fen,
            "terms": str(terms),
            "deadline": deadline,
        },  # fmt: skip
    }


def sign_ruling(dep: Deployment, private_key: bytes, key: bytes, payer: str, refund_fen: int, slot: int) -> bytes:
    """An arbiter's signature of a ruling, made with its own key."""
    data = ruling_typed_data(dep, key, payer, refund_fen, slot)
    message = encode_typed_data(full_message=data)
    return bytes(Account.sign_message(message, private_key).signature)


def sorted_signatures(
    dep: Deployment, key: bytes, payer: str, refund_fen: int, slot: int, signatures: Sequence[str | bytes]
) -> list[bytes]:
    """Signatures of a ruling in ascending order of their signers (see `ascending_by_signer`)."""
    return ascending_by_signer(ruling_typed_data(dep, key, payer, refund_fen, slot), signatures)


def ascending_by_signer(typed_data: dict[str, Any], signatures: Sequence[str | bytes]) -> list[bytes]:
    """Signatures (65 bytes, or that in hex) of one EIP-712 message in ascending order of their
    signers, as the contracts want them; a malformed one is an `InvalidInput` naming its position."""
    message = encode_typed_data(full_message=typed_data)
    signers: dict[bytes, int] = {}
    for i, given in enumerate(signatures):
        try:
            sig = bytes.fromhex(given.removeprefix("0x")) if isinstance(given, str) else bytes(given)
            if len(sig) != 65:
                raise ValueError("length")
            signers[sig] = int(Account.recover_message(message, signature=sig), 16)
        except Exception:  # noqa: BLE001 - eth_keys raises several kinds for a malformed signature
            raise InvalidInput(f"signatures.{i}: not a valid 65-byte secp256k1 signature") from None
    return sorted(signers, key=signers.__getitem__)


def events(dep: Deployment, receipt: Any, names: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """The events `names` of a receipt, by name, each event's args as a dict (bytes as 0x-hex,
    addresses checksummed), decoded as the indexer decodes them: a batch's receipt holds a
    thousand logs, too many for web3's per-log decoding."""
    decoder = _decoder(dep)
    wanted = set(names)
    out: dict[str, list[dict[str, Any]]] = {}
    for log in receipt["logs"]:
        got = decoder.decode(log)
        if got is not None and got[1] in wanted:
            out.setdefault(got[1], []).append(got[2])
    return out


_DECODERS: dict[str, EventDecoder] = {}


def _decoder(dep: Deployment) -> EventDecoder:
    c = dep.manifest["contracts"]["OrderSettlement"]
    d = _DECODERS.get(c["address"])
    if d is None:
        d = _DECODERS[c["address"]] = EventDecoder({"OrderSettlement": c})
    return d


def settlements_of(dep: Deployment, receipt: Any, levels: dict[bytes, int]) -> dict[bytes, dict[str, Any]]:
    """key => the split an `OrderSettled` event of `receipt` recorded (levels per key to unpack)."""
    out = {}
    for e in events(dep, receipt, ("OrderSettled",)).get("OrderSettled", []):
        key = bytes.fromhex(e["key"][2:])
        out[key] = unpack_shares(int(e["shares"]), levels.get(key, 3))
    return out


def settled_before(dep: Deployment, orders: Sequence[OrderTerms]) -> dict[bytes, tuple[str, dict[str, Any]]]:
    """key => (transaction, split) of each of `orders` an earlier settlement already paid out (a
    request whose answer was lost: the API host died, or the database, before it recorded it)."""
    if not orders:
        return {}
    levels = {t.key: len(t.referrers) for t in orders}
    found = (
        _c(dep)
        .events.OrderSettled()
        .get_logs(from_block=int(dep.manifest["deployed_at_block"]), argument_filters={"key": list(levels)})
    )
    out = {}
    for tx in dict.fromkeys(bytes(e["transactionHash"]) for e in found):
        for key, split in settlements_of(dep, light_receipt(dep.w3, tx), levels).items():
            if key in levels:
                out[key] = ("0x" + tx.hex(), split)
    return out


def owed(dep: Deployment, account: str) -> dict[str, int]:
    return {
        "settlement_fen": int(_c(dep).functions.owed(account).call()),
        "vault_claims_fen": int(dep.contract("GuaranteeVault").functions.claimable(account).call()),
    }


def withdraw_payouts(dep: Deployment, member: Sender) -> Any:
    return member.transact(_c(dep).functions.withdraw())
