"""Members who sign for themselves: prepare, sign where the key lives, submit.

Any write takes the header `X-Ledger-Sign: self`. Instead of signing at the gateway, the endpoint
stops at its transaction and answers 202 with it unsigned (to, data, nonce, gas, fees, chain id),
what it will do in words, and where to submit it. The member signs it with its own key (CLI
keystore, browser wallet) and posts the signed raw transaction to `POST /v1/transactions/{id}`.
The API checks that it is exactly the prepared call, signed by that member, sends it, and runs the
original request again with it, so the answer is the endpoint's own (201 and the product, say). A
write that needs another transaction after that one (an allowance, then the deposit) answers 202
again with the next.
"""

from __future__ import annotations

import contextvars
import json
from dataclasses import dataclass, field
from typing import Any

from eth_account import Account
from eth_account.typed_transactions import TypedTransaction
from hexbytes import HexBytes
from starlette.types import ASGIApp, Receive, Scope, Send

from ledger.chain.client import Sender
from ledger.chain.submission import NonceTaken, send_raw
from ledger.chain.tx_defaults import with_headroom
from ledger.store.sent_tables import keep_sent

HEADER = b"x-ledger-sign"
#: `api.middleware.guard.RequestGuard` sets it in the scope once it read the body within its cap, credentials checked
BODY_CHECKED = "ledger.body_checked"


@dataclass
class SignMode:
    """How this request's transactions are signed: `prepare`, or `submit` one signed by the member."""

    kind: str
    body: bytes = b""
    raw: bytes | None = None
    prepared: dict[str, Any] = field(default_factory=dict)
    sent: bool = False
    #: the prepared transaction as the member's wallet already sent it (submitted by hash)
    sent_hash: bytes | None = None


MODE: contextvars.ContextVar[SignMode | None] = contextvars.ContextVar("ledger_sign_mode", default=None)


class Prepared(Exception):  # noqa: N818 - an answer, not a failure
    """The request stops at an unsigned transaction for the member to sign."""

    def __init__(self, tx: dict[str, Any], summary: str, call: dict[str, Any] | None = None):
        super().__init__(summary)
        self.tx, self.summary, self.call = tx, summary, call or {}


def _shown(v: Any) -> Any:
    if isinstance(v, bytes):
        return "0x" + v.hex()
    if isinstance(v, list | tuple):
        return [_shown(x) for x in v]
    return v if isinstance(v, str | bool) else str(v)


def _summary(fn: Any) -> str:
    args = ", ".join(v.hex() if isinstance(v, bytes) else str(v) for v in fn.args)
    return f"{fn.address}: {fn.fn_name}({args})"


def _call(fn: Any, tx: dict[str, Any]) -> dict[str, Any]:
    """What the transaction does, decoded: the page checks it against the transaction's own `to`
    and data (the contract at that address in the manifest, the function by its selector)."""
    names = [i.get("name") or f"arg{n}" for n, i in enumerate(fn.abi.get("inputs", []))]
    return {
        "to": fn.address,
        "function": fn.fn_name,
        "selector": tx["data"][:10],
        "args": [{"name": n, "value": _shown(v)} for n, v in zip(names, fn.args, strict=False)],
        "value": str(tx.get("value", 0)),
    }


class SelfSigningSender(Sender):
    """A sender for a member who holds its own key: prepares, or sends what the member signed."""

    def __init__(self, w3: Any, address: str, decoder: Any, mode: SignMode):
        super().__init__(w3, Account.create(), decoder)  # the account is never used to sign
        self._address, self.mode = address, mode

    @property
    def address(self) -> str:
        return self._address

    def submit(self, fn: Any, *, gas: int | None = None) -> bytes:
        to, data = fn.address, fn._encode_transaction_data()
        p = self.mode.prepared
        if self.mode.kind == "submit" and not self.mode.sent and p["to"].lower() == to.lower() and p["data"] == data:
            self.mode.sent = True
            if self.mode.sent_hash is not None:
                return self.mode.sent_hash
            try:
                return send_raw(self.w3, self.mode.raw)
            except NonceTaken as exc:  # another writer of this key took the nonce meanwhile
                raise NonceTaken(f"{exc}; prepare the write again and sign the new transaction") from None
        nonce = self.w3.eth.get_transaction_count(self.address, "pending")
        params: dict[str, Any] = {"from": self.address, "nonce": nonce}
        if gas is not None:
            params["gas"] = gas
        try:
            tx = fn.build_transaction(params)
        except Exception as exc:  # noqa: BLE001 - the contract's refusal, decoded as the gateway would
            from web3.exceptions import ContractCustomError, ContractLogicError

            if isinstance(exc, ContractCustomError | ContractLogicError):
                raise self._failure(exc) from None
            raise
        if gas is None:  # as the gateway sends its own: room for state that moves before it is mined
            tx["gas"] = with_headroom(self.w3, tx["gas"])
        tx.pop("from", None)
        tx = {k: (v.hex() if isinstance(v, bytes) else v) for k, v in tx.items()}
        raise Prepared(tx, _summary(fn), _call(fn, tx))


