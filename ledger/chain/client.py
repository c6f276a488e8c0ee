"""Talking to an EVM node over JSON-RPC only, so the same code runs against anvil and against
proof-of-authority consortium clients (Besu, GoQuorum, geth, EthereumJS).

Transactions are signed locally with the member's key and sent raw; a revert is reported with
the contract's custom error decoded by name.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3 import HTTPProvider, Web3
from web3.exceptions import ContractCustomError, ContractLogicError, TransactionNotFound, Web3RPCError
from web3.middleware import ExtraDataToPOAMiddleware

from ledger.config import env
from ledger.errors import LedgerError, NodeUnavailable
from ledger.paths import consortium, network_urls

from .chain_id_once import ChainIdOnce
from .failover import FailoverProvider
from .receipts import light_receipt
from .revert_errors import ErrorDecoder, error_text
from .submission import NonceTaken, TransactionRejected, send_raw, too_big_for_a_block, took_it_self
from .tx_defaults import build_transaction, with_headroom

NONCE_ATTEMPTS = 5

DEFAULT_RPC_URL = "http://127.0.0.1:8545"
#: anvil's well-known development mnemonic; never holds real value
DEV_MNEMONIC = "test test test test test test test test test test test junk"


def rpc_url() -> str:
    """`LEDGER_RPC_URL`: one endpoint, or several separated by commas (the consortium's nodes,
    own node first): requests go to the first that answers. With `LEDGER_NETWORK=consortium`, the
    consortium's nodes by default."""
    return env().rpc_url or (consortium() and ",".join(network_urls())) or DEFAULT_RPC_URL


_USER_INFO = re.compile(r"://[^\s/@]+@")
_URL_PATH = re.compile(r"(://[^\s/?#'\"]+)[/?#][^\s'\"(),]*")
_REQUESTED = re.compile(r"(with url: )\S+")


def without_credentials(text: str) -> str:
    """`text` naming nodes by scheme, host and port only: a node's URL may carry its credentials (user
    information, a provider's key in its path or query), and what a caller is told must not."""
    return _REQUESTED.sub(r"\1(hidden)", _URL_PATH.sub(r"\1", _USER_INFO.sub("://", text)))


def tx_timeout() -> float:
    """How long a write waits for its receipt before it is answered as unavailable
    (`LEDGER_TX_TIMEOUT`, 60 s): with too few validators up no block is sealed, and a caller
    must hear so in bounded time."""
    return env().tx_timeout_s


def connect(url: str | None = None, timeout: float = 10.0) -> Web3:
    """A Web3 connected to `url` (default `LEDGER_RPC_URL`; several comma-separated endpoints fail
    over), with PoA extra-data handled.

    Raises NodeUnavailable with one line if no node answers.
    """
    url = url or rpc_url()
    urls = [u.strip() for u in url.split(",") if u.strip()]
    provider = (
        FailoverProvider(urls, timeout) if len(urls) > 1 else HTTPProvider(url, request_kwargs={"timeout": timeout})
    )
    w3 = Web3(provider)
    w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
    w3.middleware_onion.inject(ChainIdOnce, name="chain_id_once", layer=0)  # (outermost)
    try:
        _ = w3.eth.chain_id
    except Exception as exc:  # noqa: BLE001 - refused, timeout, not JSON-RPC: all mean "no node"
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise NodeUnavailable(f"EVM node at {url} does not answer JSON-RPC ({reason[:160]})") from None
    return w3


def dev_accounts(count: int = 12, mnemonic: str | None = None) -> list[LocalAccount]:
    """Accounts derived from `LEDGER_MNEMONIC` (default: anvil's development mnemonic)."""
    Account.enable_unaudited_hdwallet_features()
    mnemonic = mnemonic or env().mnemonic or DEV_MNEMONIC
    return [Account.from_mnemonic(mnemonic, account_path=f"m/44'/60'/0'/0/{i}") for i in range(count)]


