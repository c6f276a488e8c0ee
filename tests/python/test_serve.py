"""`python -m api.serve`: one process per worker, each with its own listening socket on the port."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from ledger.paths import ROOT

from .conftest import free_port


def _listeners(port: int) -> set[str]:
    out = subprocess.run(["ss", "-tlnpH", f"( sport = :{port} )"], capture_output=True, text=True, check=True)
    return set(re.findall(r"pid=(\d+)", out.stdout))


@pytest.fixture
def env(deployment, chain_node, tmp_path):
    _, manifest = deployment
    return {
        **os.environ,
        "LEDGER_RPC_URL": chain_node.url,
        "LEDGER_MANIFEST": str(manifest),
        "LEDGER_DATA_DIR": str(tmp_path / "data"),
        "LEDGER_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.sqlite3'}",
    }


def _start(env: dict[str, str], port: int) -> subprocess.Popen:
    """The launcher with two workers, once both listen."""
    launcher = subprocess.Popen(
        [sys.executable, "-m", "api.serve", "--port", str(port), "--workers", "2", "--log-level", "warning"],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while len(_listeners(port)) < 2 and time.monotonic() < deadline and launcher.poll() is None:
        time.sleep(0.2)
    return launcher


def _stop(launcher: subprocess.Popen, port: int) -> None:
    """However the test ended: the launcher asked to stop its workers, then killed with whatever
    still listens on the port (a SIGKILLed launcher alone left its workers running, seen once)."""
    if launcher.poll() is None:
        launcher.send_signal(signal.SIGTERM)
        try:
            launcher.wait(timeout=30)
        except subprocess.TimeoutExpired:
            launcher.kill()
    for pid in _listeners(port):
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pid), signal.SIGKILL)


def _livez(port: int) -> int:
    """/livez on a fresh connection; 30 s for a worker on a loaded machine (httpx's 5 s timed out at load 10)."""
    return httpx.get(f"http://127.0.0.1:{port}/livez", headers={"Connection": "close"}, timeout=30).status_code


def test_workers_listen_on_their_own_sockets_and_stop_together(env):
    port = free_port()
    launcher = _start(env, port)
    try:
        pids = _listeners(port)
        assert len(pids) == 2 and str(launcher.pid) not in pids  # two workers, two sockets
        for _ in range(20):  # fresh connections each time: whichever worker the kernel picks answers
            assert _livez(port) == 200
        launcher.send_signal(signal.SIGTERM)
        assert launcher.wait(timeout=30) == 0
        assert not _listeners(port)
        for pid in pids:
            assert not os.path.exists(f"/proc/{pid}")  # ended and reaped by the launcher
    finally:
        _stop(launcher, port)


def test_a_port_in_use_fails_at_once(env):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = subprocess.run(
            [sys.executable, "-m", "api.serve", "--port", str(port), "--workers", "2"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert run.returncode != 0 and "Address already in use" in run.stderr


def test_a_killed_worker_is_replaced_and_the_port_keeps_answering(env):
    port = free_port()
    launcher = _start(env, port)
    try:
        victim, other = sorted(_listeners(port))
        os.kill(int(victim), signal.SIGKILL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            now = _listeners(port)
            if len(now) == 2 and victim not in now:
                break
            time.sleep(0.2)
        assert len(now) == 2 and victim not in now and other in now  # replaced; the other untouched
        for _ in range(10):
            assert _livez(port) == 200
        assert launcher.poll() is None
        launcher.send_signal(signal.SIGTERM)
        assert launcher.wait(timeout=30) == 0
        assert f"worker {victim} ended with status -9; starting another" in launcher.stderr.read()
    finally:
        _stop(launcher, port)


def test_workers_that_keep_dying_stop_the_launcher(env, tmp_path):
    """A worker that cannot start (here: no database it can open) is not restarted forever."""
    port = free_port()
    # under a regular file: no directory can be made there, not even by root (a missing directory
    # would be made, as a SQLite database's folder is)
    (tmp_path / "a-file").write_text("")
    broken = {**env, "LEDGER_DATABASE_URL": f"sqlite:///{tmp_path / 'a-file' / 'y.sqlite3'}"}
    launcher = _start(broken, port)  # returns once the launcher has given up (no worker ever listens)
    try:
        assert launcher.wait(timeout=120) != 0
        assert "stopped the others" in launcher.stderr.read()
    finally:
        _stop(launcher, port)
