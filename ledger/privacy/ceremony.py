"""The consortium's trusted setup for the purchase circuit (`ledger zk ceremony`, docs/zk.md).

Phase 1 is a public ceremony's prepared powers-of-tau file (`LEDGER_ZK_PTAU`), checked here with
`snarkjs powersoftau verify` and for enough powers. Phase 2 is a round among members: the first
key is `groth16 setup` of the circuit on that file (anyone recomputes the same one); each member,
on its own machine, adds a contribution with entropy that never leaves the process (`snarkjs zkey
contribute`, random bytes from the OS), and passes the new key on; everyone checks a key with
`snarkjs zkey verify` against the circuit and phase 1, which lists every contribution's hash;
members anchor those hashes on chain (`PurchaseProofs.anchorContribution`). As long as one
contributor destroyed its entropy, no one can forge a proof. The round ends with a random beacon
(a public value no one knew while contributing, e.g. a Bitcoin block hash named in advance) as the
last contribution, and the final key is installed in `build/zk` in place of the development one."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import shutil
import struct
import time
from pathlib import Path
from typing import Any

from ledger.chain.client import Sender
from ledger.chain.deploy import Deployment
from ledger.errors import LedgerError

from .build import BUILD, PTAU_POWER, BuildFailed, NotBuilt, _run, snarkjs_cli

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_CONTRIBUTION = re.compile(r"contribution #(\d+) (.*):$")


class CeremonyFailed(LedgerError):
    """A phase-1 file or a phase-2 key does not check: the message says what snarkjs said."""


def _snarkjs(*args: str, timeout: float = 1800) -> str:
    try:
        return _ANSI.sub("", _run([*snarkjs_cli(), *args], timeout=timeout))
    except BuildFailed as exc:
        raise CeremonyFailed(_ANSI.sub("", str(exc))) from None


def ptau_power(path: Path) -> tuple[int, bool]:
    """(power, prepared for phase 2) read from a .ptau file's header and section list."""
    with open(path, "rb") as f:
        if f.read(4) != b"ptau":
            raise CeremonyFailed(f"{path} is not a powers-of-tau file")
        _version, count = struct.unpack("<II", f.read(8))
        power, kinds = None, set()
        for _ in range(count):
            head = f.read(12)
            if len(head) < 12:
                raise CeremonyFailed(f"{path} is truncated")
            kind, size = struct.unpack("<IQ", head)
            kinds.add(kind)
            if kind == 1:
                (n8,) = struct.unpack("<I", f.read(4))
                f.seek(n8, 1)
                (power,) = struct.unpack("<I", f.read(4))
                f.seek(size - 8 - n8, 1)
            else:
                f.seek(size, 1)
    if power is None:
        raise CeremonyFailed(f"{path} has no header section")
    return power, 12 in kinds


def check_ptau(path: Path, need: int = PTAU_POWER) -> dict[str, Any]:
    """A public phase-1 file, checked: enough powers, prepared for phase 2, and every contribution
    verified by `snarkjs powersoftau verify` (which lists them)."""
    power, prepared = ptau_power(path)
    if power < need:
        raise CeremonyFailed(f"{path} holds 2^{power} powers; the circuit needs 2^{need}")
    if not prepared:
        raise CeremonyFailed(f"{path} is not prepared for phase 2 (`snarkjs powersoftau prepare phase2`)")
    log = _snarkjs("powersoftau", "verify", str(path))
    if "Powers of Tau Ok" not in log and "Powers Of tau file OK" not in log:
        raise CeremonyFailed(f"snarkjs did not accept {path}: {log.strip()[-400:]}")
    return {"file": str(path), "power": power, "sha256": sha256(path)}


def start(r1cs: Path, ptau: Path, out: Path) -> dict[str, Any]:
    """The round's first key: deterministic from the circuit and phase 1."""
    _snarkjs("groth16", "setup", str(r1cs), str(ptau), str(out))
    return {"key": str(out), "sha256": sha256(out), "circuit": sha256(r1cs)}


def contribute(key_in: Path, key_out: Path, name: str) -> dict[str, Any]:
    """A member's contribution, on its own machine: 64 fresh random bytes from the OS as entropy,
    given to snarkjs and never written anywhere."""
    if not name.strip() or len(name) > 100 or "\n" in name:
        raise CeremonyFailed("a contribution's name is one line of 1 to 100 characters")
    log = _snarkjs("zkey", "contribute", str(key_in), str(key_out), f"--name={name}", f"-e={secrets.token_hex(64)}")
    lines = log.splitlines()
    at = next((i for i, ln in enumerate(lines) if "Contribution Hash" in ln), None)
    if at is None:
        raise CeremonyFailed("snarkjs printed no contribution hash")
    return {"key": str(key_out), "name": name, "hash": _hex(lines[at + 1 : at + 5]), "sha256": sha256(key_out)}