def wait_for_receipt(
    w3: Web3, tx_hash: bytes, timeout: float | None = None, resend: bytes | None = None, light: bool = False
) -> Any:
    """Poll for the receipt from 2 ms up, doubling to 0.25 s: an instant-mining dev node answers in
    milliseconds (web3's fixed 100 ms poll made every transaction cost a tenth of a second), a PoA
    network is not hammered (four lookups a second), and a write on 1 s blocks is answered within a
    quarter of a second of its block, not up to a whole second later (a 1 s cap added about half
    a block to each step of an order's lifecycle). With `resend` (the signed transaction), one the node
    no longer knows (dropped from its pool, or lost with a node that died) is sent again."""
    timeout = tx_timeout() if timeout is None else timeout
    deadline = time.monotonic() + timeout
    delay, next_check = 0.002, time.monotonic() + RESEND_AFTER_S
    while True:
        try:
            return light_receipt(w3, tx_hash) if light else w3.eth.get_transaction_receipt(tx_hash)
        except TransactionNotFound:
            if time.monotonic() > deadline:
                raise NodeUnavailable(f"no receipt for {tx_hash.hex()} after {timeout:.0f} s{_stalled(w3)}") from None
            if resend is not None and time.monotonic() > next_check:
                next_check = time.monotonic() + RESEND_AFTER_S
                _resend_if_dropped(w3, tx_hash, resend)
            time.sleep(delay)
            delay = min(delay * 2, RECEIPT_POLL_CAP_S)


RESEND_AFTER_S = 5.0
RECEIPT_POLL_CAP_S = 0.25


def _resend_if_dropped(w3: Web3, tx_hash: bytes, raw: bytes) -> None:
    try:
        w3.eth.get_transaction(tx_hash)
        return  # still pending somewhere
    except TransactionNotFound:
        pass
    try:
        send_raw(w3, raw)  # already known, or mined meanwhile: either is fine
    except NonceTaken:  # another transaction of the key took its nonce: this one will never run
        raise TransactionRejected(
            f"transaction {tx_hash.hex()} was replaced by another of the same key and nonce; nothing of it ran"
        ) from None
    except Exception:  # noqa: BLE001 - the node is busy or gone: try again at the next check
        pass


def nonce_lock(address: str) -> Any:
    """An exclusive lock on `address`'s nonces for every process on this machine (a lock file in
    the data directory). API hosts sharing PostgreSQL set `Sender.nonce_lock` to the deployment's
    lock helper instead (`ledger.store.locks`), whose lock every host takes in turn."""
    from ledger.paths import data_dir
    from ledger.store.locks import file_lock

    return file_lock(data_dir() / "nonces" / f"{address.lower()}.lock")


def _stalled(w3: Web3) -> str:
    """Why a receipt may not come: how long ago the newest block was sealed."""
    try:
        head = w3.eth.get_block("latest")
    except Exception:  # noqa: BLE001 - the node is gone too: say nothing more
        return ""
    age = time.time() - head["timestamp"]
    return f"; the newest block, {head['number']}, was sealed {age:.0f} s ago" + (
        " (too few validators may be up to seal blocks)" if age > 5 else ""
    )


class TransactionFailed(LedgerError):
    """A transaction reverted; `error` is the decoded custom error name when known."""

    def __init__(self, message: str, error: str | None = None, args: tuple[Any, ...] = (), block: int | None = None):
        super().__init__(message)
        self.error = error
        self.error_args = args
        #: the block a mined transaction reverted in (None: refused in simulation)
        self.block = block


