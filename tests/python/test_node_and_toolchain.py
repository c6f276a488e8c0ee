"""The local node keeps its chain across restarts; the compiler is found or reported missing."""

from __future__ import annotations

import json
import shutil
import subprocess
import time

import pytest

from ledger.chain import toolchain
from ledger.chain.client import connect
from ledger.chain.compiler import DEPLOYABLE, compile_contracts
from ledger.chain.deploy import deploy
from ledger.devnet import node
from ledger.errors import CompilerNotFound, LedgerError

from .conftest import free_port


def test_state_survives_restart(tmp_path, monkeypatch):
    monkeypatch.setenv("LEDGER_DATA_DIR", str(tmp_path))
    url = f"http://127.0.0.1:{free_port()}"
    manifest = tmp_path / "deployment.json"
    print(node.start(url))
    try:
        dep, new = deploy(connect(url), manifest)
        assert new
        w3 = connect(url)
        block = w3.eth.block_number
        block_hash = w3.eth.get_block(block)["hash"]
    finally:
        print(node.stop())
    assert "already" not in node.start(url)
    try:
        w3 = connect(url)
        assert w3.eth.get_block(block)["hash"] == block_hash
        again, new = deploy(w3, manifest)
        assert not new and again.manifest["contracts"] == dep.manifest["contracts"]
    finally:
        node.stop()


def test_wrapper_answers_like_native_solc():
    path = toolchain.ensure_solc()
    out = subprocess.run([str(path), "--version"], check=False, capture_output=True, text=True).stdout
    assert f"Version: {toolchain.SOLC_VERSION}" in out


def test_compile_produces_every_contract():
    arts = compile_contracts(force=True)
    assert set(arts) == set(DEPLOYABLE)
    # the whole standard-JSON answer is far past the 64 KiB at which a pipe broke solcjs
    assert sum(len(json.dumps(a)) for a in arts.values()) > 64 * 1024
    for a in arts.values():
        assert (
            a["bytecode"][:4] in ("0x60", "0x61") and len(a["bytecode"]) > 1000
        )  # PUSH1 / PUSH2: the free memory pointer


def test_missing_compiler_is_one_clear_line(tmp_path, monkeypatch):
    monkeypatch.setenv("SOLCX_BINARY_PATH", str(tmp_path / "solcx"))
    monkeypatch.setattr(toolchain, "node_modules", lambda: tmp_path / "no_node_modules")
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(CompilerNotFound) as exc:
        toolchain.ensure_solc(try_download=False)
    assert "no Solidity compiler 0.8.28" in str(exc.value) and "npm ci" in str(exc.value)
    assert "\n" not in str(exc.value)


def test_the_development_node_keeps_sealing_blocks_so_the_last_transaction_becomes_final(tmp_path, monkeypatch):
    """On an idle chain nobody else transacts; the newest event must still become final."""
    from sqlalchemy import select

    from ledger.chain.indexer import Indexer
    from ledger.store.db import make_engine, migrate
    from ledger.store.models import ChainEvent

    monkeypatch.setenv("LEDGER_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LEDGER_BLOCK_TIME", "1")
    url = f"http://127.0.0.1:{free_port()}"
    node.start(url)
    try:
        dep, _ = deploy(connect(url), tmp_path / "deployment.json")
        engine = make_engine(f"sqlite:///{tmp_path / 'index.sqlite3'}")
        migrate(engine)
        indexer = Indexer(dep, engine, confirmations=1)
        w3 = connect(url)
        last_tx_block = w3.eth.block_number
        indexer.run()
        deadline = time.monotonic() + 10
        while w3.eth.block_number <= last_tx_block and time.monotonic() < deadline:
            time.sleep(0.2)  # no transaction is sent meanwhile
        assert w3.eth.block_number > last_tx_block, "no block was sealed on the idle chain"
        indexer.run()
        with engine.connect() as conn:
            finals = conn.execute(select(ChainEvent.final)).scalars().all()
        assert finals and all(finals)
    finally:
        node.stop()


def test_a_block_time_that_is_not_a_number_is_one_clear_line(monkeypatch):
    monkeypatch.setenv("LEDGER_BLOCK_TIME", "fast")
    with pytest.raises(LedgerError, match="LEDGER_BLOCK_TIME must be a whole number of seconds"):
        node.block_time()
