"""Members hold their own keys: with custodial signing off, a write prepares its transaction, the
member signs it where its key lives, the API checks it is exactly the prepared call from that
member and answers as the write does. Anything else signed is refused and changes nothing."""

from __future__ import annotations

import contextlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest
from eth_account import Account

from ledger.access.roles import Role

from .helpers import govern, login, make_client, new_gtin

SELF = {"X-Ledger-Sign": "self"}


@pytest.fixture
def own_key_merchant(deployment, chain_node, accounts, tmp_path, members):
    dep, _ = deployment
    key = Account.create()
    dep.w3.provider.make_request("anvil_setBalance", [key.address, hex(10**20)])
    govern(deployment, accounts, dep.contract("Membership").functions.admit(key.address, int(Role.MERCHANT)))
    c = make_client(deployment, chain_node, tmp_path, custodial=False, anchor_interval_s=0)
    return c, key, login(c, key)


def _sign(key, prepared: dict) -> str:
    tx = dict(prepared["transaction"])
    return "0x" + bytes(key.sign_transaction(tx).raw_transaction).hex()


def test_a_member_signs_its_own_write(own_key_merchant, deployment):
    c, key, h = own_key_merchant
    gtin = new_gtin()
    refused = c.post("/v1/products", json={"gtin": gtin, "name": "Dianhong"}, headers=h)
    assert refused.status_code == 409 and refused.json()["error"] == "no_signing_key"
    prepared = c.post("/v1/products", json={"gtin": gtin, "name": "Dianhong"}, headers=h | SELF)
    assert prepared.status_code == 202, prepared.text
    p = prepared.json()
    assert (
        "registerProduct" in p["does"]
        and p["transaction"]["chainId"] == 31337
        and p["submit"].endswith(p["prepared_id"])
    )
    # what it does, decoded, for the page to show and to check against the transaction's own data
    call = p["call"]
    assert (call["contract"], call["function"], call["value"]) == ("Provenance", "registerProduct", "0")
    assert call["to"] == p["transaction"]["to"] and p["transaction"]["data"].startswith(call["selector"])
    assert [a["value"] for a in call["args"]] == [str(int(gtin))]
    done = c.post(p["submit"], json={"raw_transaction": _sign(key, p)}, headers=h)
    assert done.status_code == 201, done.text
    assert done.json()["gtin"] == gtin and done.json()["merchant"] == key.address
    dep, _ = deployment
    assert dep.contract("Provenance").functions.productOwner(int(gtin)).call() == key.address
    again = c.post(p["submit"], json={"raw_transaction": _sign(key, p)}, headers=h)
    assert again.status_code == 409 and again.json()["error"] == "already_submitted"


def test_only_the_prepared_call_signed_by_that_member_is_sent(own_key_merchant, deployment, members):
    c, key, h = own_key_merchant
    dep, _ = deployment
    gtin = new_gtin()
    p = c.post("/v1/products", json={"gtin": gtin, "name": "Keemun"}, headers=h | SELF).json()
    other = dict(p["transaction"])
    other["data"] = dep.contract("Provenance").encode_abi("registerProduct", [int(new_gtin())])
    r = c.post(
        p["submit"],
        json={"raw_transaction": "0x" + bytes(key.sign_transaction(other).raw_transaction).hex()},
        headers=h,
    )
    assert r.status_code == 422 and "data" in r.json()["detail"][0]["reason"]
    stranger = Account.create()
    r = c.post(p["submit"], json={"raw_transaction": _sign(stranger, p)}, headers=h)
    assert r.status_code == 422 and "signed by" in r.json()["detail"][0]["reason"]
    r = c.post(p["submit"], json={"raw_transaction": "0xdeadbeef"}, headers=h)
    assert r.status_code == 422
    b = login(c, members["merchant_b"])  # another member cannot use (or learn of) this prepared write
    assert c.post(p["submit"], json={"raw_transaction": _sign(key, p)}, headers=b).status_code == 404
    assert dep.contract("Provenance").functions.productOwner(int(gtin)).call() == "0x" + "0" * 40
    assert c.post(p["submit"], json={"raw_transaction": _sign(key, p)}, headers=h).status_code == 201


