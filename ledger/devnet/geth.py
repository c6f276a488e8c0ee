"""go-ethereum 1.13.15, the last geth release that seals Clique proof-of-authority blocks, built
by the project from the Go module proxy's source into `.bin/geth` on first use (cached after),
with a small patch set to its block builder, Clique sealer and fork choice (`PATCHES`).

**The changes: a sealer refills its block every 100 ms, not every second, and that refill may not
cost Clique its liveness.** geth fills the next block when the previous one arrives, then refills
it only at its "recommit", which it never lets below 1 s (`minRecommitInterval`). With 1 s Clique
blocks that refill comes when the block is already sealed, so a transaction that reaches the
validator after the previous block waits for the block after: 1 to 2 periods to inclusion, and
write-to-final p99 above 4 s (docs/consortium.md). Lowered to 100 ms (and `--miner.recommit
100ms`), the in-turn validator refills while it waits for its slot, and a transaction is in the
next block. The refill alone broke two things, both seen in the four-host bench under load:

- *A second block on the same parent.* Work refilled after the signer sealed a block, but before
  that block reached the miner as the new head, was sealed too: two blocks at one height from one
  signer (9 in one run), forks, and a partitioned node that could not rejoin. Now Clique's `Seal`
  lets a signer seal one block per parent (`sealedParent`); none in the runs since.
- *The out-of-turn wiggle drawn again at every refill.* An out-of-turn signer waits a random
  0-1.5 s (4 signers) so that two of them rarely seal at once; a new draw at each refill every
  100 ms made each seal at the earliest of many draws, so out-of-turn signers raced (40 reorgs in
  one run against 10 after). Now the wiggle is drawn once per parent and signer (seeded with
  Keccak(parent hash, signer)): the same spread as geth's one draw.

**And two signers holding sibling blocks may not wait on each other for good.** Of two blocks of
equal total difficulty at one height, geth 1.13 keeps the one its own signer sealed (`shouldPreserve`:
its check that turns this off for Clique, because it deadlocks, no longer matches since 1.13 wraps
Clique in `beacon.Beacon`), else tosses a coin. With one validator of four away (killed, or its host
cut off), each of the three left may seal one block in three, and two of them sealing out of turn at
one height each keep their own, "recent" on it, waiting for the other to seal on it: the chain stops
until the fourth is back (a `make bench` run: nothing sealed while the carrier was partitioned, 300 s).
Now the check sees through the wrapper and the tie goes to the lower hash at every node, so both
keep the same block and the signer not on it seals the next (`tests/python/test_geth_refill.py`:
two signers each holding its own block 1 stay stalled with 1.13.15-traceledger.2 and seal block 2
with this build).

Measured on the four-host bench under load, same day, stock against patched (before the tie rule):
inclusion p50 1.32 s / 0.42-0.70 s, final p99 4.10 s / 3.21-3.55 s. No consensus rule changes:
the blocks are Clique blocks any geth 1.13.15 imports (the tie rule is each node's own choice among
valid blocks), and a member may run stock geth (its `--miner.recommit 100ms` is raised back to 1 s,
with a warning; in a tie it keeps its own block, so a network of stock validators can still stall
as above).

The build reports version `1.13.15-traceledger.3` (`VersionMeta`, `META`), so a stock binary or
one of an earlier patch set left in `.bin/geth` is rebuilt. With Go 1.23 or newer the link step needs
`-checklinkname=0` (a debug-only dependency, github.com/fjl/memsize, reaches into the runtime;
go-ethereum issue #30100); its pprof endpoint that would use it is never enabled here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from ledger.config import env
from ledger.errors import LedgerError
from ledger.paths import ROOT

GETH_VERSION = "1.13.15"
META = "traceledger.3"  # the patch set's version: a change to PATCHES raises it (rebuilt)
BUILD_VERSION = f"{GETH_VERSION}-{META}"
MODULE = "github.com/ethereum/go-ethereum"
#: (file in the module, text as released, text built)
PATCHES = (
    ("miner/worker.go", "minRecommitInterval = 1 * time.Second", "minRecommitInterval = 100 * time.Millisecond"),
    (
        "consensus/clique/clique.go",
        "	lock   sync.RWMutex   // Protects the signer and proposals fields\n",
        "	lock   sync.RWMutex   // Protects the signer and proposals fields\n\n"
        "	sealedParent common.Hash // the parent of the last block this signer sealed: one block per parent\n",
    ),
    (
        "consensus/clique/clique.go",
        "		delay += time.Duration(rand.Int63n(int64(wiggle)))",
        "		seed := new(big.Int).SetBytes(crypto.Keccak256(header.ParentHash[:], signer[:])[:8]).Int64()\n"
        "		delay += time.Duration(rand.New(rand.NewSource(seed)).Int63n(int64(wiggle))) // once per parent",
    ),
    (
        "consensus/clique/clique.go",
        "		case <-time.After(delay):\n		}\n",
        "		case <-time.After(delay):\n		}\n"
        "		c.lock.Lock() // never a second block on one parent (refilled work after this one was sealed)\n"
        "		if c.sealedParent == header.ParentHash {\n			c.lock.Unlock()\n			return\n		}\n"
        "		c.sealedParent = header.ParentHash\n		c.lock.Unlock()\n",
    ),
    (
        "eth/backend.go",  # Clique runs wrapped in beacon.Beacon since 1.13: the check never matched
        "	if _, ok := s.engine.(*clique.Clique); ok {",
        "	engine := s.engine\n	if b, ok := engine.(*beacon.Beacon); ok {\n		engine = b.InnerEngine()\n	}\n"
        "	if _, ok := engine.(*clique.Clique); ok {",
    ),
    ("core/forkchoice.go", '\tcrand "crypto/rand"\n', '\t"bytes"\n\tcrand "crypto/rand"\n'),
    (
        "core/forkchoice.go",
        "reorg = !currentPreserve && (externPreserve || f.rand.Float64() < 0.5)",
        "reorg = !currentPreserve && (externPreserve || "  # equal weight, equal height: the lower hash, everywhere
        "bytes.Compare(extern.Hash().Bytes(), current.Hash().Bytes()) < 0)",
    ),
    ("params/version.go", 'VersionMeta  = "stable"', f'VersionMeta  = "{META}"'),
)


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


def _go() -> str:
    go = shutil.which("go") or ("/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").is_file() else None)
    if go is None:
        raise LedgerError(f"geth {BUILD_VERSION} is not built and no Go toolchain is installed to build it")
    return go


def _run(argv: list[str], what: str, **kw) -> str:  # type: ignore[no-untyped-def]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=1800, check=False, **kw)
    if r.returncode != 0:
        raise LedgerError(f"{what} failed: {r.stderr.strip()[-400:]}")
    return r.stdout


def patched_source(go: str, into: Path) -> Path:
    """The released module's source (from the Go module proxy) copied to `into`, patched."""
    info = json.loads(_run([go, "mod", "download", "-json", f"{MODULE}@v{GETH_VERSION}"], "downloading geth"))
    source = into / "go-ethereum"
    shutil.copytree(info["Dir"], source)  # the module cache is read-only
    for path in source.rglob("*"):
        path.chmod(path.stat().st_mode | 0o200)
    for name, released, built in PATCHES:
        f = source / name
        text = f.read_text()
        if text.count(released) != 1:
            raise LedgerError(f"geth {GETH_VERSION}'s {name} is not as released: no single {released!r}")
        f.write_text(text.replace(released, built))
    return source


def ensure_geth() -> Path:
    """geth of the pinned version and patch: the one built before, or built now (minutes, once)."""
    binary = geth_binary()
    accepted = {BUILD_VERSION, GETH_VERSION} if env().geth else {BUILD_VERSION}  # an operator's own may be stock
    if binary.is_file() and _version(binary) in accepted:
        return binary
    go = _go()
    binary.parent.mkdir(parents=True, exist_ok=True)
    build_env = dict(os.environ, GOFLAGS="-mod=mod", CGO_ENABLED="1")
    with tempfile.TemporaryDirectory(prefix="geth-build-") as tmp:
        source = patched_source(go, Path(tmp))
        built = Path(tmp) / "geth"
        argv = [go, "build", "-ldflags=-checklinkname=0", "-o", str(built), "./cmd/geth"]
        _run(argv, f"building geth {BUILD_VERSION}", cwd=source, env=build_env)
        if _version(built) != BUILD_VERSION:
            raise LedgerError(f"the geth built reports {_version(built)}, not {BUILD_VERSION}")
        shutil.move(built, binary)
    return binary


if __name__ == "__main__":
    print(f"geth {BUILD_VERSION}: {ensure_geth()}")
