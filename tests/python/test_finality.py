"""The block period and the confirmation depth as settings, and the depth argued per validator count
(ledger.chain.finality; the partitions themselves are tested on four hosts in test_consortium_hosts)."""

from __future__ import annotations

import threading
import time

import pytest

from ledger.chain import finality
from ledger.chain.client import connect, dev_accounts
from ledger.errors import LedgerError, NodeUnavailable


def test_the_argued_depth_per_validator_count(monkeypatch):
    monkeypatch.delenv("LEDGER_CONFIRMATIONS", raising=False)
    bounds = {n: finality.partition_reorg_bound(n) for n in range(1, 8)}
    assert bounds == {1: 0, 2: 1, 3: 1, 4: 2, 5: 3, 6: 3, 7: 4}
    assert {n: finality.confirmations(n) for n in range(1, 8)} == {1: 0, 2: 2, 3: 2, 4: 2, 5: 3, 6: 3, 7: 4}
    # a minority of m: its own nodes drop m blocks at most, the majority's ⌊3m/2⌋
    assert [finality.minority_reorg_bound(m) for m in (1, 2, 3)] == [1, 3, 4]
    for n in range(2, 30):  # never below what a partition can reorg, nor below the race depth seen
        assert finality.confirmations(n) >= max(finality.partition_reorg_bound(n), finality.RACE_DEPTH)
    with pytest.raises(ValueError):
        finality.partition_reorg_bound(0)


def test_settings_come_from_the_environment_and_bad_ones_are_refused(monkeypatch):
    monkeypatch.delenv("LEDGER_BLOCK_PERIOD_S", raising=False)
    assert finality.block_period_s() == 2
    monkeypatch.setenv("LEDGER_BLOCK_PERIOD_S", "1")
    assert finality.block_period_s() == 1
    monkeypatch.setenv("LEDGER_CONFIRMATIONS", "5")
    assert finality.confirmations(4) == 5
    for name, bad in (
        ("LEDGER_BLOCK_PERIOD_S", "0"),
        ("LEDGER_BLOCK_PERIOD_S", "fast"),
        ("LEDGER_CONFIRMATIONS", "-1"),
    ):
        monkeypatch.setenv(name, bad)
        with pytest.raises(LedgerError, match=name):
            finality.block_period_s() if name == "LEDGER_BLOCK_PERIOD_S" else finality.confirmations(4)


def test_a_write_is_final_only_with_depth_blocks_on_top_of_its_own_block(anvil_factory):
    """On a node mining only when told: not final with fewer than `depth` blocks on top; final,
    at its own block's number, as soon as they come (the heads polled link back to it)."""
    w3 = connect(anvil_factory().url)
    w3.provider.make_request("evm_setAutomine", [False])
    a, b = dev_accounts(2)
    tx = w3.eth.send_transaction({"from": a.address, "to": b.address, "value": 1})
    w3.provider.make_request("evm_mine", [])
    own = w3.eth.get_transaction_receipt(tx)["blockNumber"]
    with pytest.raises(NodeUnavailable):  # no block on top, one asked
        finality.wait_final(w3, tx, 1, timeout=0.5)
    mine = threading.Thread(target=lambda: [time.sleep(0.3) or w3.provider.make_request("evm_mine", []) for _ in "ab"])
    mine.start()
    started = time.monotonic()
    try:
        assert finality.wait_final(w3, tx, 2, timeout=10) == own
    finally:
        mine.join()
    assert 0.5 < time.monotonic() - started < 5
    assert finality.wait_final(w3, tx, 0) == own


def test_the_deepest_reorg_a_geth_log_records(tmp_path):
    """geth 1.13's own lines (INFO for a reorg, WARN "Large chain reorg" past 63 blocks); none is 0."""
    quiet, loud = tmp_path / "a.log", tmp_path / "b.log"
    quiet.write_text("INFO [12-07|15:00:01.000] Imported new chain segment number=40 hash=0xab\n")
    assert finality.deepest_logged_reorg([quiet]) == 0
    loud.write_text(
        "INFO [12-07|15:00:02.000] Chain reorg detected                     number=41 hash=0x1f drop=2"
        " dropfrom=0x2e add=3 addfrom=0x3d\n"
        "WARN [12-07|15:00:03.000] Large chain reorg detected               number=9 hash=0x1f drop=70"
        " dropfrom=0x2e add=71 addfrom=0x3d\n"
    )
    assert finality.deepest_logged_reorg([quiet, loud]) == 70