def test_a_write_of_two_transactions_prepares_each_in_turn(own_key_merchant, deployment, chain_node, tmp_path, members):
    c, key, h = own_key_merchant
    (tmp_path / "issuer").mkdir()
    issuer_api = make_client(deployment, chain_node, tmp_path / "issuer", anchor_interval_s=0)
    ref = f"ICBC-{new_gtin()}"
    assert issuer_api.post(
        "/v1/token/issuances", json={"to": key.address, "amount_fen": 9_000, "fiat_reference": ref},
        headers=login(issuer_api, members["issuer"]),
    ).status_code == 201  # fmt: skip
    first = c.post("/v1/deposits", json={"amount_fen": 5_000}, headers=h | SELF).json()
    assert "approve" in first["does"]
    second = c.post(first["submit"], json={"raw_transaction": _sign(key, first)}, headers=h)
    assert second.status_code == 202 and "deposit" in second.json()["does"], second.text
    done = c.post(second.json()["submit"], json={"raw_transaction": _sign(key, second.json())}, headers=h)
    assert done.status_code == 200 and done.json()["balance_fen"] == 5_000, done.text


def test_the_cli_keeps_the_key_encrypted_and_signs_writes_locally(deployment, chain_node, accounts, tmp_path):
    import os
    import stat
    import subprocess
    import sys

    from ledger.cli.keys import call, load_keystore
    from ledger.errors import LedgerError
    from ledger.paths import ROOT

    keyfile = tmp_path / "merchant.json"
    env = {**os.environ, "LEDGER_KEYSTORE_PASSWORD": "correct horse battery staple"}
    new_key = [sys.executable, "-m", "ledger", "keys", "new", str(keyfile)]
    out = subprocess.run(new_key, check=False, cwd=ROOT, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert stat.S_IMODE(keyfile.stat().st_mode) == 0o600 and "crypto" in keyfile.read_text()
    again = subprocess.run(new_key, check=False, cwd=ROOT, env=env, capture_output=True, text=True)
    assert again.returncode == 1 and "never overwritten" in again.stderr
    with pytest.raises(LedgerError, match="wrong password"):
        load_keystore(keyfile, "guess")
    account = load_keystore(keyfile, "correct horse battery staple")
    assert out.stdout.startswith(account.address)

    dep, _ = deployment
    dep.w3.provider.make_request("anvil_setBalance", [account.address, hex(10**20)])
    govern(deployment, accounts, dep.contract("Membership").functions.admit(account.address, int(Role.MERCHANT)))
    c = make_client(deployment, chain_node, tmp_path, custodial=False, anchor_interval_s=0)
    gtin = new_gtin()
    r = call(c, account, "POST", "/v1/products", {"gtin": gtin, "name": "Liu'an"})
    assert r.status_code == 201, r.text
    assert dep.contract("Provenance").functions.productOwner(int(gtin)).call() == account.address
    keyfile.chmod(0o644)
    with pytest.raises(LedgerError, match="readable by others"):
        load_keystore(keyfile, "correct horse battery staple")


def _write(c, key, h, path: str, body: dict):
    """A write signed by the member's own key: prepared, signed, submitted; the write's answer."""
    r = c.post(path, json=body, headers=h | SELF)
    while r.status_code == 202:
        r = c.post(r.json()["submit"], json={"raw_transaction": _sign(key, r.json())}, headers=h)
    return r


def test_a_code_issue_signed_by_the_merchant_keeps_the_codes_drawn_when_prepared(own_key_merchant, deployment):
    from sqlalchemy import func, select

    from ledger.store.models import Code, CodeIssue
    from ledger.trace import code_anchors

    c, key, h = own_key_merchant
    dep, _ = deployment
    gtin = new_gtin()
    assert _write(c, key, h, "/v1/products", {"gtin": gtin, "name": "Pu'er"}).status_code == 201
    assert _write(c, key, h, "/v1/batches", {"gtin": gtin, "lot": "S-1"}).status_code == 201
    p = c.post(f"/v1/batches/{gtin}/S-1/codes", json={"count": 5}, headers=h | SELF)
    assert p.status_code == 202 and "anchor" in p.json()["does"], p.text
    db_sessions = c.app.state.services.sessions
    with db_sessions() as db:  # drawn and kept while the merchant signs, not genuine until anchored
        [waiting] = db.scalars(select(CodeIssue).where(CodeIssue.gtin == gtin)).all()
        assert waiting.anchor_tx is None and waiting.root[2:] in p.json()["transaction"]["data"]
        assert code_anchors.catch_up(db, dep, older_than_s=0) == (0, 0)  # the signature may still come
    done = c.post(p.json()["submit"], json={"raw_transaction": _sign(key, p.json())}, headers=h)
    assert done.status_code == 201, done.text
    issue = done.json()
    assert issue["issue_id"] == waiting.id and issue["count"] == 5 and issue["anchor_tx"]
    with db_sessions() as db:
        assert db.scalar(select(func.count()).select_from(CodeIssue).where(CodeIssue.gtin == gtin)) == 1
        assert db.scalar(select(func.count()).select_from(Code).where(Code.gtin == gtin)) == 5
    submitter, _, count = dep.contract("Provenance").functions.anchorOf(bytes.fromhex(waiting.root[2:])).call()
    assert (submitter, count) == (key.address, 5)
    sample = urlsplit(issue["sample"][0])
    scan = c.get(f"{sample.path}?{sample.query}", headers={"Accept": "application/json"})
    assert scan.status_code == 200 and scan.json()["verdict"] == "genuine", scan.text


def test_a_write_sent_by_the_members_wallet_is_submitted_by_its_hash(own_key_merchant, deployment, members):
    c, key, h = own_key_merchant
    dep, _ = deployment
    w3 = dep.w3
    gtin = new_gtin()
    p = c.post("/v1/products", json={"gtin": gtin, "name": "Liu'an"}, headers=h | SELF).json()
    # the wallet sends the prepared call itself (its own nonce and fees), the page hands over the hash
    tx = {k: v for k, v in p["transaction"].items() if k not in ("nonce", "maxFeePerGas", "maxPriorityFeePerGas")}
    tx |= {"nonce": w3.eth.get_transaction_count(key.address), "maxFeePerGas": 2 * 10**9, "maxPriorityFeePerGas": 0}
    sent = "0x" + w3.eth.send_raw_transaction(key.sign_transaction(tx).raw_transaction).hex().removeprefix("0x")
    both = {"tx_hash": sent, "raw_transaction": "0x00"}
    assert c.post(p["submit"], json=both, headers=h).status_code == 422
    done = c.post(p["submit"], json={"tx_hash": sent}, headers=h)
    assert done.status_code == 201, done.text
    assert dep.contract("Provenance").functions.productOwner(int(gtin)).call() == key.address
    # a hash answers for one prepared write only, and only the member's own transaction of that call
    again = c.post("/v1/products", json={"gtin": gtin, "name": "Liu'an"}, headers=h | SELF)
    assert again.status_code == 409  # the product exists now: nothing to prepare
    other = c.post("/v1/products", json={"gtin": new_gtin(), "name": "x"}, headers=h | SELF).json()
    r = c.post(other["submit"], json={"tx_hash": sent}, headers=h)
    assert r.status_code == 422 and "data" in r.json()["detail"][0]["reason"], r.text
    unknown = c.post(other["submit"], json={"tx_hash": "0x" + "ab" * 32}, headers=h)
    assert unknown.status_code == 422 and "knows no transaction" in unknown.json()["detail"][0]["reason"]
    stranger = members["merchant_b"]
    foreign = dict(other["transaction"], nonce=w3.eth.get_transaction_count(stranger.address))
    foreign |= {"maxFeePerGas": 2 * 10**9, "maxPriorityFeePerGas": 0}
    theirs = w3.eth.send_raw_transaction(stranger.sign_transaction(foreign).raw_transaction)
    w3.eth.wait_for_transaction_receipt(theirs)
    r = c.post(other["submit"], json={"tx_hash": "0x" + bytes(theirs).hex()}, headers=h)
    assert r.status_code == 422 and "sent by" in r.json()["detail"][0]["reason"], r.text


def test_one_sent_transaction_answers_for_one_prepared_write(own_key_merchant, deployment):
    c, key, h = own_key_merchant
    w3 = deployment[0].w3
    gtin = new_gtin()
    first = c.post("/v1/products", json={"gtin": gtin, "name": "Tieguanyin"}, headers=h | SELF).json()
    second = c.post("/v1/products", json={"gtin": gtin, "name": "Tieguanyin"}, headers=h | SELF).json()
    assert first["transaction"]["data"] == second["transaction"]["data"]  # the same call, prepared twice
    tx = dict(first["transaction"], maxFeePerGas=2 * 10**9, maxPriorityFeePerGas=0)
    sent = "0x" + bytes(w3.eth.send_raw_transaction(key.sign_transaction(tx).raw_transaction)).hex()
    assert c.post(first["submit"], json={"tx_hash": sent}, headers=h).status_code == 201
    r = c.post(second["submit"], json={"tx_hash": sent}, headers=h)
    assert r.status_code == 409 and r.json()["error"] == "already_submitted", r.text


def test_a_signature_the_node_refuses_leaves_the_prepared_write_to_sign_again(own_key_merchant):
    """Signed with a fee below the base fee, the node refuses it before it runs (409); the prepared
    write was spent on it all the same (`already_submitted`), and had to be prepared again."""
    c, key, h = own_key_merchant
    gtin = new_gtin()
    prepared = c.post("/v1/products", json={"gtin": gtin, "name": "Oolong"}, headers=h | SELF).json()
    cheap = dict(prepared["transaction"], maxFeePerGas=1, maxPriorityFeePerGas=1)
    refused = c.post(
        prepared["submit"],
        json={"raw_transaction": "0x" + bytes(key.sign_transaction(cheap).raw_transaction).hex()},
        headers=h,
    )
    assert refused.status_code == 409 and refused.json()["error"] == "transaction_rejected", refused.text
    again = c.post(prepared["submit"], json={"raw_transaction": _sign(key, prepared)}, headers=h)
    assert again.status_code == 201, again.text
    assert c.post(prepared["submit"], json={"raw_transaction": _sign(key, prepared)}, headers=h).status_code == 409


def test_three_writers_sharing_one_key_hear_409_with_the_nodes_reason(own_key_merchant):
    """Three writes prepared at one nonce, signed and submitted at once: one goes through; the node
    refuses the others (nonce too low, or replacement underpriced), a 409 saying so, never a 500."""
    c, key, h = own_key_merchant
    gtins = [new_gtin() for _ in range(3)]
    prepared = [c.post("/v1/products", json={"gtin": g, "name": "Oolong"}, headers=h | SELF).json() for g in gtins]
    assert len({p["transaction"]["nonce"] for p in prepared}) == 1

    def submit(p: dict):
        return c.post(p["submit"], json={"raw_transaction": _sign(key, p)}, headers=h)

    with ThreadPoolExecutor(max_workers=3) as pool:
        answers = list(pool.map(submit, prepared))
    assert sorted(a.status_code for a in answers) == [201, 409, 409], [a.text for a in answers]
    for gtin, a in zip(gtins, answers, strict=True):
        if a.status_code == 409:
            assert a.json()["error"] == "transaction_rejected", a.text
            assert any(r in a.json()["detail"] for r in ("nonce too low", "underpriced")), a.text
            assert _write(c, key, h, "/v1/products", {"gtin": gtin, "name": "Oolong"}).status_code == 201


def test_the_gateway_takes_a_fresh_nonce_when_the_members_wallet_took_it(deployment, chain_node, tmp_path, members):
    """A member whose key both the gateway and its own wallet use: the gateway's writes go through
    while the wallet sends transactions of its own at the same time (a taken nonce is taken afresh)."""
    c = make_client(deployment, chain_node, tmp_path, anchor_interval_s=0)
    member, h = members["merchant_b"], login(c, members["merchant_b"])
    w3 = deployment[0].w3
    stop = threading.Event()
    sent: list[bytes] = []

    def wallet() -> None:
        while not stop.is_set():
            nonce = w3.eth.get_transaction_count(member.address, "pending")
            tx = {"to": member.address, "value": 0, "gas": 21_000, "chainId": 31337, "nonce": nonce,
                  "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 10**9}  # fmt: skip
            with contextlib.suppress(Exception):  # the wallet loses some races itself
                sent.append(w3.eth.send_raw_transaction(member.sign_transaction(tx).raw_transaction))
            time.sleep(0.01)  # a busy wallet, not a flood

    def register(gtin: str):
        return c.post("/v1/products", json={"gtin": gtin, "name": "Baihao"}, headers=h)

    own = threading.Thread(target=wallet)
    own.start()
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            answers = list(pool.map(register, [new_gtin() for _ in range(12)]))
    finally:
        stop.set()
        own.join()
    assert sent, "the wallet sent nothing alongside"
    for a in answers:
        assert a.status_code == 201 or (a.status_code == 409 and a.json()["error"] == "transaction_rejected"), a.text
    assert sum(a.status_code == 201 for a in answers) >= 6, [a.text for a in answers if a.status_code != 201]
