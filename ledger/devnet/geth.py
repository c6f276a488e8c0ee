"""go-ethereum 1.13.15, the last geth release that seals Clique proof-of-authority blocks, built
by the project from the Go module proxy into `.bin/geth` on first use (cached after).

With Go 1.23 or newer the link step needs `-checklinkname=0` (a debug-only dependency,
github.com/fjl/memsize, reaches into the runtime; go-ethereum issue #30100); its pprof endpoint
that would use it is never enabled here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from ledger.config import env
from ledger.errors import LedgerError
from ledger.paths import ROOT

GETH_VERSION = "1.13.15"
MODULE = "github.com/ethereum/go-ethereum/cmd/geth"


def geth_binary() -> Path:
    return Path(env().geth or ROOT / ".bin" / "geth")


def _version(binary: Path) -> str | None:
    try:
        out = subprocess.run([str(binary), "version"], capture_output=True, text=True, timeout=30, check=False)
    except OSError:
        return None
    for line in out.stdout.splitlines():
        if line.startswith("Version:"):
            return line.split()[1].removesuffix("-stable")
    return None


def ensure_geth() -> Path:
    """geth of the pinned version: the one built before, or built now (a few minutes, once)."""
    binary = geth_binary()
    if binary.is_file() and _version(binary) == GETH_VERSION:
        return binary
    go = shutil.which("go") or ("/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").is_file() else None)
    if go is None:
        raise LedgerError(f"geth {GETH_VERSION} is not built and no Go toolchain is installed to build it")
    binary.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, GOBIN=str(binary.parent), GOFLAGS="-mod=mod", CGO_ENABLED="1")
    r = subprocess.run(
        [go, "install", "-ldflags=-checklinkname=0", f"{MODULE}@v{GETH_VERSION}"],
        capture_output=True,
        text=True,
        timeout=1800,
        env=env,
        check=False,
    )
    built = binary.parent / "geth"
    if r.returncode != 0 or _version(built) != GETH_VERSION:
        raise LedgerError(f"building geth {GETH_VERSION} failed: {r.stderr.strip()[-400:]}")
    if built != binary:
        shutil.move(built, binary)
    return binary


if __name__ == "__main__":
    print(f"geth {GETH_VERSION}: {ensure_geth()}")
