"""The consortium's trusted setup (`ledger zk ceremony`, issue 28), on a tiny circuit compiled here
with the project's circom2 and a 2^4 powers-of-tau made here (seconds; the purchase circuit's
phase-2 check takes minutes on these machines): a public phase-1 file checked and refused when
unprepared or tampered, the members' contributions each made by the command a member runs, the
key verified with its contributions listed and a tampered key refused, and the contributions'
hashes anchored on chain once each."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from ledger.chain.client import Sender
from ledger.paths import ROOT, node_modules
from ledger.privacy import build, ceremony, onchain

TINY = """pragma circom 2.1.0;
template T() { signal input a; signal input b; signal output c; c <== a * b; }
component main = T();
"""


def zk(*args: str, ok: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-m", "ledger", "zk", "ceremony", *args], env=env, cwd=ROOT, capture_output=True, text=True,
        timeout=600, check=False,
    )  # fmt: skip
    assert (out.returncode == 0) == ok, out.stderr[-2000:]
    return out


def flip(src, dst, at: int) -> None:
    b = bytearray(src.read_bytes())
    b[at] ^= 1
    dst.write_bytes(bytes(b))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    d = tmp_path_factory.mktemp("zk2-ceremony")
    (d / "tiny.circom").write_text(TINY)
    circom = node_modules() / ".bin" / "circom2"
    subprocess.run([str(circom), str(d / "tiny.circom"), "--r1cs", "-o", str(d)], check=True, capture_output=True)
    js = build.snarkjs_cli()
    for cmd in (
        ["powersoftau", "new", "bn128", "4", str(d / "p0.ptau")],
        ["powersoftau", "contribute", str(d / "p0.ptau"), str(d / "p1.ptau"), "--name=test phase 1", "-e=x"],
        ["powersoftau", "prepare", "phase2", str(d / "p1.ptau"), str(d / "final.ptau")],
    ):
        subprocess.run([*js, *cmd], check=True, capture_output=True, timeout=600)
    return d


def test_phase_one_is_checked(tiny):
    got = json.loads(zk("ptau", str(tiny / "final.ptau"), "--power", "4").stdout)
    assert got["power"] == 4 and got["sha256"] == ceremony.sha256(tiny / "final.ptau")
    assert "not prepared for phase 2" in zk("ptau", str(tiny / "p1.ptau"), "--power", "4", ok=False).stderr
    with pytest.raises(ceremony.CeremonyFailed, match="needs 2\\^13"):  # the purchase circuit's
        ceremony.check_ptau(tiny / "final.ptau")
    flip(tiny / "final.ptau", tiny / "bad.ptau", 5000)
    with pytest.raises(ceremony.CeremonyFailed, match="powersoftau verify"):
        ceremony.check_ptau(tiny / "bad.ptau", need=4)


def test_members_contribute_verify_and_anchor(tiny, deployment, members):
    r1cs, ptau = tiny / "tiny.r1cs", tiny / "final.ptau"
    first = ceremony.start(r1cs, ptau, tiny / "k0.zkey")
    assert first["circuit"] == ceremony.sha256(r1cs)
    # each member on its own machine: the command, with its own entropy
    a = json.loads(zk("contribute", str(tiny / "k0.zkey"), str(tiny / "k1.zkey"), "--name", "merchant_a").stdout)
    b = ceremony.contribute(tiny / "k1.zkey", tiny / "k2.zkey", "auditor")
    with pytest.raises(ceremony.CeremonyFailed, match="one line"):
        ceremony.contribute(tiny / "k1.zkey", tiny / "kx.zkey", "two\nlines")
    listed = ceremony.verify(tiny / "k2.zkey", r1cs, ptau)
    assert [(x["index"], x["name"], x["hash"]) for x in listed] == [
        (1, "merchant_a", a["hash"]),
        (2, "auditor", b["hash"]),
    ]
    flip(tiny / "k2.zkey", tiny / "bad.zkey", (tiny / "k2.zkey").stat().st_size - 200)
    with pytest.raises(ceremony.CeremonyFailed, match="zkey verify"):
        ceremony.verify(tiny / "bad.zkey", r1cs, ptau)

    dep, manifest = deployment
    platform = Sender(dep.w3, members["platform"], dep.decoder())
    onchain.deploy(dep, platform, manifest)
    auditor = Sender(dep.w3, members["auditor"], dep.decoder())
    on_chain = ceremony.anchor(dep, auditor, r1cs, listed)
    assert [(x["index"], x["name"], x["hash"], x["by"]) for x in on_chain] == [
        (1, "merchant_a", a["hash"], members["auditor"].address),
        (2, "auditor", b["hash"], members["auditor"].address),
    ]
    assert len(ceremony.anchor(dep, platform, r1cs, listed)) == 2  # each once: nothing anchored again
