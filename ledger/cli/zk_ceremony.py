"""`ledger zk ceremony ...`: the consortium's trusted setup of the purchase circuit (docs/zk.md).

    ledger zk ceremony ptau [FILE]                 check a public phase-1 file (default LEDGER_ZK_PTAU)
    ledger zk ceremony start OUT                   the round's first key (anyone recomputes it)
    ledger zk ceremony contribute IN OUT --name N  a member's contribution, on its own machine
    ledger zk ceremony verify KEY                  check a key; print its contributions (JSON)
    ledger zk ceremony anchor KEY --member LABEL   verify, then anchor the contributions' hashes
    ledger zk ceremony beacon IN OUT --beacon HEX  the last contribution: a public random value
    ledger zk ceremony install KEY                 verify, then put the final key in build/zk

`--r1cs` and `--ptau` default to build/zk's circuit and the phase-1 file `make zk` used. Exit 1
with the reason when a file or key does not check."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv: list[str]) -> None:
    from ledger.privacy import build, ceremony

    p = argparse.ArgumentParser(prog="ledger zk ceremony")
    p.add_argument("step", choices=["ptau", "start", "contribute", "verify", "anchor", "beacon", "install"])
    p.add_argument("files", nargs="*", type=Path)
    p.add_argument("--name", help="contribute: the contributor's name, recorded in the key")
    p.add_argument("--r1cs", type=Path, default=build.BUILD / "purchase.r1cs")
    p.add_argument("--ptau", type=Path, help="phase-1 file (default: LEDGER_ZK_PTAU or make zk's)")
    p.add_argument("--power", type=int, default=build.PTAU_POWER, help="ptau: powers the circuit needs (2^N)")
    p.add_argument("--member", default="platform", help="anchor: the development member whose key signs")
    p.add_argument("--beacon", help="beacon: 32 bytes of hex no contributor could know (named in advance)")
    p.add_argument("--iterations", type=int, default=10, help="beacon: hashed 2^N times")
    a = p.parse_args(argv)
    need = {"ptau": (0, 1), "start": (1, 1), "contribute": (2, 2), "beacon": (2, 2)}.get(a.step, (1, 1))
    if not need[0] <= len(a.files) <= need[1]:
        p.error(f"{a.step} takes {need[0]}-{need[1]} file arguments")
    ptau = a.ptau or (a.files[0] if a.step == "ptau" and a.files else None)
    try:
        if a.step == "ptau":
            out: object = ceremony.check_ptau(ptau or build.ptau_file(), need=a.power)
        elif a.step == "start":
            out = ceremony.start(a.r1cs, ptau or build.ptau_file(), a.files[0])
        elif a.step == "contribute":
            if not a.name:
                p.error("contribute needs --name")
            out = ceremony.contribute(a.files[0], a.files[1], a.name)
        elif a.step == "beacon":
            if not a.beacon:
                p.error("beacon needs --beacon HEX")
            out = ceremony.beacon(a.files[0], a.files[1], a.beacon, a.iterations)
        elif a.step == "install":
            out = ceremony.install(a.files[0], a.r1cs, ptau or build.ptau_file())
        else:
            out = ceremony.verify(a.files[0], a.r1cs, ptau or build.ptau_file())
            if a.step == "anchor":
                out = ceremony.anchor(*_member(a.member), a.r1cs, out)
    except (ceremony.CeremonyFailed, build.NotBuilt) as exc:
        print(f"refused: {exc}", file=sys.stderr)
        sys.exit(1)
    print(json.dumps(out, indent=1))


def _member(label: str):  # type: ignore[no-untyped-def]
    from ledger.chain.client import connect, dev_accounts
    from ledger.chain.deploy import attach

    dep = attach(connect())
    index = dep.manifest["members"][label]["account_index"]
    return dep, dep.sender(dev_accounts(index + 1)[index])
