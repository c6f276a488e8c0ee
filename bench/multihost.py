"""The platform's API on several hosts: one member's order escrows per second through one API host
and through two (each host an `api.serve` with one web worker and a `ledger worker`, its own data
directory, all on one PostgreSQL, one Redis and one anvil), in alternating rounds so that a change
in the machine's load falls on both; then how long the anchorer's leadership takes to move when
its worker is SIGKILLed, a few times.

    python -m bench.multihost [--orders 120] [--rounds 2] [--kills 3]

Not part of `make bench`: it prints its figures and writes nothing (docs/multihost.md quotes them).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx

from ledger.chain.client import Sender, connect, dev_accounts
from ledger.chain.deploy import deploy
from ledger.devnet import node
from ledger.devnet.servers import LocalPostgres, LocalRedis, free_port
from ledger.paths import ROOT

from .hosts import Host


def _login(url: str, account) -> dict[str, str]:
    from datetime import UTC, datetime, timedelta

    from eth_account import Account
    from eth_account.messages import encode_defunct

    from ledger.access import siwe

    n = httpx.get(url + "/v1/auth/nonce").json()
    now = datetime.now(UTC)
    message = siwe.build(domain=n["domain"], address=account.address, uri=url, chain_id=n["chain_id"],
                         nonce=n["nonce"], issued_at=now, expiration_time=now + timedelta(minutes=30))  # fmt: skip
    signature = "0x" + Account.sign_message(encode_defunct(text=message), account.key).signature.hex()
    r = httpx.post(url + "/v1/auth/login", json={"message": message, "signature": signature})
    r.raise_for_status()
    return {"Authorization": f"Bearer {r.json()['token']}"}


def escrows_per_s(hosts: list[Host], headers: dict[str, str], merchant: str, count: int) -> float:
    run = uuid.uuid4().hex[:8]

    def one(i: int) -> None:
        body = {"order_id": f"B-{run}-{i}", "merchant": merchant, "amount_fen": 100 + i}
        host = hosts[i % len(hosts)]
        r = httpx.post(host.url + "/v1/orders", json=body, headers={**headers, "Idempotency-Key": body["order_id"]},
                       timeout=60)  # fmt: skip
        assert r.status_code == 201, r.text

    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(one, range(count)))
    return count / (time.monotonic() - start)


def failover_s(hosts: list[Host]) -> float:
    """SIGKILL the worker leading the anchorer; seconds until another worker leads; the killed one restarted."""
    start = time.monotonic()
    while not all(h.worker_running() for h in hosts):  # a follower still starting would not take over
        assert time.monotonic() - start < 120, "workers did not start in 120 s"
        time.sleep(0.1)
    leader = next(h for h in hosts if h.leader_pid("anchorer") == h.procs["worker"].pid)
    other = next(h for h in hosts if h is not leader)
    os.killpg(leader.procs["worker"].pid, 9)
    leader.procs["worker"].wait(timeout=30)
    start = time.monotonic()
    while other.leader_pid("anchorer") != other.procs["worker"].pid:
        assert time.monotonic() - start < 60, "no worker took the anchorer's lease in 60 s"
        time.sleep(0.02)
    took = time.monotonic() - start
    leader.start_worker()
    return took


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.multihost", description=__doc__.split("\n\n")[0])
    p.add_argument("--orders", type=int, default=120)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--kills", type=int, default=3)
    args = p.parse_args()
    root = ROOT / ".data" / f"multihost-bench-{os.getpid()}"  # PostgreSQL's own user must reach it
    root.mkdir(parents=True)
    port = free_port()
    anvil = subprocess.Popen(node.anvil_command(port, None), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pg, redis = LocalPostgres(root / "postgresql"), LocalRedis(root / "redis")
    hosts: list[Host] = []
    try:
        url = f"http://127.0.0.1:{port}"
        node.wait_until_up(url)
        dep, _ = deploy(connect(url), root / "deployment.json")
        accounts = {label: dev_accounts(20)[m["account_index"]] for label, m in dep.manifest["members"].items()}
        issuer = Sender(dep.w3, accounts["issuer"], dep.decoder())
        issuer.transact(dep.contract("SettlementToken").functions.mint(accounts["platform"].address, 10**12))
        db_url, redis_url = pg.start(), redis.start()
        env = {**os.environ, "LEDGER_RPC_URL": url, "LEDGER_DATABASE_URL": db_url, "LEDGER_REDIS_URL": redis_url,
               "LEDGER_ORDER_KEY_SECRET": "cd" * 32, "LEDGER_SIWE_DOMAIN": "api.bench.test",
               "LEDGER_BACKGROUND_IN_WEB": "0", "LEDGER_PUBLIC_RATE": "1000000"}  # fmt: skip
        hosts = [Host(name, root, env, root / "deployment.json") for name in ("a", "b")]
        for h in hosts:
            h.start_api()
            h.start_worker()
        for h in hosts:
            h.wait_up()
        headers = _login(hosts[0].url, accounts["platform"])
        merchant = accounts["merchant_a"].address
        escrows_per_s(hosts, headers, merchant, 20)  # warm both up
        one, two = [], []
        for _ in range(args.rounds):
            one.append(escrows_per_s(hosts[:1], headers, merchant, args.orders))
            two.append(escrows_per_s(hosts, headers, merchant, args.orders))
        print(f"escrows by one member, {args.orders} per round, 16 at once, {args.rounds} rounds each (load "
              f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores):")  # fmt: skip
        print(f"  one host:  {' '.join(f'{x:.1f}' for x in one)} /s")
        print(f"  two hosts: {' '.join(f'{x:.1f}' for x in two)} /s; ratio two/one {sum(two) / sum(one):.2f}")
        times = [failover_s(hosts) for _ in range(args.kills)]
        print(f"anchorer leadership moved after SIGKILL of its worker in {', '.join(f'{t:.2f}' for t in times)} s")
    finally:
        for h in hosts:
            h.stop()
        pg.stop()
        redis.stop()
        anvil.terminate()
        anvil.wait(timeout=30)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
