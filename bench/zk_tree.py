"""What a prover fetches from a tree of 1,000,000 delivered purchases (docs/zk.md, "Fetching the
tree"): a measure script, not a test and not part of `make bench` (it takes minutes).

    python -m bench.zk_tree [--leaves 1000000]

Synthetic leaves (random field elements) in a SQLite file of their own; the API's own functions
(`ledger.privacy.chunks`) make the summary, the prefix pages and a chunk, timed in this process;
the prover's work (find its leaf in the prefixes, its path from its chunk and the chunk roots) is
the page's own code (`treepath.js`, the reference Poseidon the page loads) on Node, timed there.
`server_summary_cold_s` is a summary with nothing stored (every chunk hashed: what a restart cost
before chunk roots were kept in the database); `server_summary_restarted_s` forgets what the
process keeps in memory and reads the stored chunk roots (`ledger.privacy.chunk_store`).
Bytes are the answers' bodies; the old way is one JSON of every leaf in decimal (`GET /tree`)."""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, insert
from sqlalchemy.orm import Session

from ledger.paths import ROOT
from ledger.privacy import chunks, tree  # noqa: F401 - tree: the orders table the commitments refer to
from ledger.privacy.fields import FIELD
from ledger.store.purchase_tables import PurchaseChunkRoot, PurchaseCommitment, PurchaseForeignLeaf


def _fill(db: Session, start: int, count: int, rng: random.Random) -> list[int]:
    now = datetime.now(UTC)
    values = [rng.randrange(1, FIELD) for _ in range(count)]
    rows = [
        {"order_id": f"B{start + i}", "batch": "1", "commitment": str(v), "state": "anchored",
         "leaf_index": start + i, "created_at": now}
        for i, v in enumerate(values)
    ]  # fmt: skip
    for i in range(0, len(rows), 50_000):
        db.execute(insert(PurchaseCommitment), rows[i : i + 50_000])
    db.commit()
    return values


def _timed(fn):  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    out = fn()
    return out, round(time.perf_counter() - t, 3)


def _restart() -> None:
    """Forget what this process keeps in memory, as a restarted API would."""
    chunks._roots.clear()
    chunks._summary.clear()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--leaves", type=int, default=1_000_000)
    n = ap.parse_args().leaves
    rng = random.Random(28)
    with tempfile.TemporaryDirectory(prefix="zk2-tree-") as tmp:
        engine = create_engine(f"sqlite:///{tmp}/tree.sqlite3")
        PurchaseCommitment.__table__.create(engine)
        PurchaseChunkRoot.__table__.create(engine)
        PurchaseForeignLeaf.__table__.create(engine)
        out: dict = {"leaves": n}
        with Session(engine) as db:
            values, out["fill_s"] = _timed(lambda: _fill(db, 0, n, rng))
            summary, out["server_summary_cold_s"] = _timed(lambda: chunks.summary(db))
            _, out["server_summary_warm_s"] = _timed(lambda: chunks.summary(db))
            _restart()  # a restarted server: nothing in memory, the chunk roots in the database
            _, out["server_summary_restarted_s"] = _timed(lambda: chunks.summary(db))
            _fill(db, n, 500, rng)  # one anchor's worth more: only the last chunk(s) are hashed again
            summary, out["server_summary_after_500_more_s"] = _timed(lambda: chunks.summary(db))
            _restart()
            _, out["server_summary_restarted_after_500_more_s"] = _timed(lambda: chunks.summary(db))
            pages = -(-summary["size"] // chunks.PREFIX_PAGE)
            prefix_bodies, out["server_prefix_pages_s"] = _timed(lambda: [chunks.prefixes(db, p) for p in range(pages)])
            index = rng.randrange(n)
            body, out["server_chunk_s"] = _timed(lambda: chunks.chunk(db, index >> chunks.CHUNK_BITS))
        summary_body = json.dumps(summary).encode()
        d = Path(tmp)
        (d / "summary.json").write_bytes(summary_body)
        for p, b in enumerate(prefix_bodies):
            (d / f"prefixes-{p}.bin").write_bytes(b)
        (d / "chunk.bin").write_bytes(body)
        out["bytes_summary"] = len(summary_body)
        out["bytes_prefixes"] = sum(map(len, prefix_bodies))
        out["bytes_chunk"] = len(body)
        out["bytes_per_proof"] = out["bytes_summary"] + out["bytes_prefixes"] + 2 * len(body)  # own chunk + a decoy
        old = {"depth": 20, "size": n + 500, "offset": 0, "leaves": [str(v) for v in values]}
        out["bytes_all_leaves_json_old"] = len(json.dumps(old).encode())
        done = subprocess.run(
            ["node", str(ROOT / "bench" / "zk_tree_client.mjs"), tmp, str(values[index]), str(index)],
            capture_output=True, text=True, check=True, cwd=ROOT, timeout=1800,
        )  # fmt: skip
        out["client"] = json.loads(done.stdout)
    out["load_average"] = os.getloadavg()[0]
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
