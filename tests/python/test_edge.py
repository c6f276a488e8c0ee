"""At the edge, as an attacker would try it: bodies are capped and read only after credentials are
checked, forwarding headers are not believed, limits hold across processes, every answer carries
security headers, and the framework's own errors keep the documented shape."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from api.console import scan_page as pages
from ledger.paths import ROOT

from .conftest import free_port
from .helpers import login, make_client

MiB = 1 << 20


@pytest.fixture
def client(deployment, chain_node, tmp_path, members):
    c = make_client(deployment, chain_node, tmp_path, max_capture_bytes=2 * MiB, anchor_interval_s=0)
    return c, login(c, members["merchant_a"])


def test_bodies_over_their_cap_are_413_and_credentials_come_first(client):
    c, merchant = client
    big = b"{" + b" " * (MiB + 10) + b"}"
    r = c.post("/v1/products", content=big, headers=merchant | {"Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["error"] == "payload_too_large"
    # no credentials, or a made-up token: 401 before the body is read, whatever its size
    for headers in ({}, {"Authorization": "Bearer tls_made_up"}):
        r = c.post("/v1/products", content=big, headers=headers | {"Content-Type": "application/json"})
        assert r.status_code == 401, r.text
    capture = b'{"type": "EPCISDocument", "pad": "' + b"x" * (3 * MiB) + b'"}'
    r = c.post("/v1/epcis/capture", content=capture, headers=merchant | {"Content-Type": "application/json"})
    assert r.status_code == 413
    r = c.post("/v1/auth/login", content=b'{"message": "' + b"x" * (20 << 10) + b'"}')
    assert r.status_code == 413  # public sign-in: a small cap, no credentials needed


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def _served(env: dict[str, str], port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "api.serve", "--port", str(port), "--workers", "1", "--log-level", "warning"],
        cwd=ROOT,
        env=env,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/livez").status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError("the API did not come up")


@pytest.fixture
def served(deployment, chain_node, tmp_path):
    _, manifest = deployment
    env = {
        **os.environ,
        "LEDGER_RPC_URL": chain_node.url,
        "LEDGER_MANIFEST": str(manifest),
        "LEDGER_DATA_DIR": str(tmp_path / "data"),
        "LEDGER_DATABASE_URL": f"sqlite:///{tmp_path / 'edge.sqlite3'}",
        "LEDGER_PUBLIC_RATE": "3",
        "LEDGER_PUBLIC_WINDOW": "3600",  # a fixed window: a long one so that five requests never straddle two
        "LEDGER_ANCHOR_INTERVAL": "0",
        "LEDGER_PUBLIC_BODY_TIMEOUT_S": "2",
    }
    port = free_port()
    proc = _served(env, port)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=30)


def _worker_pid(launcher_port: int) -> int:
    out = subprocess.run(["ss", "-tlnpH", f"( sport = :{launcher_port} )"], capture_output=True, text=True, check=True)
    return int(out.stdout.split("pid=")[1].split(",")[0])


def test_an_anonymous_upload_of_200_mb_is_refused_without_being_held(served):
    pid = _worker_pid(int(served.rsplit(":", 1)[1]))
    before = _rss_mb(pid)

    def chunks():
        for _ in range(200):
            yield b"x" * MiB

    for path, headers in (("/v1/epcis/capture", {}), ("/v1/products", {"Authorization": "Bearer tls_garbage"})):
        try:
            r = httpx.post(served + path, content=chunks(), headers=headers, timeout=60)
            assert r.status_code == 401, r.text
        except httpx.HTTPError:
            pass  # the server answered 401 and closed before the upload ended
    assert _rss_mb(pid) - before < 50, f"worker grew from {before:.0f} MB to {_rss_mb(pid):.0f} MB"


def test_an_anonymous_body_comes_whole_in_time_and_small(served):
    """Outside probe: 250 connections each sent ~1 MB of a body to `/pact/x` (read before any
    credential, under the 1 MiB default) and then waited, holding 250 MB of the workers. Now PACT's
    paths take 16 KiB (64 KiB for events), and an anonymous body comes whole within its deadline."""
    host, port = served.removeprefix("http://").split(":")
    r = httpx.post(served + "/pact/x", content=b"x" * (20 << 10))
    assert r.status_code == 413, r.text
    assert httpx.post(served + "/pact/3/events", content=b"x" * (70 << 10)).status_code == 413
    for path in ("/v1/auth/login", "/pact/auth/token"):
        with socket.create_connection((host, int(port)), timeout=15) as s:
            s.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 10000\r\n\r\n".encode() + b"{" * 5000)
            t0 = time.monotonic()
            answer = s.recv(4096)
            waited = time.monotonic() - t0
        assert answer.startswith(b"HTTP/1.1 408") and b"request_timeout" in answer, answer[:300]
        assert 1.5 < waited < 10, waited


def test_forwarded_for_from_a_client_is_not_believed(served):
    statuses = [
        httpx.get(served + "/v1/auth/nonce", headers={"X-Forwarded-For": f"203.0.113.{i}"}).status_code
        for i in range(5)
    ]
    assert statuses[:3] == [200, 200, 200] and statuses[3:] == [429, 429], statuses


def test_the_public_rate_limit_holds_across_processes_through_redis(deployment, chain_node, tmp_path, redis_server):
    for i in range(2):
        (tmp_path / f"w{i}").mkdir()
    workers = [  # two API processes' worth of services, one Redis
        make_client(
            deployment, chain_node, tmp_path / f"w{i}", redis_url=redis_server.url, public_rate=4, public_window_s=3600
        )
        for i in range(2)
    ]
    answers = [workers[i % 2].get("/v1/auth/nonce") for i in range(6)]
    assert [a.status_code for a in answers] == [200, 200, 200, 200, 429, 429]
    retry = {a.headers["Retry-After"] for a in answers[4:]}
    assert len(retry) == 1 or max(map(int, retry)) - min(map(int, retry)) <= 1


def test_every_answer_carries_security_headers_and_errors_keep_their_shape(client):
    c, merchant = client
    page = c.get("/01/06901234567892/10/L1/21/S1?lang=zh")  # an unknown code still gets its page
    assert page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and f"style-src '{pages.STYLE_HASH}'" in csp and "script-src" not in csp
    assert page.headers["referrer-policy"] == "no-referrer" and page.headers["x-frame-options"] == "DENY"
    assert 'style="' not in page.text  # no inline style attribute the policy would block
    for r in (
        c.get("/v1/products", headers=merchant),
        c.get("/v1/nothing-here"),
        c.delete("/v1/products", headers=merchant),
        c.post("/v1/products", content=b"{not json", headers=merchant | {"Content-Type": "application/json"}),
    ):
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
        if r.status_code >= 400:
            assert set(r.json()) == {"error", "detail"}, r.text
    assert c.get("/v1/nothing-here").json()["error"] == "not_found"
    not_allowed = c.delete("/v1/products", headers=merchant)
    assert not_allowed.status_code == 405 and not_allowed.json()["error"] == "method_not_allowed"
    # every method the path serves (RFC 9110 15.5.6), not only the first route's
    assert not_allowed.headers["allow"] == "GET, POST", not_allowed.headers["allow"]
    slash = c.get("/v1/products/", headers=merchant | {"Host": "evil.example"}, follow_redirects=False)
    assert slash.status_code == 404 and "location" not in slash.headers


def test_an_anonymous_self_signed_upload_is_refused_on_every_path_without_being_read(served):
    """`X-Ledger-Sign: self` keeps a write's body, but only one the edge already read within its cap
    after the credentials: anonymous 64 MiB on any path is a quick 4xx, and the worker holds none of it."""
    pid = _worker_pid(int(served.rsplit(":", 1)[1]))
    before = _rss_mb(pid)

    def chunks():
        for _ in range(64):
            yield b"x" * MiB

    cases = [
        ("GET", "/livez", 413),
        ("POST", "/01/09506000134352", 405),
        ("POST", "/v1/products", 401),
        ("POST", "/epcis/capture", 401),
        ("POST", "/v1/epcis/capture", 401),
    ]
    for method, path, status in cases:
        started = time.monotonic()
        try:
            r = httpx.request(method, served + path, content=chunks(), headers={"X-Ledger-Sign": "self"}, timeout=60)
            assert r.status_code == status, (path, r.status_code, r.text)
        except httpx.TransportError:
            pass  # answered and closed before the upload ended: not read either way
        assert time.monotonic() - started < 20, path
        assert _rss_mb(pid) - before < 50, f"{path}: worker grew from {before:.0f} MB to {_rss_mb(pid):.0f} MB"
    assert httpx.get(served + "/livez", headers={"X-Ledger-Sign": "self"}).status_code == 200
