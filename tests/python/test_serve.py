"""`python -m api.serve`: one process per worker, each with its own listening socket on the port."""

from __future__ import annotations

import base64
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


def _opened(port: int, n: int, source: str = "127.0.0.1") -> list[socket.socket]:
    """`n` connections from `source`, each with half a request's headers sent (a slow loris)."""
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0))
        s.sendall(b"GET /livez HTTP/1.1\r\nHost: x\r\n")
        socks.append(s)
    return socks


def _first_bytes(s: socket.socket, wait_s: float) -> bytes | None:
    """What the server sent within `wait_s` (b"" if it closed), None if nothing yet."""
    s.settimeout(wait_s)
    try:
        return s.recv(200)
    except TimeoutError:
        return None


def test_a_slow_loris_is_capped_per_client_and_timed_out(env):
    """From outside, three addresses holding 43,500 half-sent requests left the API answering no one
    (uvicorn waits for headers for ever). Each worker takes 3 connections per client here, and times
    out headers after 1.5 s: of 8 held from one address at most 6 are kept (2 workers), the rest a
    503 at once; another client is served meanwhile; the kept ones get a 408 and are closed, and an
    idle connection that sent nothing is closed silently (a 408 there would reach a browser's page)."""
    port = free_port()
    launcher = _start(env | {"LEDGER_HEADER_TIMEOUT_S": "1.5", "LEDGER_MAX_CONNECTIONS_PER_CLIENT": "3"}, port)
    socks = []
    try:
        for _ in range(10):  # both workers past their start-up (a connection before waits in the backlog)
            assert _livez(port) == 200
        socks = _opened(port, 8)
        time.sleep(0.5)
        first = [_first_bytes(s, 0.1) for s in socks]
        refused = [b for b in first if b is not None]
        assert len(refused) >= 2 and all(b.startswith(b"HTTP/1.1 503") for b in refused), first
        kept = [s for s, b in zip(socks, first, strict=True) if b is None]
        other = httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2"), timeout=30)
        with other:
            assert other.get(f"http://127.0.0.1:{port}/livez").status_code == 200  # another client: served
        idle = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=("127.0.0.3", 0))
        socks.append(idle)  # a browser's connection opened ahead of need, nothing sent yet
        late = [_first_bytes(s, 5) for s in kept]
        assert all(b is not None and b.startswith(b"HTTP/1.1 408") for b in late), late
        assert _first_bytes(idle, 5) == b""  # closed without a word: a browser then retries on a new one
        assert _livez(port) == 200  # the first client's slots are free again
    finally:
        for s in socks:
            s.close()
        _stop(launcher, port)


def test_a_client_is_an_ipv4_address_or_an_ipv6_64():
    from api.middleware.connections import client_key

    assert client_key("203.0.113.7") == "203.0.113.7"
    assert client_key("::ffff:203.0.113.7") == "203.0.113.7"  # an IPv4 client on a dual-stack socket
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert client_key("2001:db8:1:3::1") != client_key("2001:db8:1:2::1")


def test_a_request_head_is_bounded_and_a_websocket_keeps_its_clients_slot(env):
    """From outside: one request of 100 MiB of tiny headers held a worker for 5 s and 1.6 GB
    (uvicorn set no limit); WebSocket upgrades gave their client's slot back at the upgrade, so one
    client held 4,207 sockets in one worker against a cap of 256. Now a head past 64 KiB or 100
    headers is a 431, and a WebSocket (here a refused subscription, held while the server waits for
    the client's close) keeps its place: of 8 from one address at most 6 are taken (cap 3, 2 workers)."""
    port = free_port()
    launcher = _start(env | {"LEDGER_MAX_CONNECTIONS_PER_CLIENT": "3"}, port)
    socks: list[socket.socket] = []
    try:
        for _ in range(10):
            assert _livez(port) == 200
        for head in (b"X-A: b\r\n" * 10_000, b"X-A: b\r\n" * 150, b"X-A: " + b"b" * 100_000 + b"\r\n"):
            s = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=("127.0.0.4", 0))
            socks.append(s)
            with contextlib.suppress(OSError):  # the server may close before all of it is sent
                s.sendall(b"GET /livez HTTP/1.1\r\nHost: x\r\n" + head + b"\r\n")
            got = _first_bytes(s, 10)
            assert got is not None and got.startswith(b"HTTP/1.1 431"), (len(head), got)
        fine = b"GET /livez HTTP/1.1\r\nHost: x\r\n" + b"X-A: b\r\n" * 90 + b"Connection: close\r\n\r\n"
        s = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=("127.0.0.4", 0))
        socks.append(s)
        s.sendall(fine)
        assert (_first_bytes(s, 10) or b"").startswith(b"HTTP/1.1 200")  # 90 headers: served
        upgrade = (
            "GET /epcis/queries/x/events?stream=true HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: {}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        held = []
        for _ in range(8):
            s = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=("127.0.0.5", 0))
            held.append(s)
            with contextlib.suppress(OSError):
                s.sendall(upgrade.format(base64.b64encode(os.urandom(16)).decode()).encode())
        socks += held
        first = [_first_bytes(s, 5) or b"" for s in held]
        assert all(b.startswith((b"HTTP/1.1 101", b"HTTP/1.1 503")) for b in first), first
        assert sum(b.startswith(b"HTTP/1.1 503") for b in first) >= 2, first
        assert _livez(port) == 200  # another client: served
    finally:
        for s in socks:
            s.close()
        _stop(launcher, port)