class Sender:
    """Signs and sends transactions for one account, waiting for receipts."""

    def __init__(self, w3: Web3, account: LocalAccount, decoder: ErrorDecoder | None = None):
        self.w3 = w3
        self.account = account
        self.decoder = decoder or ErrorDecoder([])
        self._raw: dict[bytes, bytes] = {}
        #: told each hash before it is sent (the API keeps them: a hash answers for one write)
        self.on_sent: Callable[[bytes], None] | None = None
        #: the lock held while a nonce is taken and its transaction handed to the node, by address
        self.nonce_lock: Callable[[str], Any] = nonce_lock

    @property
    def address(self) -> str:
        return self.account.address

    def transact(self, fn: Any, *, gas: int | None = None, light: bool = False) -> Any:
        """Send contract function call `fn` (e.g. `contract.functions.f(x)`); return its receipt
        (`light`: without web3's formatting, for receipts of many logs)."""
        return self.wait(self.submit(fn, gas=gas), light=light)

    def submit(self, fn: Any, *, gas: int | None = None) -> bytes:
        """Sign and send `fn` without waiting: several independent calls then share a block. The
        nonce is taken and the transaction handed to the node under this key's lock (`nonce_lock`),
        shared by every process on the machine (or every host, on PostgreSQL), so concurrent
        writes by one member never take one nonce twice; a nonce another writer of the key took
        meanwhile (its own wallet) is taken afresh, up to NONCE_ATTEMPTS times, then a 409-worthy
        NonceTaken. `wait` for each hash. A simulation that reverts while this key's own earlier
        transactions wait unmined (back in the pool after a reorg) waits for them and runs once more."""
        try:
            return self._send(fn, gas)
        except TransactionFailed:
            if not self._own_writes_pending():
                raise
        self._wait_own_writes_mined()
        return self._send(fn, gas)

    def _send(self, fn: Any, gas: int | None) -> bytes:
        for attempt in range(1, NONCE_ATTEMPTS + 1):
            with self.nonce_lock(self.address):
                params: dict[str, Any] = {"from": self.address} | ({"gas": gas} if gas is not None else {})
                try:
                    tx = build_transaction(self.w3, fn, params)
                except (ContractCustomError, ContractLogicError) as exc:
                    raise self._failure(exc) from None
                except Web3RPCError as exc:  # a write no block can hold is the caller's to split (a 422)
                    raise too_big_for_a_block(self.w3, exc) or exc from None
                if gas is None:
                    tx["gas"] = with_headroom(self.w3, tx["gas"])
                # the nonce last, just before signing: the window another writer of the key
                # (outside our lock: its own wallet) can take it in is one round trip, not an
                # estimate (asked alongside the estimate, half of 12 writes lost that race to
                # a wallet sending every 10 ms: test_self_signing)
                tx["nonce"] = self.w3.eth.get_transaction_count(self.account.address, "pending")
                raw = self.account.sign_transaction(tx).raw_transaction
                if self.on_sent is not None:
                    self.on_sent(keccak(raw))
                try:
                    tx_hash = send_raw(self.w3, raw)
                except NonceTaken:  # another writer of this key outside our lock took it: a fresh nonce
                    if took_it_self(self.w3, raw):  # ...unless the taker is this very one
                        self._raw[keccak(raw)] = raw
                        return keccak(raw)
                    if attempt == NONCE_ATTEMPTS:
                        raise
                else:
                    self._raw[tx_hash] = raw
                    return tx_hash
            time.sleep(random.uniform(0, 0.02 * attempt))  # out of step with the other writer
        raise AssertionError("unreachable")

    def _own_writes_pending(self) -> bool:
        """Whether transactions of this key wait in the pool, unmined on the head: a write just
        answered whose block a reorg replaced goes back to the pool, and a next write simulated
        meanwhile would see state without it (a batch's product "unknown")."""
        addr = self.account.address
        return self.w3.eth.get_transaction_count(addr, "pending") > self.w3.eth.get_transaction_count(addr, "latest")

    def _wait_own_writes_mined(self) -> None:
        earlier_writes_settled(self.w3, self.account.address, tx_timeout())

    def wait(self, tx_hash: bytes, light: bool = False) -> Any:
        """The receipt; a transaction the node dropped meanwhile is sent again, not forgotten."""
        receipt = wait_for_receipt(self.w3, tx_hash, resend=self._raw.pop(bytes(tx_hash), None), light=light)
        if receipt["status"] != 1:
            raise TransactionFailed(f"transaction {tx_hash.hex()} reverted", block=int(receipt["blockNumber"]))
        return receipt

    def deploy(self, artifact: dict[str, Any], *args: Any) -> Any:
        """Deploy `artifact` with constructor `args`; return the receipt (with contractAddress)."""
        factory = self.w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
        return self.transact(factory.constructor(*args))

    def _failure(self, exc: ContractCustomError | ContractLogicError) -> TransactionFailed:
        data = exc.data if isinstance(exc.data, str) else None
        decoded = self.decoder.decode(data) if data else None
        if decoded:
            name, args = decoded
            return TransactionFailed(f"reverted: {error_text(name, args)}", name, args)
        return TransactionFailed(f"reverted: {exc}")


def earlier_writes_settled(w3: Web3, address: str, timeout: float) -> bool:
    """Wait (up to `timeout` s) until every transaction `address` has pending now is mined or its
    nonce spent by another; whether that happened. Not until the key has nothing pending: the
    platform's key (escrows, settlements and, by default, anchors) has a write in the pool most of
    the time under load (bench consortium, eight lifecycle clients: 84-92 % of the samples), and a
    writer waiting for an empty pool (the anchorer; a write whose simulation reverted while earlier
    writes were unmined) waited for the gaps or the whole timeout. Writes sent later are not awaited."""
    target = w3.eth.get_transaction_count(address, "pending")
    deadline, delay = time.monotonic() + timeout, 0.01
    while w3.eth.get_transaction_count(address, "latest") < target:
        if time.monotonic() > deadline:
            return False
        time.sleep(delay)
        delay = min(delay * 2, RECEIPT_POLL_CAP_S)
    return True
