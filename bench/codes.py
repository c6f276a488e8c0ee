"""Code issuance throughput: signed GS1 Digital Link URIs (Ed25519), their commitment leaves,
and the Merkle root over them, on one core, no images. Baseline, same run: issuing that also
renders each code's PNG, the design the issue rules out, on a 300-code sample.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from ledger import codes

TARGETS = {"codes.issue_per_s": 20_000}
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
    return {
        "codes.issue_per_s": round(ours),
        "codes.issued": N,
        "baseline.codes.issue_and_render_png_per_s": round(base),
        "ratio.codes_issue_vs_render_png": ours / base,
    }
