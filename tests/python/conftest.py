"""Fixtures for the Python tests: real anvil nodes on free ports and a deployment made through
`ledger` (web3 only; brownie's pytest plugin is disabled for this folder by the Makefile)."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

from ledger.chain import node
from ledger.chain.client import connect, dev_accounts
from ledger.chain.deploy import deploy


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


PG_URL = os.environ.get("LEDGER_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture
def pg_url():
    """A fresh schema in the PostgreSQL test database, dropped afterwards. Skips, saying so, only
    when no server answers."""
    import uuid

    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError

    admin = create_engine(PG_URL)
    schema = f"tl_{uuid.uuid4().hex[:12]}"
    try:
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
    except OperationalError as exc:
        pytest.skip(f"no PostgreSQL server answers at {PG_URL}: {str(exc).splitlines()[0]}")
    yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()
