"""The platform's API on two hosts: separate data directories (nothing on disk in common), one
PostgreSQL, one Redis, one chain node. Each host is an `api.serve` and a `ledger worker` process
group of its own. One member's concurrent writes through both hosts take each nonce once and
land once; SIGKILLing a host mid-load loses nothing acknowledged and does nothing twice, and its
worker's leadership of the anchorer moves to the other host's worker within seconds.

`-s` prints the rate and the anchorer's failover time; `python -m bench.multihost` measures one
host against two."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import create_engine, text

from bench.hosts import Host
from ledger.chain.client import Sender
from ledger.paths import ROOT

from .helpers import login_over_http, sign_in_message

SECRET = "ab" * 32  # the order-key secret every host of the platform is given alike
DOMAIN = "api.multihost.test"


@pytest.fixture(scope="module")
def platform(deployment, chain_node, pg_server_url, redis_server, tmp_path_factory, members):
    """Hosts a and b on one PostgreSQL schema and one Redis; b's worker leads the anchorer."""
    dep, manifest = deployment
    issuer = Sender(dep.w3, members["issuer"], dep.decoder())
    issuer.transact(dep.contract("SettlementToken").functions.mint(members["platform"].address, 10**9))
    schema = f"tl_mh_{uuid.uuid4().hex[:8]}"
    admin = create_engine(pg_server_url)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    db_url = f"{pg_server_url}?options=-csearch_path%3D{schema}"
    env = {
        **os.environ,
        "LEDGER_RPC_URL": chain_node.url,
        "LEDGER_DATABASE_URL": db_url,
        "LEDGER_REDIS_URL": redis_server.url,
        "LEDGER_ORDER_KEY_SECRET": SECRET,
        "LEDGER_SIWE_DOMAIN": DOMAIN,
        "LEDGER_BACKGROUND_IN_WEB": "0",
        "LEDGER_TX_TIMEOUT": "5",  # a claimed Idempotency-Key of a killed host is taken over after 2*5+10 s
        "LEDGER_PUBLIC_RATE": "100000",
        "LEDGER_ANCHOR_INTERVAL": "0.2",
        "LEDGER_ANCHOR_MAX_AGE": "0",
        "LEDGER_ANCHOR_ONE_BY_ONE_MAX": "0",
    }
    root = tmp_path_factory.mktemp("multihost")
    a, b = Host("a", root, env, manifest), Host("b", root, env, manifest)
    try:
        a.start_api()
        b.start_api()
        b.start_worker()
        a.wait_up()
        b.wait_up()
        _wait(lambda: b.leader_pid("anchorer") == b.procs["worker"].pid, 60, "b's worker to lead the anchorer")
        a.start_worker()
        _wait(a.worker_running, 120, "a's worker to start its loops")  # a follower, ready to take over
        yield a, b, db_url
    finally:
        a.stop()
        b.stop()
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def _wait(check, timeout: float, what: str) -> float:
    start = time.monotonic()
    while not check():
        assert time.monotonic() - start < timeout, f"waited {timeout} s for {what}"
        time.sleep(0.05)
    return time.monotonic() - start


def _one_event_doc() -> dict:
    from ledger.trace.epcis.samples import CONTEXT

    epc = f"urn:epc:id:sgtin:0614141.107346.{uuid.uuid4().int % 10**9}"
    event = {"type": "ObjectEvent", "eventTime": "2026-12-05T08:00:00Z", "eventTimeZoneOffset": "+00:00",
             "epcList": [epc], "action": "OBSERVE"}  # fmt: skip
    return {"@context": CONTEXT, "type": "EPCISDocument", "schemaVersion": "2.0",
            "creationDate": "2026-12-05T08:00:00Z", "epcisBody": {"eventList": [event]}}  # fmt: skip


def _order(members, n: int, run: str) -> dict:
    return {"order_id": f"MH-{run}-{n}", "merchant": members["merchant_a"].address, "amount_fen": 100 + n}


def _balance(deployment, members) -> int:
    return deployment[0].contract("SettlementToken").functions.balanceOf(members["platform"].address).call()


