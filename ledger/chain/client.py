"""Talking to an EVM node over JSON-RPC only, so the same code runs against anvil and against
proof-of-authority consortium clients (Besu, GoQuorum, geth, EthereumJS).

Transactions are signed locally with the member's key and sent raw; a revert is reported with
the contract's custom error decoded by name.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

from eth_abi import decode as abi_decode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address
from web3 import Web3
from web3.exceptions import ContractCustomError, ContractLogicError, TransactionNotFound
from web3.middleware import ExtraDataToPOAMiddleware

from ledger.errors import LedgerError, NodeUnavailable

DEFAULT_RPC_URL = "http://127.0.0.1:8545"
#: anvil's well-known development mnemonic; never holds real value
DEV_MNEMONIC = "test test test test test test test test test test test junk"


def rpc_url() -> str:
    return os.environ.get("LEDGER_RPC_URL", DEFAULT_RPC_URL)


def connect(url: str | None = None, timeout: float = 10.0) -> Web3:
    """A Web3 connected to `url` (default `LEDGER_RPC_URL`), with PoA extra-data handled.

    Raises NodeUnavailable with one line if the node does not answer.
    """
    url = url or rpc_url()
    w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": timeout}))
    w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
    try:
        _ = w3.eth.chain_id
    except Exception as exc:  # noqa: BLE001 - refused, timeout, not JSON-RPC: all mean "no node"
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise NodeUnavailable(f"EVM node at {url} does not answer JSON-RPC ({reason[:160]})") from None
    return w3


def dev_accounts(count: int = 12, mnemonic: str | None = None) -> list[LocalAccount]:
    """Accounts derived from `LEDGER_MNEMONIC` (default: anvil's development mnemonic)."""
    Account.enable_unaudited_hdwallet_features()
    mnemonic = mnemonic or os.environ.get("LEDGER_MNEMONIC", DEV_MNEMONIC)
    return [Account.from_mnemonic(mnemonic, account_path=f"m/44'/60'/0'/0/{i}") for i in range(count)]


def wait_for_receipt(w3: Web3, tx_hash: bytes, timeout: float = 120.0) -> Any:
    """Poll for the receipt from 2 ms up, doubling to 1 s: an instant-mining dev node answers in
    milliseconds (web3's fixed 100 ms poll made every transaction cost a tenth of a second), a PoA
    network with 2-5 s blocks is not hammered."""
    deadline = time.monotonic() + timeout
    delay = 0.002
    while True:
        try:
            return w3.eth.get_transaction_receipt(tx_hash)
        except TransactionNotFound:
            if time.monotonic() > deadline:
                raise NodeUnavailable(f"no receipt for {tx_hash.hex()} after {timeout:.0f} s") from None
            time.sleep(delay)
            delay = min(delay * 2, 1.0)


class TransactionFailed(LedgerError):
    """A transaction reverted; `error` is the decoded custom error name when known."""

    def __init__(self, message: str, error: str | None = None, args: tuple[Any, ...] = ()):
        super().__init__(message)
        self.error = error
        self.error_args = args


@dataclass(frozen=True)
class _ErrorSig:
    name: str
    types: list[str]


class ErrorDecoder:
    """Decodes revert data into `Name(arg, ...)` using the custom errors of the given ABIs."""

    def __init__(self, abis: list[list[dict[str, Any]]]):
        self._by_selector: dict[bytes, _ErrorSig] = {}
        for abi in abis:
            for item in abi:
                if item.get("type") == "error":
                    types = [abi_type(i) for i in item["inputs"]]
                    sel = keccak(text=f"{item['name']}({','.join(types)})")[:4]
                    self._by_selector[sel] = _ErrorSig(item["name"], types)

    def decode(self, data: str | bytes) -> tuple[str, tuple[Any, ...]] | None:
        raw = bytes.fromhex(data[2:] if data.startswith("0x") else data) if isinstance(data, str) else data
        sig = self._by_selector.get(raw[:4])
        if sig is None:
            return None
        values = abi_decode(sig.types, raw[4:])
        return sig.name, tuple(
            to_checksum_address(v) if t == "address" else v for t, v in zip(sig.types, values, strict=True)
        )


def abi_type(param: dict[str, Any]) -> str:
    """The canonical type string of an ABI parameter (tuples spelled out)."""
    t = param["type"]
    if t.startswith("tuple"):
        return "(" + ",".join(abi_type(c) for c in param["components"]) + ")" + t[5:]
    return t


class Sender:
    """Signs and sends transactions for one account, waiting for receipts."""

    def __init__(self, w3: Web3, account: LocalAccount, decoder: ErrorDecoder | None = None):
        self.w3 = w3
        self.account = account
        self.decoder = decoder or ErrorDecoder([])

    @property
    def address(self) -> str:
        return self.account.address

    def transact(self, fn: Any, *, gas: int | None = None) -> Any:
        """Send contract function call `fn` (e.g. `contract.functions.f(x)`); return its receipt."""
        nonce = self.w3.eth.get_transaction_count(self.account.address, "pending")
        params: dict[str, Any] = {"from": self.address, "nonce": nonce}
        if gas is not None:
            params["gas"] = gas
        try:
            tx = fn.build_transaction(params)
        except (ContractCustomError, ContractLogicError) as exc:
            raise self._failure(exc) from None
        return self._send(tx)

    def deploy(self, artifact: dict[str, Any], *args: Any) -> Any:
        """Deploy `artifact` with constructor `args`; return the receipt (with contractAddress)."""
        factory = self.w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
        return self.transact(factory.constructor(*args))

    def _send(self, tx: dict[str, Any]) -> Any:
        signed = self.account.sign_transaction(tx)
        tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
        receipt = wait_for_receipt(self.w3, tx_hash)
        if receipt["status"] != 1:
            raise TransactionFailed(f"transaction {tx_hash.hex()} reverted")
        return receipt

    def _failure(self, exc: ContractCustomError | ContractLogicError) -> TransactionFailed:
        data = exc.data if isinstance(exc.data, str) else None
        decoded = self.decoder.decode(data) if data else None
        if decoded:
            name, args = decoded
            return TransactionFailed(f"reverted: {name}({', '.join(map(str, args))})", name, args)
        return TransactionFailed(f"reverted: {exc}")