def check_signed(raw_hex: str, prepared: dict[str, Any], member: str) -> tuple[bytes, str | None]:
    """(raw bytes, problem): the signed transaction must be exactly the prepared one, by `member`."""
    try:
        raw = bytes.fromhex(raw_hex.removeprefix("0x"))
        signer = Account.recover_transaction(raw)
        tx = TypedTransaction.from_bytes(HexBytes(raw)).as_dict()
    except Exception:  # noqa: BLE001 - anything unreadable is the client's problem, said so
        return b"", "not a signed EIP-1559 (type 2) transaction"
    if signer.lower() != member.lower():
        return raw, f"signed by {signer}, not by {member}"
    to = "0x" + bytes(tx["to"]).hex()
    checks = {
        "to": to.lower() == prepared["to"].lower(),
        "data": "0x" + bytes(tx["data"]).hex() == prepared["data"],
        "nonce": tx["nonce"] == prepared["nonce"],
        "chainId": tx["chainId"] == prepared["chainId"],
        "value": tx["value"] == prepared.get("value", 0),
    }
    wrong = [k for k, ok in checks.items() if not ok]
    return raw, (f"differs from the prepared transaction in {', '.join(wrong)}" if wrong else None)


def check_sent(w3: Any, tx_hash: str, prepared: dict[str, Any], member: str) -> str | None:
    """A problem, or None: the transaction a wallet sent must be the prepared call, from `member`,
    sent after the write was prepared (its nonce at least the member's next one then; otherwise
    the wallet's own choice, as are its fees)."""
    from web3.exceptions import TransactionNotFound

    try:
        tx = w3.eth.get_transaction(tx_hash)
    except TransactionNotFound:
        return "the node knows no transaction with this hash"
    if tx["from"].lower() != member.lower():
        return f"sent by {tx['from']}, not by {member}"
    checks = {
        "to": (tx.get("to") or "").lower() == prepared["to"].lower(),
        "data": "0x" + bytes(tx["input"]).hex() == prepared["data"],
        "chainId": int(tx.get("chainId", prepared["chainId"])) == prepared["chainId"],
        "value": int(tx["value"]) == int(prepared.get("value", 0)),
    }
    wrong = [k for k, ok in checks.items() if not ok]
    if wrong:
        return f"differs from the prepared transaction in {', '.join(wrong)}"
    if tx["nonce"] < prepared["nonce"]:  # the member's next nonce when the write was prepared
        return f"sent before the write was prepared (nonce {tx['nonce']}, prepared at {prepared['nonce']})"
    return None


def record_sent(sessions: Any, tx_hash: bytes, how: str) -> None:
    """Keep a hash the gateway signed and sent: no wallet submission can claim it for a write later."""
    keep_sent(sessions, tx_hash, how)


class SignModeFromHeader:
    """Sets `MODE` to `prepare` for writes sent with `X-Ledger-Sign: self`, with their body kept
    for the submission that will run them again. Only a body `api.middleware.guard.RequestGuard` has already read
    within its cap, after the credentials, is kept (anything else passes by unread)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or dict(scope["headers"]).get(HEADER, b"").lower() != b"self"
            or not scope.get(BODY_CHECKED)
        ):
            await self.app(scope, receive, send)
            return
        chunks, more = [], True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False) and message["type"] == "http.request"
        body = b"".join(chunks)
        token = MODE.set(SignMode("prepare", body))
        delivered = False

        async def replay() -> dict[str, Any]:
            nonlocal delivered
            if delivered:
                return await receive()
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        try:
            await self.app(scope, replay, send)
        finally:
            MODE.reset(token)


def request_record(scope: Scope, mode: SignMode) -> dict[str, Any]:
    return {
        "method": scope["method"],
        "path": scope.get("raw_path", scope["path"].encode()).decode("latin-1"),
        "query": scope.get("query_string", b"").decode("latin-1"),
        "body": mode.body.decode("utf-8", "replace"),
    }


def encode(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))
