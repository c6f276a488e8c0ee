"""Fixtures for the Python tests: real anvil nodes on free ports and a deployment made through
`ledger` (web3 only; brownie's pytest plugin is disabled for this folder by the Makefile)."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

from ledger import node
from ledger.chain import connect, dev_accounts
from ledger.deploy import deploy


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
