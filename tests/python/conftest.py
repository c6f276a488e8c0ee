"""Fixtures for the Python tests: real anvil nodes on free ports and a deployment made through
`ledger` (web3 only; brownie's pytest plugin is disabled for this folder by the Makefile)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from ledger.chain.client import connect, dev_accounts
from ledger.chain.deploy import deploy
from ledger.devnet import node
from ledger.devnet.servers import LocalPostgres, LocalRedis, ServerUnavailable
from ledger.paths import ROOT

#: the modules that take longest (networks of geth nodes, browsers, the soak, schemathesis), started
#: first: `make test-python` runs the modules on several pytest-xdist workers (`--dist loadfile
#: --no-loadscope-reorder`), and one of these started last would keep the run going alone
SLOW_FIRST = (
    "test_consortium_hosts.py",
    "test_consortium.py",
    "test_soak.py",
    "test_multihost.py",
    "test_console.py",
    "test_zk_purchases.py",
    "test_openapi_fuzz.py",
    "test_gs1_openapi.py",
    "test_cli_money.py",
    "test_compliance_retention.py",
    "test_cli_network.py",
)


def pytest_configure(config):
    """A data directory (`LEDGER_DATA_DIR`) of each test process's own: the apps and commands the
    tests start keep lock files and loop leases there (ledger/store/locks.py), and two processes of
    a run (pytest-xdist workers) or two runs must not take each other's anchorer lease or nonce
    locks. Under the project's .data, as the servers' (PostgreSQL's user must reach it)."""
    d = ROOT / ".data" / "test-data" / str(os.getpid())
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    os.environ["LEDGER_DATA_DIR"] = config.ledger_data_dir = str(d)


def pytest_unconfigure(config):
    if d := getattr(config, "ledger_data_dir", None):
        shutil.rmtree(d, ignore_errors=True)


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the rest keep their order


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Anvil:
    """An anvil process on a free port, optionally persisting its state to a file."""

    def __init__(self, state: Path | None = None, chain_id: int = node.CHAIN_ID):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            node.anvil_command(self.port, state, chain_id=chain_id),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        node.wait_until_up(self.url)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


@pytest.fixture
def anvil_factory():
    started: list[Anvil] = []

    def make(**kwargs) -> Anvil:
        a = Anvil(**kwargs)
        started.append(a)
        return a

    yield make
    for a in started:
        if a.proc.poll() is None:
            a.stop()


@pytest.fixture(scope="session")
def chain_node():
    a = Anvil()
    yield a
    a.stop()


@pytest.fixture(scope="session")
def deployment(chain_node, tmp_path_factory):
    path = tmp_path_factory.mktemp("deploy") / "deployment.json"
    dep, new = deploy(connect(chain_node.url), path)
    assert new
    return dep, path


@pytest.fixture(scope="session")
def accounts():
    return dev_accounts(20)


@pytest.fixture(scope="session")
def members(deployment, accounts):
    """The bootstrap members' accounts by label (merchant_a, auditor, ...)."""
    dep, _ = deployment
    return {label: accounts[m["account_index"]] for label, m in dep.manifest["members"].items()}


#: `make test` sets this: a server that cannot be started fails the tests instead of skipping them
REQUIRE_SERVERS = os.environ.get("LEDGER_REQUIRE_SERVERS") == "1"


def _servers_dir(name: str) -> Path:
    """Under the project's data directory (PostgreSQL's own user must reach it; pytest's temporary
    folders are private to root)."""
    d = ROOT / ".data" / "test-servers" / f"{name}-{os.getpid()}"
    shutil.rmtree(d, ignore_errors=True)
    return d


def _started(server):
    try:
        return server.start()
    except ServerUnavailable as exc:
        if REQUIRE_SERVERS:
            pytest.fail(f"LEDGER_REQUIRE_SERVERS=1 and {exc}")
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def pg_server_url():
    """A PostgreSQL server for the session: `LEDGER_TEST_PG_URL` if set, else one of our own
    (Debian's package, installed if missing), stopped and removed at the end."""
    if os.environ.get("LEDGER_TEST_PG_URL"):
        yield os.environ["LEDGER_TEST_PG_URL"]
        return
    server = LocalPostgres(_servers_dir("postgres"))
    url = _started(server)
    yield url
    server.stop()
    shutil.rmtree(server.root, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_server():
    """A Redis server of our own for the session (Debian's package, installed if missing)."""
    server = LocalRedis(_servers_dir("redis"))
    _started(server)
    yield server
    server.stop()
    shutil.rmtree(server.root, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server_url):
    """A fresh schema in the session's PostgreSQL database, dropped afterwards."""
    import uuid

    from sqlalchemy import create_engine, text

    admin = create_engine(pg_server_url)
    schema = f"tl_{uuid.uuid4().hex[:12]}"
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    yield f"{pg_server_url}?options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()
