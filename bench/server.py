"""The API served by uvicorn for a benchmark, and a signed-in member's headers."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from eth_account import Account
from eth_account.messages import encode_defunct

from ledger.access import siwe
from ledger.paths import ROOT
from ledger.trace.epcis.samples import delivery_document


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ok(r: httpx.Response) -> dict:
    """The JSON of a successful answer, or an error naming the request and the answer."""
    if r.status_code >= 300:
        raise RuntimeError(f"{r.request.method} {r.request.url.path}: {r.status_code} {r.text[:300]}")
    return r.json()


def carriers_event(c: httpx.Client, carrier: dict[str, str], tag: str) -> str:
    """The hash ID of a delivery event the carrier captured now (naming despatch advice `tag` and no
    order): what its deliveries name, as a delivery must name an event captured here."""
    doc = delivery_document([("desadv", f"DESADV-{tag}")], tag[-20:])
    return ok(c.post("/v1/epcis/capture", json=doc, headers=carrier))["events"][0]["hashId"]


def login(base: str, account) -> dict[str, str]:  # type: ignore[no-untyped-def]
    n = httpx.get(f"{base}/v1/auth/nonce").json()
    now = datetime.now(UTC)
    msg = siwe.build(
        domain=n["domain"],
        address=account.address,
        uri=base,
        chain_id=n["chain_id"],
        nonce=n["nonce"],
        issued_at=now,
        expiration_time=now + timedelta(minutes=30),
    )
    sig = "0x" + Account.sign_message(encode_defunct(text=msg), account.key).signature.hex().removeprefix("0x")
    token = httpx.post(f"{base}/v1/auth/login", json={"message": msg, "signature": sig}).json()["token"]
    return {"Authorization": f"Bearer {token}"}


@contextlib.contextmanager
def served(rpc_url: str, manifest: Path, name: str, port: int, workers: int = 1, **env: str) -> Iterator[str]:
    """Serve the API on `port` against the node and manifest, with its own SQLite database, in
    `workers` processes as `make run` does (`api.serve`: a listening socket per process)."""
    base = f"http://127.0.0.1:{port}"
    full_env = {
        **os.environ,
        "LEDGER_RPC_URL": rpc_url,
        "LEDGER_MANIFEST": str(manifest),
        "LEDGER_DATA_DIR": str(manifest.parent / f"{name}-data"),
        "LEDGER_DATABASE_URL": f"sqlite:///{manifest.parent / f'{name}.sqlite3'}",
        "LEDGER_PUBLIC_RATE": "10000000",
        "LEDGER_SIWE_DOMAIN": f"127.0.0.1:{port}",
        "LEDGER_RESOLVER_URL": base,
        **env,
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "api.serve", "--port", str(port), "--workers", str(workers), "--log-level", "warning"],
        cwd=ROOT,
        env=full_env,
    )
    try:
        for _ in range(300):
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)
