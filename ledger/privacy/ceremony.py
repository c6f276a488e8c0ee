"""The consortium's trusted setup for the purchase circuit (`ledger zk ceremony`, docs/zk.md).

Phase 1 is a public ceremony's prepared powers-of-tau file (`LEDGER_ZK_PTAU`), checked here with
`snarkjs powersoftau verify` and for enough powers. Phase 2 is a round among members: the first
key is `groth16 setup` of the circuit on that file (anyone recomputes the same one); each member,
on its own machine, adds a contribution with entropy that never leaves the process (`snarkjs zkey
contribute`, random bytes from the OS), and passes the new key on; everyone checks a key with
`snarkjs zkey verify` against the circuit and phase 1, which lists every contribution's hash;
members anchor those hashes on chain (`PurchaseProofs.anchorContribution`). As long as one
contributor destroyed its entropy, no one can forge a proof."""

from __future__ import annotations

import hashlib
import re
import secrets
import struct
from pathlib import Path
from typing import Any

from ledger.chain.client import Sender
from ledger.chain.deploy import Deployment
from ledger.errors import LedgerError

from .build import PTAU_POWER, BuildFailed, _run, snarkjs_cli

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