def _escrowed(db_url: str, ids: list[str]) -> dict[str, str]:
    engine = create_engine(db_url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT order_id, escrow_tx FROM orders WHERE order_id LIKE 'MH-%'")).all()
    engine.dispose()
    return {r[0]: r[1] for r in rows if r[0] in set(ids)}


def _escrow_all(hosts: list[Host], bodies: list[dict], headers: dict[str, str], retries: list[str] | None = None):
    """POST each order (Idempotency-Key = its id) to the hosts in turn, 16 at once; a host that
    does not answer sends the retry to the next one; a key still claimed is retried as told. The
    answers by order id, and the seconds it took; each retry's cause is appended to `retries`."""
    retries = [] if retries is None else retries

    def one(i: int) -> dict:
        body, deadline = bodies[i], time.monotonic() + 90
        h = i
        while True:
            host = hosts[h % len(hosts)]
            try:
                key = {"Idempotency-Key": body["order_id"]}
                r = httpx.post(host.url + "/v1/orders", json=body, headers={**headers, **key}, timeout=30)
            except httpx.TransportError as exc:
                retries.append(type(exc).__name__)
                h += 1  # that host is gone: the next one
                continue
            if r.status_code == 409 and r.json().get("error") == "idempotency_in_progress":
                assert time.monotonic() < deadline, r.text
                retries.append("idempotency_in_progress")
                time.sleep(float(r.headers.get("Retry-After", "1")))
                continue
            assert r.status_code == 201, (host.name, r.status_code, r.text)
            return r.json()

    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(one, range(len(bodies))))
    return {a["order_id"]: a for a in answers}, time.monotonic() - start


def test_one_members_200_concurrent_writes_over_two_hosts_each_land_once(platform, deployment, members):
    a, b, db_url = platform
    # a sign-in nonce issued by one host is redeemed at the other; the session works on both
    message, signature = sign_in_message(_Http(a.url), members["platform"])
    r = httpx.post(b.url + "/v1/auth/login", json={"message": message, "signature": signature})
    assert r.status_code == 200, r.text
    headers = {"Authorization": f"Bearer {r.json()['token']}"}
    assert httpx.get(a.url + "/v1/me", headers=headers).status_code == 200

    before = _balance(deployment, members)
    bodies = [_order(members, n, "two") for n in range(200)]
    answers, took_s = _escrow_all([a, b], bodies, headers)
    print(f"\n200 escrows by one member through two hosts: {200 / took_s:.1f}/s")

    ids = [o["order_id"] for o in bodies]
    stored = _escrowed(db_url, ids)
    assert sorted(stored) == sorted(ids)  # each stored once (the order id is the key)
    assert all(stored[i] == answers[i]["escrow_tx"] for i in answers)
    # each escrowed once on chain: the platform paid exactly the sum, not a fen more
    assert before - _balance(deployment, members) == sum(o["amount_fen"] for o in bodies)
    replay = httpx.post(
        a.url + "/v1/orders", json=bodies[1], headers={**headers, "Idempotency-Key": bodies[1]["order_id"]}
    )
    assert replay.headers.get("Idempotent-Replayed") == "true" and replay.json() == answers[bodies[1]["order_id"]]


class _Http:
    def __init__(self, url: str):
        self.url = url

    def get(self, path: str):
        return httpx.get(self.url + path)


def test_a_host_killed_mid_load_loses_nothing_and_its_anchorer_moves(platform, deployment, members):
    a, b, db_url = platform
    headers = login_over_http(a.url, members["platform"])
    producer = login_over_http(b.url, members["producer"])
    assert b.leader_pid("anchorer") == b.procs["worker"].pid  # b leads: its death is the failover
    before = _balance(deployment, members)
    bodies = [_order(members, n, "kill") for n in range(60)]
    killed: dict[str, float] = {}

    def kill_b_when_under_way() -> None:
        engine = create_engine(db_url)
        with engine.connect() as conn:
            under_way = text("SELECT count(*) FROM orders WHERE order_id LIKE 'MH-kill-%'")
            _wait(lambda: conn.execute(under_way).scalar() >= 15, 120, "15 orders escrowed")
        engine.dispose()
        b.kill()
        killed["failover_s"] = _wait(lambda: a.leader_pid("anchorer") == a.procs["worker"].pid, 30, "a to lead")

    with ThreadPoolExecutor(max_workers=1) as killer:
        done = killer.submit(kill_b_when_under_way)
        retries: list[str] = []
        answers, _ = _escrow_all([a, b], bodies, headers, retries)
        done.result()
    assert retries  # requests b had, and those sent to it after its death, were retried at a

    failover_s = killed["failover_s"]  # from the SIGKILL to a's worker holding the anchorer's lease
    ids = [o["order_id"] for o in bodies]
    stored = _escrowed(db_url, ids)
    assert sorted(stored) == sorted(ids) and all(stored[i] == answers[i]["escrow_tx"] for i in ids)
    assert before - _balance(deployment, members) == sum(o["amount_fen"] for o in bodies)

    # and the new leader anchors: an event captured now is anchored by host a's worker
    r = httpx.post(a.url + "/v1/epcis/capture", json=_one_event_doc(), headers=producer, timeout=30)
    assert r.status_code == 201, r.text
    digest = r.json()["events"][0]["hashId"].split(";")[1][:64]
    anchored = _wait(
        lambda: httpx.get(f"{a.url}/v1/epcis/proofs/{digest}", timeout=10).json().get("status") == "anchored",
        60,
        "the event to be anchored",
    )
    print(f"\nanchorer leadership moved {failover_s:.2f} s after the SIGKILL; a new event anchored in "
          f"{anchored:.2f} s; retried: {sorted(set(retries))} ({len(retries)})")  # fmt: skip
    assert failover_s < 10


