"""Code issuance throughput: signed GS1 Digital Link URIs (Ed25519), their commitment leaves,
and the Merkle root over them, on one core, no images. Baseline, same run: issuing that also
renders each code's PNG, the design the issue rules out, on a 300-code sample.

Memory of a kept tree (`codes.tree_bytes_per_leaf`, traced with tracemalloc): the 100,000-code
issue's Merkle tree as the resolver keeps it (each level's nodes end to end in one bytes object).
Baseline, same run and leaves: the same tree as lists of 32-byte `bytes` objects.
"""

from __future__ import annotations

import gc
import tempfile
import time
import tracemalloc
from pathlib import Path

from ledger.trace import codes
from ledger.trace.merkle import MerkleTree

TARGETS = {"codes.issue_per_s": 20_000}  # information: the reference machine's figure
RATIO_TARGETS = {"ratio.codes_issue_vs_render_png": 200}
BUDGETS = {"codes.tree_bytes_per_leaf": 80}
N = 100_000


def measure(url: str, manifest: Path) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        signer = codes.CodeSigner(Path(tmp))
        t = time.perf_counter()
        iss = codes.issue(signer, "https://trace.example.cn", "06901234567892", "BENCH-1", N)
        root = iss.tree().root
        ours = N / (time.perf_counter() - t)
        assert len(root) == 32
        t = time.perf_counter()
        sample = codes.issue(signer, "https://trace.example.cn", "06901234567892", "BENCH-2", 300)
        for uri in sample.uris:
            codes.render_png(uri)
        base = 300 / (time.perf_counter() - t)
        leaves = iss.leaves
    tree_bytes = _traced(lambda: MerkleTree(leaves)) / N
    list_bytes = _traced(lambda: _list_tree(leaves)) / N
    return {
        "codes.issue_per_s": round(ours),
        "codes.issued": N,
        "baseline.codes.issue_and_render_png_per_s": round(base),
        "ratio.codes_issue_vs_render_png": ours / base,
        "codes.tree_bytes_per_leaf": round(tree_bytes, 1),
        "baseline.codes.tree_as_lists_bytes_per_leaf": round(list_bytes, 1),
        "ratio.codes_tree_lists_vs_packed_bytes": list_bytes / tree_bytes,
    }


def _traced(build) -> int:
    """Bytes still held by what `build()` returns (traced allocations, kept object alive)."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = build()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    del kept
    return held


def _list_tree(event_hashes: list[bytes]) -> list[list[bytes]]:
    """The same nodes as lists of `bytes` objects (the packed tree it is read from is let go)."""
    return [[level[i] for i in range(len(level))] for level in MerkleTree(event_hashes).levels]