def beacon(key_in: Path, key_out: Path, value: str, iterations_exp: int = 10) -> dict[str, Any]:
    """The round's last contribution: a public random `value` (32 bytes, hex) no contributor could
    know, hashed 2^`iterations_exp` times (`snarkjs zkey beacon`); anyone recomputes it."""
    if not re.fullmatch(r"(0x)?[0-9a-fA-F]{64}", value):
        raise CeremonyFailed("a beacon is 32 bytes as 64 hex digits (e.g. a block hash named in advance)")
    if not 10 <= iterations_exp <= 63:
        raise CeremonyFailed("the beacon's iterations are 2^10 to 2^63 (snarkjs's range)")
    hex_value = value.removeprefix("0x").lower()
    log = _snarkjs("zkey", "beacon", str(key_in), str(key_out), hex_value, str(iterations_exp), "-n=final beacon")
    if not Path(key_out).exists():  # snarkjs says some refusals and still exits 0
        raise CeremonyFailed(f"snarkjs made no key: {log.strip()[-300:]}")
    lines = log.splitlines()
    at = next((i for i, ln in enumerate(lines) if "Contribution Hash" in ln), None)
    out = {"key": str(key_out), "beacon": hex_value, "iterations_exp": iterations_exp, "sha256": sha256(key_out)}
    return out | ({"hash": _hex(lines[at + 1 : at + 5])} if at is not None else {})


def install(key: Path, r1cs: Path, ptau: Path, build_dir: Path = BUILD) -> dict[str, Any]:
    """A round's final key in place of the development one: checked first (`zkey verify` against the
    circuit `make zk` compiled and the phase-1 file), then `build_dir/purchase.zkey`, the
    verification key and the Solidity verifier exported from it, and the build's manifest naming its
    contributions. Proofs made from then on are for a PurchaseProofs deployed with that verifier
    (`ledger zk deploy` deploys one when the verification key changed)."""
    manifest_file = build_dir / "manifest.json"
    if not manifest_file.exists():
        raise NotBuilt("the purchase circuit is not built: run `make zk` first")
    if sha256(r1cs) != sha256(build_dir / "purchase.r1cs"):
        raise CeremonyFailed(f"{r1cs} is not the circuit {build_dir} holds: a key for another circuit")
    contributions = verify(key, r1cs, ptau)
    m = json.loads(manifest_file.read_text())
    staged = {k: build_dir / f"{m['files'][k]}.installing" for k in ("zkey", "vkey", "verifier")}
    shutil.copyfile(key, staged["zkey"])
    _snarkjs("zkey", "export", "verificationkey", str(staged["zkey"]), str(staged["vkey"]))
    _snarkjs("zkey", "export", "solidityverifier", str(staged["zkey"]), str(staged["verifier"]))
    for kind, path in staged.items():  # all three exported before any replaces the development one
        path.replace(build_dir / m["files"][kind])
    m["contributions"] = [{"name": c["name"], "hash": c["hash"]} for c in contributions]
    m["ceremony"] = {"key_sha256": sha256(key), "installed_at": int(time.time()), "ptau_sha256": sha256(ptau)}
    m["ptau"] = {**m["ptau"], "file": str(ptau), "development_only": Path(ptau).name.startswith("dev_pot")}
    m["sha256"] = {k: sha256(build_dir / v) for k, v in m["files"].items()}
    tmp = manifest_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(m, indent=1))
    tmp.replace(manifest_file)
    installed = str(build_dir / m["files"]["zkey"])
    return {"installed": installed, "contributions": m["contributions"], "sha256": m["sha256"]}


def verify(key: Path, r1cs: Path, ptau: Path) -> list[dict[str, Any]]:
    """`snarkjs zkey verify` of a key against the circuit and phase 1; its contributions, first
    first: [{index, name, hash}]. CeremonyFailed when the key does not check."""
    log = _snarkjs("zkey", "verify", str(r1cs), str(ptau), str(key))
    if "ZKey Ok!" not in log:
        raise CeremonyFailed(f"{key} does not check: {log.strip()[-400:]}")
    lines = [ln.strip() for ln in log.splitlines()]
    out = []
    for i, ln in enumerate(lines):
        m = _CONTRIBUTION.search(ln)
        if m:
            out.append({"index": int(m.group(1)), "name": m.group(2), "hash": _hex(lines[i + 1 : i + 5])})
    return sorted(out, key=lambda c: c["index"])


def anchor(dep: Deployment, member: Sender, r1cs: Path, contributions: list[dict[str, Any]]) -> list[dict]:
    """Anchor each verified contribution's hash not yet on chain; return what is on chain now."""
    c = dep.contract("PurchaseProofs")
    circuit = bytes.fromhex(sha256(r1cs))
    for x in contributions:
        h = bytes.fromhex(x["hash"])
        words = [h[:32], h[32:]]
        key = _key(dep, circuit, x["index"], words)
        if not c.functions.contributionAnchored(key).call():
            member.transact(c.functions.anchorContribution(circuit, x["index"], words, x["name"]))
    return anchored(dep, r1cs)


def anchored(dep: Deployment, r1cs: Path) -> list[dict[str, Any]]:
    """The contributions to this circuit's key anchored on chain: [{index, name, hash, by, block}]."""
    c = dep.contract("PurchaseProofs")
    logs = dep.logs(c.events.ContributionAnchored, circuit=bytes.fromhex(sha256(r1cs)))
    return [
        {
            "index": int(log["args"]["index"]),
            "name": log["args"]["name"],
            "hash": b"".join(log["args"]["hash"]).hex(),
            "by": log["args"]["by"],
            "block": log["blockNumber"],
        }
        for log in logs
    ]


def _key(dep: Deployment, circuit: bytes, index: int, words: list[bytes]) -> bytes:
    return dep.w3.keccak(dep.w3.codec.encode(["bytes32", "uint256", "bytes32[2]"], [circuit, index, words]))


def _hex(lines: list[str]) -> str:
    h = "".join("".join(ln.split()) for ln in lines)
    if not re.fullmatch(r"[0-9a-f]{128}", h):
        raise CeremonyFailed(f"not a contribution hash: {h[:140]!r}")
    return h


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
