"""Build the purchase circuit's proving artefacts once into `build/zk/` (`make zk`).

circom (npm `circom2`, the compiler built to wasm) compiles `circuits/purchase.circom`; snarkjs
makes a powers-of-tau (phase 1) and the circuit's Groth16 key with phase-2 contributions, the
verification key, and the Solidity verifier. Nothing is downloaded.

The powers-of-tau made here is for DEVELOPMENT ONLY: one machine made it, with entropy it saw, so
whoever ran it could forge proofs. It is made once per machine (`build/zk/ptau/`, kept when the
circuit changes). A production consortium instead takes a public ceremony's prepared phase-1 file
of at least 2^13 powers (e.g. the Perpetual Powers of Tau, checked with `snarkjs powersoftau
verify`), placed at `LEDGER_ZK_PTAU`, and runs the phase-2 round among its members (each
contributing with `snarkjs zkey contribute` on its own machine, each contribution checked with
`snarkjs zkey verify` and its hash anchored): see docs/zk.md.

Run as `python -m ledger.privacy.build` (prints what it built; `--force` rebuilds the circuit).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ledger import config
from ledger.errors import LedgerError, NotFound
from ledger.paths import ROOT, node_modules

CIRCUIT = ROOT / "circuits" / "purchase.circom"
BUILD = ROOT / "build" / "zk"
#: 2^13 powers: the circuit has 5,555 constraints (circom --O2)
PTAU_POWER = 13
#: development phase-2 contributors: the bootstrap members (docs/zk.md)
DEV_CONTRIBUTORS = ("platform", "auditor")


class BuildFailed(LedgerError):
    pass


class NotBuilt(NotFound):
    pass


def snarkjs_cli() -> list[str]:
    return ["node", str(node_modules() / "snarkjs" / "build" / "cli.cjs")]


def _run(cmd: list[str], timeout: float = 1800) -> str:
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise BuildFailed(f"{' '.join(cmd[:4])} failed: {(done.stderr or done.stdout).strip()[-800:]}")
    return done.stdout


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _fingerprint() -> str:
    lock = json.loads((ROOT / "package-lock.json").read_text())["packages"]
    versions = {k: lock.get(f"node_modules/{k}", {}).get("version") for k in ("circom2", "circomlib", "snarkjs")}
    return hashlib.sha256((CIRCUIT.read_text() + json.dumps(versions, sort_keys=True)).encode()).hexdigest()


def ptau_file() -> Path:
    """The prepared phase-1 file: `LEDGER_ZK_PTAU` (a production ceremony's) or this machine's
    development one, made here if missing."""
    if env := config.env().zk_ptau:
        return Path(env)
    final = BUILD / "ptau" / f"dev_pot{PTAU_POWER}_final.ptau"
    if final.exists():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    p0, p1 = final.with_name("pot_0000.ptau"), final.with_name("pot_0001.ptau")
    js = snarkjs_cli()
    _run([*js, "powersoftau", "new", "bn128", str(PTAU_POWER), str(p0)])
    _run([*js, "powersoftau", "contribute", str(p0), str(p1), "--name=development only", f"-e={secrets.token_hex(32)}"])
    tmp = final.with_suffix(".tmp")
    _run([*js, "powersoftau", "prepare", "phase2", str(p1), str(tmp)])
    tmp.rename(final)
    p0.unlink()
    p1.unlink()
    return final


def build(force: bool = False) -> dict:
    """Build what is missing or stale; return `build/zk/manifest.json`'s content."""
    manifest = BUILD / "manifest.json"
    fp = _fingerprint()
    if not force and manifest.exists():
        m = json.loads(manifest.read_text())
        if m.get("fingerprint") == fp and all((BUILD / f).exists() for f in m["files"].values()):
            return m
    started = time.monotonic()
    BUILD.mkdir(parents=True, exist_ok=True)
    circom = node_modules() / ".bin" / "circom2"
    # the phase-1 file does not depend on the circuit: made (on a first run) while circom compiles
    with ThreadPoolExecutor(1) as pool:
        making = pool.submit(ptau_file)
        out = _run([str(circom), str(CIRCUIT), "--O2", "--r1cs", "--wasm", "-l", str(node_modules()), "-o", str(BUILD)])
        ptau = making.result()
    constraints = next((ln.split(":")[1].strip() for ln in out.splitlines() if "non-linear constraints" in ln), "?")
    js = snarkjs_cli()
    r1cs = BUILD / "purchase.r1cs"
    zkey = BUILD / "purchase_0000.zkey"
    _run([*js, "groth16", "setup", str(r1cs), str(ptau), str(zkey)])
    contributions = []
    for i, who in enumerate(DEV_CONTRIBUTORS, start=1):
        nxt = BUILD / f"purchase_{i:04d}.zkey"
        log = _run(
            [
                *js,
                "zkey",
                "contribute",
                str(zkey),
                str(nxt),
                f"--name={who} (development)",
                f"-e={secrets.token_hex(32)}",
            ]
        )
        contributions.append({"name": who, "hash": " ".join(_hash_lines(log))})
        zkey.unlink()
        zkey = nxt
    final = BUILD / "purchase.zkey"
    zkey.rename(final)
    # no `zkey verify` here: it would recompute the key this run just made from the same circuit and
    # phase-1 file and re-check contributions this run just made (18 of the 44 s CPU of phase 2); it
    # is for checking someone else's contribution (docs/zk.md, production)
    _run([*js, "zkey", "export", "verificationkey", str(final), str(BUILD / "verification_key.json")])
    _run([*js, "zkey", "export", "solidityverifier", str(final), str(BUILD / "Groth16Verifier.sol")])
    files = {
        "wasm": "purchase_js/purchase.wasm",
        "zkey": "purchase.zkey",
        "vkey": "verification_key.json",
        "verifier": "Groth16Verifier.sol",
    }
    m = {
        "fingerprint": fp,
        "constraints": constraints,
        "depth": 20,
        "ptau": {"file": str(ptau), "power": PTAU_POWER, "development_only": config.env().zk_ptau is None},
        "contributions": contributions,
        "files": files,
        "sha256": {k: _sha256(BUILD / v) for k, v in files.items()},
        "seconds": round(time.monotonic() - started, 1),
    }
    manifest.write_text(json.dumps(m, indent=1))
    return m


def artefact(kind: str) -> Path:
    """A built artefact (wasm, zkey, vkey, verifier), never building: for a server answering a
    request, where a build of minutes has no place."""
    manifest = BUILD / "manifest.json"
    if not manifest.exists():
        raise NotBuilt("the purchase circuit is not built: run `make zk`")
    path = BUILD / json.loads(manifest.read_text())["files"][kind]
    if not path.exists():
        raise NotBuilt(f"{path.name} is missing: run `make zk`")
    return path


def _hash_lines(log: str) -> list[str]:
    """The contribution hash snarkjs prints (four lines of hex after 'Contribution Hash:')."""
    lines = log.splitlines()
    for i, ln in enumerate(lines):
        if "Contribution Hash" in ln:
            return [x.split("]")[-1].strip() for x in lines[i + 1 : i + 5]]
    return []


def main() -> None:
    m = build(force="--force" in sys.argv)
    print(f"purchase circuit: {m['constraints']} constraints, artefacts in {BUILD} ({m['seconds']} s)")


if __name__ == "__main__":
    main()
