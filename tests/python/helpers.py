"""Helpers for the API tests: clients on a real node and database, sign-in, governance calls."""

from __future__ import annotations

import contextlib
import itertools
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from eth_account import Account
from eth_account.messages import encode_defunct
from fastapi.testclient import TestClient

from api.app import create_app
from api.core.settings import Settings
from ledger.access import siwe
from ledger.trace.gs1 import check_digit

DOMAIN = "127.0.0.1:8000"
_serial = itertools.count(1)


def new_gtin() -> str:
    body = f"0690{int(time.time()) % 10**5:05d}{next(_serial):04d}"[:13]
    return body + str(check_digit(body))


def make_client(deployment, chain_node, tmp_path, **overrides) -> TestClient:
    _, path = deployment
    settings = Settings(
        **{
            "rpc_url": chain_node.url,
            "manifest_path": path,
            "database_url": f"sqlite:///{tmp_path / 'api.sqlite3'}",
            "siwe_domain": DOMAIN,
            # tests anchor on demand; the limit on recorders' doing so is tested in test_epcis_api
            "anchor_manual_every_s": 0,
        }
        | overrides
    )
    return TestClient(create_app(settings))


def sign_in_message(client, account, **changes) -> tuple[str, str]:
    n = client.get("/v1/auth/nonce").json()
    now = datetime.now(UTC)
    fields = dict(
        domain=n["domain"],
        address=account.address,
        uri=f"http://{DOMAIN}",
        chain_id=n["chain_id"],
        nonce=n["nonce"],
        issued_at=now,
        expiration_time=now + timedelta(minutes=5),
    )
    fields.update(changes)
    message = siwe.build(**fields)
    signature = Account.sign_message(encode_defunct(text=message), account.key).signature.hex()
    return message, "0x" + signature.removeprefix("0x")


def login_over_http(url: str, account, **changes) -> dict[str, str]:
    """Bearer headers for `account`, signed in to the API served at `url` (as a client over HTTP)."""

    class _Http:  # what sign_in_message needs of a client
        def get(self, path):
            return httpx.get(url + path)

    message, signature = sign_in_message(_Http(), account, **changes)
    r = httpx.post(url + "/v1/auth/login", json={"message": message, "signature": signature})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def login(client, account) -> dict[str, str]:
    message, signature = sign_in_message(client, account)
    r = client.post("/v1/auth/login", json={"message": message, "signature": signature})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def govern(deployment, accounts, fn):
    dep, _ = deployment
    gov = dep.contract("Governance")
    g0, g1 = dep.sender(accounts[0]), dep.sender(accounts[1])
    target = fn.address
    receipt = g0.transact(gov.functions.propose(target, fn._encode_transaction_data()))
    pid = gov.functions.proposalCount().call()
    assert receipt["status"] == 1
    g1.transact(gov.functions.approve(pid))


@contextlib.contextmanager
def other_arbiter(deployment, accounts):
    """An arbiter with a key of its own, admitted for the block and removed after: the arbiter who
    opened a case never awards it alone, so awards in tests are signed by this one."""
    from eth_account import Account

    key = Account.create("another arbiter")
    membership = deployment[0].contract("Membership").functions
    govern(deployment, accounts, membership.admit(key.address, 1 << 6))
    try:
        yield key
    finally:
        govern(deployment, accounts, membership.remove(key.address))


def ruling_signature(c, dep, account, order: dict, refund: int) -> str:
    """Arbiter `account`'s EIP-712 signature of a ruling refunding `refund` fen of `order` (as the API
    answers it), hex."""
    from ledger.money.orders import settlement
    from ledger.store.models import Order

    key = bytes.fromhex(order["order_key"][2:])
    with c.app.state.services.sessions() as db:  # a ruling names the order's settlement slot as it stands
        slot = db.get(Order, order["order_id"]).slot
    return "0x" + settlement.sign_ruling(dep, bytes(account.key), key, order["payer"], refund, slot).hex()


def award_by(dep, key, case_id: int) -> dict:
    """The body of `POST /v1/cases/{case_id}/ruling` awarding the case, signed by arbiter `key`."""
    from ledger.money import vault

    return {"pay_out": True, "signatures": ["0x" + vault.sign_case_ruling(dep, bytes(key.key), case_id, True).hex()]}


