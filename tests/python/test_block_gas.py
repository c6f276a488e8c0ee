"""A write no block can hold is refused as the caller's to split (a 422), not a 500: the node's
estimate says "gas required exceeds allowance" with the block's gas limit as the allowance. The
same words with a smaller allowance (the sender's balance cannot pay) are not the caller's doing
stay the node's error, as any other. On a real anvil with a small block gas limit."""

from __future__ import annotations

import subprocess

import pytest
from web3.exceptions import Web3RPCError

from api.core.errors import error_answer
from ledger.chain.client import Sender, connect, dev_accounts
from ledger.chain.compiler import load_artifacts
from ledger.chain.submission import TooBigForABlock, too_big_for_a_block
from ledger.devnet import node

from .conftest import free_port


@pytest.fixture
def small_blocks():
    port = free_port()
    proc = subprocess.Popen(
        node.anvil_command(port, None, extra=["--gas-limit", "150000"]),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        node.wait_until_up(f"http://127.0.0.1:{port}")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_a_write_bigger_than_a_block_is_a_422_and_nothing_is_sent(small_blocks):
    w3 = connect(small_blocks)
    artifact = load_artifacts()["Membership"]  # deploying it takes far more than 150,000 gas
    with pytest.raises(TooBigForABlock) as refused:
        Sender(w3, dev_accounts(1)[0]).deploy(artifact, dev_accounts(1)[0].address)
    status, body, _ = error_answer(refused.value)
    assert status == 422 and "more gas than a block" in body["detail"], body
    assert w3.eth.get_transaction_count(dev_accounts(1)[0].address) == 0  # nothing was sent
    # geth's words when the sender's balance is the allowance (below the block's limit): not the caller's to split
    for said, too_big in (
        ("gas required exceeds allowance (149999)", False),
        ("gas required exceeds allowance (150000)", True),
        ("insufficient funds for gas * price + value", False),
    ):
        found = too_big_for_a_block(w3, Web3RPCError(said, rpc_response={"error": {"code": -32000, "message": said}}))
        assert isinstance(found, TooBigForABlock) is too_big, said


def test_any_other_refusal_of_the_node_is_a_503_that_says_so_not_a_500():
    """A question of ours the node refuses (the operator's key cannot pay for gas, ...) is no fault
    of the caller's, and no crash of ours: a 503 with the node's words, to retry once it is mended."""
    said = "insufficient funds for gas * price + value: balance 0, tx cost 21000"
    status, body, headers = error_answer(Web3RPCError(said, rpc_response={"error": {"code": -32000, "message": said}}))
    assert status == 503 and body["error"] == "node_refused" and said in body["detail"] and headers["Retry-After"]
