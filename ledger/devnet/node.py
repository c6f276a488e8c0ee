"""The local development node: anvil from the npm package, its state kept in the data dir.

`start()` reuses a node already answering on the port, otherwise launches anvil in its own
session with `--state` (loaded at start, dumped at exit and every few seconds), so the chain
and its history survive a restart, and a block every `LEDGER_BLOCK_TIME` seconds (2) besides
one per transaction, so "final" means in development what it means on a consortium chain.
`stop()` ends it gracefully so the state is written.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from urllib.parse import urlparse

from ledger.chain.client import DEV_MNEMONIC, connect
from ledger.config import env
from ledger.errors import LedgerError, NodeUnavailable
from ledger.paths import anvil_binary, data_dir

CHAIN_ID = 31337


def _node_dir() -> Path:
    return data_dir() / "anvil"


def block_time() -> int:
    """Seconds between blocks of the development node (`LEDGER_BLOCK_TIME`, 2; 0: a block only per
    transaction). A consortium chain seals blocks on a period whether or not anyone transacts, so
    a transaction's confirmations keep coming; the development node does the same."""
    value = env().block_time
    if not (value.isascii() and value.isdigit()):
        raise LedgerError(f"LEDGER_BLOCK_TIME must be a whole number of seconds, not {value!r}")
    return int(value)


def anvil_command(
    port: int,
    state: Path | None,
    extra: list[str] | None = None,
    chain_id: int = CHAIN_ID,
    block_time: int = 0,
) -> list[str]:
    """anvil on 127.0.0.1. With `block_time`, a block also every that many seconds when idle
    (mixed mining: a transaction is still mined at once), so confirmations keep coming."""
    binary = anvil_binary()
    if not binary.is_file():
        raise LedgerError(f"anvil not found at {binary} (run `npm ci`)")
    cmd = [
        str(binary),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--chain-id",
        str(chain_id),
        "--mnemonic",
        DEV_MNEMONIC,
        "--accounts",
        "20",
        "--hardfork",
        "paris",
    ]
    if state is not None:
        cmd += ["--state", str(state), "--state-interval", "2", "--preserve-historical-states"]
    if block_time:
        cmd += ["--block-time", str(block_time), "--mixed-mining"]
    return cmd + (extra or [])


def wait_until_up(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            connect(url, timeout=2)
            return
        except NodeUnavailable:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def start(url: str = "http://127.0.0.1:8545") -> str:
    """Make sure a node answers at `url`, launching the persistent local anvil if none does."""
    try:
        connect(url, timeout=2)
        return f"node already answering at {url}"
    except NodeUnavailable:
        pass
    parsed = urlparse(url)
    if parsed.hostname not in ("127.0.0.1", "localhost"):
        raise NodeUnavailable(f"EVM node at {url} does not answer JSON-RPC, and only a local node can be started here")
    port = parsed.port or 8545
    nd = _node_dir()
    nd.mkdir(parents=True, exist_ok=True)
    with open(nd / "anvil.log", "ab") as log:
        proc = subprocess.Popen(
            anvil_command(port, nd / "state.json", block_time=block_time()),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    (nd / "anvil.pid").write_text(str(proc.pid))
    wait_until_up(url)
    return f"started anvil (pid {proc.pid}) at {url}, state in {nd / 'state.json'}"


def _alive(pid: int) -> bool:
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:  # our own child, now reaped
            return False
    except ChildProcessError:
        pass  # started by another process
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def stop() -> str:
    pid_file = _node_dir() / "anvil.pid"
    if not pid_file.exists():
        return "no local anvil recorded"
    pid = int(pid_file.read_text())
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pid_file.unlink()
        return f"anvil (pid {pid}) was not running"
    for _ in range(300):
        if not _alive(pid):
            break
        time.sleep(0.05)
    pid_file.unlink(missing_ok=True)
    return f"stopped anvil (pid {pid}); state kept in {_node_dir() / 'state.json'}"
