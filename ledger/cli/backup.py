"""`ledger backup FILE` / `ledger restore FILE --into DIR`: a running system's database and chain
data, with the keys and secrets it cannot work without, in one archive.

What goes in, in this order (so the chain holds at least everything the database refers to):
- the database: SQLite through its online backup API (a consistent copy while writers run), or
  PostgreSQL with `pg_dump --format=custom`;
- the development chain: anvil's whole state (`anvil_dumpState`, blocks included), and the head's
  number and hash at that moment (a consortium member's chain is restored from its peers instead:
  its validators hold the same chain);
- the deployment manifest, the code-signing keys (encrypted as they are at rest, with their
  development passphrase if there is one) and the order-key secret.

`backup.json` in the archive lists each part with its SHA-256; restore checks every one before it
writes anything, refuses a target directory that is not empty, and puts each part where a data
directory keeps it, so `LEDGER_DATA_DIR=DIR make run` starts the restored system.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ledger.chain.client import connect, rpc_url
from ledger.errors import LedgerError
from ledger.paths import data_dir, manifest_path
from ledger.store.db import database_url

FORMAT = 1


def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def _database(url: str, work: Path) -> tuple[str, bytes]:
    if url.startswith("sqlite"):
        src = sqlite3.connect(url.split("///", 1)[1])
        dst_path = work / "ledger.sqlite3"
        dst = sqlite3.connect(dst_path)
        with dst:
            src.backup(dst)
        src.close()
        dst.close()
        return "sqlite", dst_path.read_bytes()
    if url.startswith("postgresql"):
        pg_dump = shutil.which("pg_dump") or next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_dump"))), None)
        if pg_dump is None:
            raise LedgerError("backup of PostgreSQL needs pg_dump (Debian package postgresql-client)")
        plain = url.replace("postgresql+psycopg://", "postgresql://").replace("postgresql+psycopg2://", "postgresql://")
        out = subprocess.run([str(pg_dump), "--format=custom", "--dbname", plain], check=True, capture_output=True)
        return "postgresql", out.stdout
    raise LedgerError(f"cannot back up a database at {url}")


def backup(out: Path, url: str | None = None, rpc: str | None = None) -> dict[str, Any]:
    """Write the archive; return its index."""
    parts: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory() as tmp:
        kind, db = _database(url or database_url(), Path(tmp))
    parts["database.sqlite3" if kind == "sqlite" else "database.pgdump"] = db
    w3 = connect(rpc or rpc_url())
    dumped = w3.provider.make_request("anvil_dumpState", [])
    if "result" not in dumped:
        raise LedgerError("the node cannot dump its state (not anvil): restore a consortium node from its peers")
    head = w3.eth.get_block("latest")
    parts["anvil/state.json"] = gzip.decompress(bytes.fromhex(dumped["result"][2:]))
    parts["deployment.json"] = manifest_path().read_bytes()
    for folder in ("keys", "secrets"):
        for f in sorted((data_dir() / folder).rglob("*")) if (data_dir() / folder).exists() else []:
            if f.is_file():
                parts[str(f.relative_to(data_dir()))] = f.read_bytes()
    index = {
        "format": FORMAT,
        "created_at": datetime.now(UTC).isoformat(),
        "database": kind,
        "chain": {
            "chain_id": int(w3.eth.chain_id),
            "block": int(head["number"]),
            "hash": "0x" + bytes(head["hash"]).hex(),
        },
        "parts": {name: _sha(b) for name, b in parts.items()},
    }
    with tarfile.open(out, "w:gz") as tar:
        for name, b in {"backup.json": json.dumps(index, indent=1).encode(), **parts}.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(b), 0o600
            tar.addfile(info, io.BytesIO(b))
    out.chmod(0o600)
    return index


def restore(archive: Path, into: Path, url: str | None = None) -> dict[str, Any]:
    """Check every part, then write them into the empty data directory `into` (and the database)."""
    if into.exists() and any(into.iterdir()):
        raise LedgerError(f"{into} is not empty: restore into a fresh directory")
    with tarfile.open(archive, "r:gz") as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]
    if "backup.json" not in files:
        raise LedgerError(f"{archive} is not a traceledger backup (no backup.json)")
    index = json.loads(files["backup.json"])
    for name, digest in index["parts"].items():
        if name not in files or _sha(files[name]) != digest:
            raise LedgerError(f"{archive}: part {name} is missing or corrupt; nothing restored")
        if name.startswith("/") or ".." in Path(name).parts:
            raise LedgerError(f"{archive}: part {name} would escape the data directory; nothing restored")
    pg = "database.pgdump" in index["parts"]
    if pg and not (url and url.startswith("postgresql")):
        raise LedgerError("the backup holds a PostgreSQL database: name the empty target with --database-url")
    into.mkdir(parents=True, exist_ok=True, mode=0o700)
    for name in index["parts"]:
        if name == "database.pgdump":
            continue
        target = into / ("ledger.sqlite3" if name == "database.sqlite3" else name)
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        target.write_bytes(files[name])
        target.chmod(0o600)
    if pg:
        pg_restore = shutil.which("pg_restore") or next(
            iter(sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_restore")))
        )
        plain = url.replace("postgresql+psycopg://", "postgresql://").replace("postgresql+psycopg2://", "postgresql://")
        subprocess.run([str(pg_restore), "--no-owner", "--dbname", plain], input=files["database.pgdump"], check=True)
    return index


def run(args: argparse.Namespace) -> None:
    if args.command == "backup":
        index = backup(Path(args.file))
        print(f"backed up {len(index['parts'])} parts, chain at block {index['chain']['block']}, to {args.file}")
    else:
        index = restore(Path(args.file), Path(args.into), args.database_url)
        print(
            f"restored {len(index['parts'])} parts into {args.into} (chain at block {index['chain']['block']}, "
            f"{index['chain']['hash']}); start it with LEDGER_DATA_DIR={args.into} make run"
        )


def add_parser(sub: Any) -> None:
    p = sub.add_parser("backup", help="back up the database, the chain state, the manifest and the keys")
    p.add_argument("file")
    p.set_defaults(func=run)
    p = sub.add_parser("restore", help="restore a backup into a fresh data directory")
    p.add_argument("file")
    p.add_argument("--into", required=True, help="an empty directory to become the data directory")
    p.add_argument("--database-url", help="an empty PostgreSQL database, when the backup holds one")
    p.set_defaults(func=run)