def test_hosts_sharing_postgresql_without_redis_count_one_rate_limit(deployment, chain_node, tmp_path, pg_url):
    """No Redis: the public budget is counted in the database, so two hosts admit it once, not twice
    (each learns the others' count within DatabaseRateLimiter.SYNC_S: one hit more may pass)."""
    from api.core.limits import DatabaseRateLimiter

    from .helpers import make_client

    hosts = [
        make_client(deployment, chain_node, tmp_path / h, database_url=pg_url, public_rate=10, public_window_s=600)
        for h in ("a", "b")
        if (tmp_path / h).mkdir() is None
    ]
    limiter = hosts[0].app.state.services.public_limiter
    assert isinstance(limiter, DatabaseRateLimiter)
    for host in hosts:
        assert [host.get("/v1/auth/nonce").status_code for _ in range(5)] == [200] * 5
        time.sleep(3 * DatabaseRateLimiter.SYNC_S)  # each host has told the database its count
    for host in hosts:
        host.get("/v1/auth/nonce")  # may pass: this host last heard the count before the other's five
        # what their threads do every SYNC_S, done now (a loaded machine may delay them): the other
        # hosts tell the database their counts, then this one adds its own and learns the total
        for h in [*(h for h in hosts if h is not host), host]:
            h.app.state.services.public_limiter.sync()
        r = host.get("/v1/auth/nonce")  # the 8th or 9th request this host answers: over the shared 10
        assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0, r.text


def test_ledger_worker_anchors_for_a_single_sqlite_host(deployment, chain_node, tmp_path, members):
    """`make run`'s shape: web workers without the loops, `ledger worker` beside them on SQLite
    (file locks in the data directory; test_locks has two processes' worth take turns on them)."""
    from .helpers import login, make_client

    _, manifest = deployment
    db = f"sqlite:///{tmp_path / 'api.sqlite3'}"
    c = make_client(deployment, chain_node, tmp_path, database_url=db, background_in_web=False)
    env = {**os.environ, "LEDGER_RPC_URL": chain_node.url, "LEDGER_MANIFEST": str(manifest),
           "LEDGER_DATABASE_URL": db, "LEDGER_DATA_DIR": str(tmp_path / "data"),
           "LEDGER_ANCHOR_INTERVAL": "0.2", "LEDGER_ANCHOR_MAX_AGE": "0"}  # fmt: skip
    logs = [open(tmp_path / "worker0.log", "wb")]  # noqa: SIM115 - closed below
    workers = [subprocess.Popen([sys.executable, "-m", "ledger", "worker"], cwd=ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT) for log in logs]  # fmt: skip
    try:
        with c:  # the app's lifespan runs: no loop of its own
            assert not hasattr(c.app.state.services, "loops")
            lock = tmp_path / "data" / "anchorer.lock"
            _wait(lambda: lock.exists() and lock.read_text().strip() in {str(w.pid) for w in workers}, 120, "a leader")
            r = c.post("/v1/epcis/capture", json=_one_event_doc(), headers=login(c, members["producer"]))
            assert r.status_code == 201, r.text
            digest = r.json()["events"][0]["hashId"].split(";")[1][:64]
            _wait(lambda: c.get(f"/v1/epcis/proofs/{digest}").json().get("status") == "anchored", 60, "the anchor")
    finally:
        for w in workers:
            w.terminate()
        for log in logs:
            log.close()
        assert [w.wait(timeout=30) for w in workers] == [0], (tmp_path / "worker0.log").read_text()[-3000:]


def test_the_worker_reads_the_loops_settings_as_the_api_does(monkeypatch):
    """`ledger worker` cannot import the API's settings: the same variables, the same defaults."""
    from dataclasses import fields

    from api.core.settings import Settings
    from ledger.worker.loops import LoopSettings

    for env in (
        {},
        {"LEDGER_ANCHOR_INTERVAL": "0.3", "LEDGER_WEBHOOK_ALLOW_PRIVATE": "1", "LEDGER_ANCHOR_MAX_AGE": "2"},
    ):
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        api, worker = Settings(), LoopSettings()
        assert {f.name: getattr(worker, f.name) for f in fields(LoopSettings)} == {
            f.name: getattr(api, f.name) for f in fields(LoopSettings)
        }
