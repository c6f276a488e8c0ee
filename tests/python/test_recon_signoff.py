"""An auditor signs a reconciliation run off with its own key (EIP-712), once: the run then says who
signed it and when, the signature re-checks against the run, and the audit log records it; a second
sign-off is a 409, another key's signature or a non-auditor a 403, a malformed one a 422. The
audit log reads newest first, paged back by the last id shown."""

from __future__ import annotations

from eth_account import Account
from eth_account.messages import encode_typed_data

from ledger.chain.client import connect
from ledger.chain.deploy import deploy
from ledger.chain.indexer import Indexer

from .helpers import login, make_client


def _sign(typed: dict, account) -> str:
    return "0x" + bytes(account.sign_message(encode_typed_data(full_message=typed)).signature).hex()


def test_an_auditor_signs_a_run_off_once_with_its_own_key(anvil_factory, tmp_path, accounts):
    node = anvil_factory()
    manifest = tmp_path / "deployment.json"
    dep, _ = deploy(connect(node.url), manifest)
    members = {label: accounts[m["account_index"]] for label, m in dep.manifest["members"].items()}
    c = make_client((dep, manifest), node, tmp_path)
    auditor, merchant = members["auditor"], members["merchant_a"]
    h = login(c, auditor)
    Indexer(dep, c.app.state.services.engine, confirmations=0).run()
    r = c.post("/v1/audit/reconciliation/runs", json={}, headers=h)
    assert r.status_code == 201, r.text
    run = r.json()
    assert run["signed_off"] is None
    path = f"/v1/audit/reconciliation/runs/{run['id']}/signoff"
    typed = c.get(path, params={"note": "对平，已核"}, headers=h).json()
    assert typed["message"]["runId"] == run["id"] and typed["message"]["verdict"] == run["verdict"]
    assert typed["message"]["inputsSha256"] == "0x" + run["inputs_sha256"]
    # a non-auditor may neither read what to sign nor sign
    m = login(c, merchant)
    assert c.get(path, headers=m).status_code == 403
    r = c.post(path, json={"note": "对平，已核", "signature": _sign(typed, merchant)}, headers=m)
    assert r.status_code == 403 and r.json()["error"] == "forbidden", r.text
    # the auditor posting another key's signature, a signature of another note, a malformed one
    r = c.post(path, json={"note": "对平，已核", "signature": _sign(typed, merchant)}, headers=h)
    assert r.status_code == 403 and merchant.address in r.json()["detail"], r.text
    r = c.post(path, json={"note": "另一句", "signature": _sign(typed, auditor)}, headers=h)
    assert r.status_code == 403, r.text  # the note is part of what is signed
    assert c.post(path, json={"note": "", "signature": "0x12"}, headers=h).status_code == 422
    for off_curve in ("0x" + "ff" * 65, "0x" + "00" * 65):  # the right length, not a signature: 422, not 500
        assert c.post(path, json={"note": "对平", "signature": off_curve}, headers=h).status_code == 422
    assert c.get(f"/v1/audit/reconciliation/runs/{run['id']}", headers=h).json()["signed_off"] is None
    signature = _sign(typed, auditor)
    r = c.post(path, json={"note": "对平，已核", "signature": signature}, headers=h)
    assert r.status_code == 201, r.text
    signed = r.json()["signed_off"]
    assert signed["auditor"] == auditor.address and signed["note"] == "对平，已核" and signed["signed_at"]
    assert Account.recover_message(encode_typed_data(full_message=typed), signature=signed["signature"]) == (
        auditor.address
    )
    again = c.post(path, json={"note": "对平，已核", "signature": signature}, headers=h)
    assert again.status_code == 409 and "already signed off" in again.json()["detail"], again.text
    listed = c.get("/v1/audit/reconciliation/runs", headers=h).json()
    assert listed[0]["signed_off"]["auditor"] == auditor.address
    log = c.get("/v1/audit/log", params={"actor": auditor.address}, headers=h).json()
    assert any(e["path"] == path and e["status"] == 201 and "signed off" in (e["detail"] or "") for e in log), log
    assert (
        c.post("/v1/audit/reconciliation/runs/999/signoff", json={"signature": signature}, headers=h).status_code == 404
    )
    # the audit log newest first, paged back by the last id shown (keyset): every entry once, in order
    everything = [e["id"] for e in c.get("/v1/audit/log", params={"limit": 1000}, headers=h).json()]
    pages, before = [], None
    while True:
        params = {"newest_first": "true", "limit": 3} | ({"before_id": before} if before else {})
        page = [e["id"] for e in c.get("/v1/audit/log", params=params, headers=h).json()]
        if not page:
            break
        pages.append(page)
        before = page[-1]
    assert len(pages) >= 3 and sum(pages, []) == sorted(everything, reverse=True), (pages, everything)


def test_an_incomplete_run_is_not_signed_off(anvil_factory, tmp_path, accounts):
    """A run whose cut-off the indexer has not reached concluded nothing: neither what to sign nor a
    sign-off is given (409 naming why), and nothing is recorded; a later complete run signs off."""
    node = anvil_factory()
    manifest = tmp_path / "deployment.json"
    dep, _ = deploy(connect(node.url), manifest)
    auditor = accounts[dep.manifest["members"]["auditor"]["account_index"]]
    c = make_client((dep, manifest), node, tmp_path)
    h = login(c, auditor)
    head = dep.w3.eth.block_number  # the indexer has read nothing yet
    r = c.post("/v1/audit/reconciliation/runs", json={"cut_off_block": head}, headers=h)
    assert r.status_code == 201 and r.json()["verdict"] == "incomplete", r.text
    run = r.json()
    path = f"/v1/audit/reconciliation/runs/{run['id']}/signoff"
    r = c.get(path, headers=h)
    assert r.status_code == 409 and "incomplete" in r.json()["detail"] and "indexer" in r.json()["detail"], r.text
    # what it would have signed, made anyway: still refused, and nothing recorded
    from ledger.money.recon.signoff import typed_data
    from ledger.store.recon_tables import ReconRun

    stored = ReconRun(**{k: run[k] for k in ("id", "cut_off_block", "cut_off_hash", "inputs_sha256", "verdict")})
    signature = _sign(typed_data(stored, dep.w3.eth.chain_id, ""), auditor)
    r = c.post(path, json={"note": "", "signature": signature}, headers=h)
    assert r.status_code == 409 and "incomplete" in r.json()["detail"], r.text
    assert c.get(f"/v1/audit/reconciliation/runs/{run['id']}", headers=h).json()["signed_off"] is None
    Indexer(dep, c.app.state.services.engine, confirmations=0).run()
    later = c.post("/v1/audit/reconciliation/runs", json={}, headers=h).json()
    assert later["verdict"] != "incomplete", later
    typed = c.get(f"/v1/audit/reconciliation/runs/{later['id']}/signoff", headers=h).json()
    r = c.post(
        f"/v1/audit/reconciliation/runs/{later['id']}/signoff",
        json={"note": "", "signature": _sign(typed, auditor)},
        headers=h,
    )
    assert r.status_code == 201, r.text
