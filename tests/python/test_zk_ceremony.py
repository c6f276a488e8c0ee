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


def test_the_round_ends_with_a_beacon_and_its_key_is_installed(tiny, tmp_path):
    """A public beacon as the last contribution (anyone recomputes it: the same value gives the same
    key), then the final key installed in a build directory in place of its development key: the
    verification key and verifier exported from it, the manifest naming every contribution, and a
    proof made with the installed key checking against the installed verification key. A key that
    does not check, or one for another circuit, changes nothing."""
    r1cs, ptau = tiny / "tiny.r1cs", tiny / "final.ptau"
    ceremony.start(r1cs, ptau, tiny / "b0.zkey")
    member = ceremony.contribute(tiny / "b0.zkey", tiny / "b1.zkey", "merchant_b")
    value = "0x" + "5a" * 32  # e.g. a block hash named before the round began
    with pytest.raises(ceremony.CeremonyFailed, match="64 hex digits"):
        ceremony.beacon(tiny / "b1.zkey", tiny / "bx.zkey", "0x1234")
    got = json.loads(
        zk("beacon", str(tiny / "b1.zkey"), str(tiny / "b2.zkey"), "--beacon", value, "--iterations", "10").stdout
    )
    again = ceremony.beacon(tiny / "b1.zkey", tiny / "b2-again.zkey", value, 10)
    assert got["sha256"] == again["sha256"]  # deterministic: anyone checks the beacon was applied
    listed = ceremony.verify(tiny / "b2.zkey", r1cs, ptau)
    assert [x["name"] for x in listed][:1] == ["merchant_b"] and len(listed) == 2, listed
    assert listed[0]["hash"] == member["hash"]

    # a build directory as `make zk` leaves it, with its development key
    b = tmp_path / "zk"
    b.mkdir()
    js = build.snarkjs_cli()
    (b / "purchase.r1cs").write_bytes(r1cs.read_bytes())
    subprocess.run(
        [*js, "groth16", "setup", str(r1cs), str(ptau), str(b / "purchase.zkey")], check=True, capture_output=True
    )
    files = {"zkey": "purchase.zkey", "vkey": "verification_key.json", "verifier": "Groth16Verifier.sol"}
    subprocess.run(
        [*js, "zkey", "export", "verificationkey", str(b / "purchase.zkey"), str(b / files["vkey"])], check=True
    )
    (b / files["verifier"]).write_text("// development verifier\n")
    manifest = {"fingerprint": "f", "ptau": {"file": "dev_pot4_final.ptau", "development_only": True}, "files": files,
                "contributions": [{"name": "platform (development)", "hash": "00"}], "sha256": {}}  # fmt: skip
    (b / "manifest.json").write_text(json.dumps(manifest))
    before = (b / "purchase.zkey").read_bytes()
    flip(tiny / "b2.zkey", tiny / "b2-bad.zkey", (tiny / "b2.zkey").stat().st_size - 200)
    with pytest.raises(ceremony.CeremonyFailed):
        ceremony.install(tiny / "b2-bad.zkey", r1cs, ptau, build_dir=b)
    other = tmp_path / "other.r1cs"
    other.write_bytes(r1cs.read_bytes() + b"\0")
    with pytest.raises(ceremony.CeremonyFailed, match="another circuit"):
        ceremony.install(tiny / "b2.zkey", other, ptau, build_dir=b)
    assert (b / "purchase.zkey").read_bytes() == before  # refused: nothing replaced

    done = ceremony.install(tiny / "b2.zkey", r1cs, ptau, build_dir=b)
    assert (b / "purchase.zkey").read_bytes() == (tiny / "b2.zkey").read_bytes()
    m = json.loads((b / "manifest.json").read_text())
    assert (
        [c["hash"] for c in m["contributions"]]
        == [x["hash"] for x in listed]
        == [c["hash"] for c in done["contributions"]]
    )
    assert m["ceremony"]["key_sha256"] == ceremony.sha256(tiny / "b2.zkey") and m["ptau"]["development_only"] is False
    assert "contract Groth16Verifier" in (b / files["verifier"]).read_text()
    assert m["sha256"]["vkey"] == ceremony.sha256(b / files["vkey"])
    # a proof made with the installed key checks against the installed verification key
    wtns = tmp_path / "w.wtns"
    subprocess.run([str(node_modules() / ".bin" / "circom2"), str(tiny / "tiny.circom"), "--wasm", "-o", str(tmp_path)],
                   check=True, capture_output=True)  # fmt: skip
    (tmp_path / "in.json").write_text(json.dumps({"a": 3, "b": 11}))
    wasm = tmp_path / "tiny_js" / "tiny.wasm"
    subprocess.run(
        [*js, "wtns", "calculate", str(wasm), str(tmp_path / "in.json"), str(wtns)], check=True, capture_output=True
    )
    proof, public = tmp_path / "proof.json", tmp_path / "public.json"
    subprocess.run([*js, "groth16", "prove", str(b / "purchase.zkey"), str(wtns), str(proof), str(public)], check=True)
    ok = subprocess.run(
        [*js, "groth16", "verify", str(b / files["vkey"]), str(public), str(proof)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0 and "OK" in ok.stdout, ok.stdout + ok.stderr
