"""The code-signing key: encrypted at rest, rotated (old codes keep verifying), revoked on chain
(its codes scan as forged from then on, with the reason; `ledger verify` agrees from the chain)."""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives import serialization

from ledger.chain.indexer import Indexer
from ledger.errors import LedgerError
from ledger.trace.verify import verify_code

from .helpers import login, make_client, new_gtin
from .test_resolver import scan


def test_rotate_and_revoke(deployment, chain_node, tmp_path, members):
    dep, _ = deployment
    c = make_client(deployment, chain_node, tmp_path, scan_cache_s=0, code_key_dir=tmp_path / "keys" / "codes")
    a, platform = login(c, members["merchant_a"]), login(c, members["platform"])
    gtin = new_gtin()
    assert c.post("/v1/products", json={"gtin": gtin, "name": "Anji white tea"}, headers=a).status_code == 201
    assert c.post("/v1/batches", json={"gtin": gtin, "lot": "K-1"}, headers=a).status_code == 201
    first = c.post(f"/v1/batches/{gtin}/K-1/codes", json={"count": 2}, headers=a).json()
    old_kid = first["kid"]

    # at rest the key is encrypted: its PEM says so and does not load without the passphrase
    pem = (c.app.state.services.settings.code_key_dir / "current.pem").read_bytes()
    assert b"ENCRYPTED PRIVATE KEY" in pem
    with pytest.raises(TypeError):
        serialization.load_pem_private_key(pem, password=None)

    assert c.post("/v1/codes/keys/rotate", headers=a).status_code == 403
    r = c.post("/v1/codes/keys/rotate", headers=platform)
    assert r.status_code == 200 and r.json()["retired"] == old_kid and r.json()["kid"] != old_kid
    second = c.post(f"/v1/batches/{gtin}/K-1/codes", json={"count": 2}, headers=a).json()
    assert second["kid"] == r.json()["kid"]
    assert scan(c, first["sample"][0]).json()["verdict"] == "genuine"  # old codes keep verifying

    r = c.post(f"/v1/codes/keys/{old_kid}/revoke", json={"reason": "key copied from a printer"}, headers=platform)
    assert r.status_code == 200 and r.json()["revoked_at"], r.text
    again = c.post(f"/v1/codes/keys/{old_kid}/revoke", json={"reason": "again"}, headers=platform)
    assert again.status_code == 409
    Indexer(dep, c.app.state.services.engine, confirmations=0).run()
    got = scan(c, first["sample"][0]).json()
    assert got["verdict"] == "forged" and got["reason_code"] == "revoked_key"
    assert "key copied from a printer" in got["reason"] and got["reason_args"]["kid"] == old_kid
    page = c.get("/" + first["sample"][0].split("://", 1)[1].split("/", 1)[1], headers={"Accept-Language": "zh-CN"})
    assert "已于" in page.text and "吊销" in page.text
    assert scan(c, second["sample"][0]).json()["verdict"] == "genuine"

    def fetch(link):
        return c.get(f"/v1/proofs/01/{link.gtin}/10/{link.lot}/21/{link.serial}").json()

    checks = {x.name: x for x in verify_code(dep, first["sample"][0], fetch)}
    assert not checks["signing key not revoked"].ok and "key copied" in checks["signing key not revoked"].detail
    assert all(x.ok for x in verify_code(dep, second["sample"][0], fetch))
    keys = {k["kid"]: k for k in c.get("/v1/codes/keys", headers=platform).json()}
    assert keys[old_kid]["revoked_at"] and not keys[second["kid"]]["revoked_at"] and keys[second["kid"]]["current"]


def test_the_custodial_mnemonic_is_sealed_at_rest(tmp_path, monkeypatch):
    import subprocess
    import sys

    from api.core.settings import Settings
    from ledger.chain.client import DEV_MNEMONIC
    from ledger.paths import ROOT

    sealed = tmp_path / "mnemonic.sealed"
    env = {**os.environ, "LEDGER_KEY_PASSPHRASE": "correct horse", "LEDGER_DATA_DIR": str(tmp_path)}
    run = subprocess.run(
        [sys.executable, "-m", "ledger", "keys", "seal-mnemonic", str(sealed)],
        input=DEV_MNEMONIC, env=env, cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    blob = sealed.read_bytes()
    assert oct(sealed.stat().st_mode & 0o777) == "0o600"
    assert not any(word.encode() in blob for word in DEV_MNEMONIC.split())  # no word in the clear
    monkeypatch.setenv("LEDGER_KEY_PASSPHRASE", "correct horse")
    monkeypatch.setenv("LEDGER_SIGNER_MNEMONIC_FILE", str(sealed))
    monkeypatch.delenv("LEDGER_SIGNER_MNEMONIC", raising=False)
    assert Settings().signer_mnemonic == DEV_MNEMONIC
    monkeypatch.setenv("LEDGER_KEY_PASSPHRASE", "wrong")
    with pytest.raises(LedgerError, match="does not open"):
        Settings()
    again = subprocess.run(
        [sys.executable, "-m", "ledger", "keys", "seal-mnemonic", str(sealed)],
        input=DEV_MNEMONIC, env=env, cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert again.returncode != 0 and "not overwritten" in again.stderr