@contextlib.contextmanager
def serve(env: dict[str, str], log: Path, port: int, workers: int | None = None) -> Iterator[str]:
    """The API under uvicorn in its own process (as deployed), on `port`; yields its base URL. With
    `workers`, served as `make run` serves it (`api.serve`, that many worker processes)."""
    from ledger.paths import ROOT

    command = [sys.executable, "-m", "uvicorn", "api.app:app", "--port", str(port), "--no-proxy-headers",
               "--ws", "api.epcis.binding.ws_handshake:ProblemWebSocketProtocol",
               "--http", "api.middleware.connections:GuardedHttpProtocol"]  # fmt: skip
    if workers:
        command = [sys.executable, "-m", "api.serve", "--port", str(port), "--workers", str(workers)]
    url = f"http://127.0.0.1:{port}"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, "LEDGER_RESOLVER_URL": url, **env},  # its public base URL: where it is served
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            # a loaded machine (a full test run beside other work) has taken over 20 s to import and bind
            deadline = time.monotonic() + 180
            while True:
                try:
                    httpx.get(url + "/healthz", timeout=2)
                    break
                except httpx.HTTPError:
                    assert proc.poll() is None, log.read_text()
                    assert time.monotonic() < deadline, f"the API did not answer on {url} in 180 s:\n{log.read_text()}"
                    time.sleep(0.1)
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=60)


def served_on_chain(
    deployment, chain_node, tmp_path: Path, *, port: int | None = None, workers: int | None = None, **env: str
):
    """`serve` with what every served test needs: the session's chain and deployment, a fresh SQLite
    database and data directory under `tmp_path`, sign-in for DOMAIN, no anchoring loop; `env`
    (LEDGER_* names) adds to or overrides it. Yields the base URL; the log is `tmp_path/api.log`."""
    from .conftest import free_port

    _, manifest = deployment
    base = {
        "LEDGER_RPC_URL": chain_node.url,
        "LEDGER_MANIFEST": str(manifest),
        "LEDGER_DATABASE_URL": f"sqlite:///{tmp_path / 'api.sqlite3'}",
        "LEDGER_DATA_DIR": str(tmp_path / "data"),
        "LEDGER_SIWE_DOMAIN": DOMAIN,
        "LEDGER_ANCHOR_INTERVAL": "0",
    }
    return serve({**base, **env}, tmp_path / "api.log", port or free_port(), workers=workers)


def delivery_doc(order_id: str, step: str = "receiving") -> dict:
    """A carrier's EPCIS document recording that the goods of `order_id` reached the consignee."""
    from ledger.trace.epcis.samples import delivery_document

    return delivery_document([("po", order_id)], order_id[-6:], step)


def captured_delivery(client, carrier_headers: dict[str, str], tag: str | None = None) -> str:
    """The hash ID of a delivery event the carrier captured now, naming a despatch advice (`tag`)
    and no order: a delivery of any of its orders may name it (`POST /v1/orders/deliveries`)."""
    from ledger.trace.epcis.samples import delivery_document

    tag = tag or secrets.token_hex(6)
    r = client.post(
        "/v1/epcis/capture", json=delivery_document([("desadv", f"DESADV-{tag}")], tag), headers=carrier_headers
    )
    assert r.status_code == 201, r.text
    return r.json()["events"][0]["hashId"]


def authorise(client, merchant_headers: dict[str, str], gtin: str, *recorders) -> None:
    """The product's merchant authorises members (accounts or addresses) to record about it."""
    for r in recorders:
        address = getattr(r, "address", r)
        got = client.put(f"/v1/products/{gtin}/recorders/{address}", headers=merchant_headers)
        assert got.status_code == 200, got.text


@contextlib.contextmanager
def withdrawal_cooldown(dep, governors, seconds: int) -> Iterator[None]:
    """The vault's withdrawal cooldown set to `seconds` for the block (a merchant's new claim terms
    pay only once it has passed), then put back, each by two governors' votes."""
    from ledger.chain import governance

    def set_to(value: int) -> None:
        pid = governance.propose(dep, governors[0], {"type": "set_withdrawal_cooldown", "seconds": value}, "tests")
        governance.approve(dep, governors[1], pid)

    before = int(dep.contract("GuaranteeVault").functions.cooldown().call())
    set_to(seconds)
    try:
        yield
    finally:
        set_to(before)


def claim_terms_in_force(dep, batch: int, proofs=None) -> None:
    """Wait (mining anvil blocks) until the chain's time reaches when `batch`'s claim terms pay."""
    c = proofs or dep.contract("PurchaseProofs")
    pays_from = int(c.functions.claimTerms(batch).call()[5])
    deadline = time.monotonic() + 120
    while int(dep.w3.eth.get_block("latest")["timestamp"]) < pays_from:
        assert time.monotonic() < deadline, "the claim terms never came into force"
        time.sleep(0.5)
        dep.w3.provider.make_request("evm_mine", [])


def orders_client(deployment, chain_node, tmp_dir, members, who: tuple[str, ...]):
    """An API client on the node with the platform's tokens minted for escrows, and `who` signed in:
    (client, {member: headers}, deployment)."""
    from ledger.chain.client import Sender

    dep, _ = deployment
    issuer = Sender(dep.w3, members["issuer"], dep.decoder())
    issuer.transact(dep.contract("SettlementToken").functions.mint(members["platform"].address, 10**10))
    c = make_client(deployment, chain_node, tmp_dir)
    return c, {w: login(c, members[w]) for w in who}, dep
