"""Keystores every reader opens: eth-account stores a random IV whose first byte is zero as 15 bytes
(1 file in 256), which geth and the console's ethers refuse. `ledger.access.keystore` writes all 16."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from eth_account import Account

from ledger.access import keystore as keystore_file
from ledger.paths import ROOT


def short_iv_keystore(key: bytes, password: str) -> dict:
    """A keystore exactly as eth-account writes it when the IV's first byte is zero (a light KDF, so
    that the ~256 tries take milliseconds)."""
    while True:
        sealed = Account.encrypt(key, password, kdf="pbkdf2", iterations=2)
        if len(sealed["crypto"]["cipherparams"]["iv"]) < 32:
            return sealed


def test_a_short_iv_is_padded_to_the_same_key():
    account = Account.create()
    short = short_iv_keystore(account.key, "pw")
    assert len(short["crypto"]["cipherparams"]["iv"]) == 30  # the zero byte is gone
    padded = keystore_file.padded_iv(json.loads(json.dumps(short)))
    assert padded["crypto"]["cipherparams"]["iv"] == "00" + short["crypto"]["cipherparams"]["iv"]
    assert Account.decrypt(padded, "pw") == account.key


def test_sealed_keystores_always_carry_16_byte_ivs():
    account = Account.create()
    ivs: list[str] = []
    met = False  # an IV whose first byte is zero: the case that came out 15 bytes long
    # sealed at least 1,500 times and until that case is met: 1,500 alone miss it 1 run in ~355
    # (a CI run failed so); within 20,000, 1 in ~1e34
    while len(ivs) < 20_000 and (len(ivs) < 1500 or not met):
        ivs.append(keystore_file.seal(account.key, "pw", kdf="pbkdf2", iterations=2)["crypto"]["cipherparams"]["iv"])
        met = met or ivs[-1].startswith("00")
    assert {len(iv) for iv in ivs} == {32} and met
    assert Account.decrypt(keystore_file.seal(account.key, "pw", kdf="pbkdf2", iterations=2), "pw") == account.key


def test_cli_keystores_are_sealed_with_full_ivs(tmp_path):
    env = {**os.environ, "LEDGER_KEYSTORE_PASSWORD": "pw"}
    out = subprocess.run(
        [sys.executable, "-m", "ledger", "keys", "export-dev", "governor_2", str(tmp_path / "g2.json")],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert len(json.loads((tmp_path / "g2.json").read_text())["crypto"]["cipherparams"]["iv"]) == 32
