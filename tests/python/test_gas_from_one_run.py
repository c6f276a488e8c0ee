"""A large transaction's gas from one run (`ledger.chain.gas_from_one_run`), on a real anvil: a
batch of escrows is estimated with one access-list run and one checking call instead of the node's
search, at most a few percent above the node's own estimate, and mined; a call that needs more gas
than it uses fails the check and gets the node's estimate; a revert raises the contract's error
as before; a small write keeps the node's estimate."""

from __future__ import annotations

import pytest

from ledger.chain.client import Sender, TransactionFailed, connect, dev_accounts
from ledger.chain.gas_from_one_run import LARGE_CALLDATA, estimate_gas
from ledger.money.orders import settlement
from ledger.money.orders.terms import OrderTerms, order_key


class _Padded:
    """A contract function's call with `pad` zero bytes after its arguments (the contract reads
    only its arguments): a large transaction with a small one's work."""

    def __init__(self, fn, pad: int):  # type: ignore[no-untyped-def]
        self.address, self._data = fn.address, fn._encode_transaction_data() + "00" * pad

    def _encode_transaction_data(self) -> str:
        return self._data


@pytest.fixture
def asked(deployment):
    """The JSON-RPC methods the deployment's connection asks, in order."""
    dep, _ = deployment
    seen: list[str] = []
    provider = dep.w3.provider
    original = provider.make_request

    def recording(method, params):  # type: ignore[no-untyped-def]
        seen.append(method)
        return original(method, params)

    provider.make_request = recording
    provider._request_func_cache = ((), None)  # web3 keeps the request function it built: build it anew
    yield seen
    provider.make_request = original
    provider._request_func_cache = ((), None)


def test_a_batch_is_estimated_from_one_run_and_mined(deployment, members, asked):
    dep, _ = deployment
    platform = Sender(dep.w3, members["platform"], dep.decoder())
    token = dep.contract("SettlementToken")
    Sender(dep.w3, members["issuer"], dep.decoder()).transact(token.functions.mint(platform.address, 10**9))
    high = int(dep.contract("OrderSettlement").functions.slotHighWater(platform.address).call())
    terms = [
        OrderTerms(key=order_key(f"ONE-RUN-{i}", b"s"), amount=100 + i, merchant=members["merchant_a"].address,
                   payer=platform.address, slot=high + 1 + i)
        for i in range(120)
    ]  # fmt: skip
    settlement.ensure_allowance(dep, platform, dep.contract("OrderSettlement").address, 10**9)
    asked.clear()
    receipt = settlement.escrow(dep, platform, terms)
    assert receipt["status"] == 1
    assert "eth_estimateGas" not in asked and {"eth_createAccessList", "eth_call"} <= set(asked)
    sent = dep.w3.eth.get_transaction(receipt["transactionHash"])
    assert len(sent["input"]) >= LARGE_CALLDATA
    # what the node's search would have said for the same batch (on the state before it: it is mined now)
    before = {"from": platform.address, "to": sent["to"], "data": sent["input"]}
    searched = dep.w3.eth.estimate_gas(before, receipt["blockNumber"] - 1)
    gas_used = receipt["gasUsed"] if isinstance(receipt["gasUsed"], int) else int(receipt["gasUsed"], 16)
    assert gas_used <= searched <= sent["gas"]
    assert sent["gas"] <= (searched + searched // 20) * 6 // 5 + 25_000  # one run: within 5 %, then the usual fifth


#: a contract that reverts unless 100,000 gas is left when it starts and then does nothing, as
#: PurchaseProofs makes sure its verifier gets all of VERIFY_GAS: it needs far more gas than it uses
#: (runtime `GAS PUSH3 100000 LT PUSH1 13 JUMPI PUSH1 0 DUP1 REVERT JUMPDEST STOP`, and the code that returns it)
NEEDS_MORE_THAN_IT_USES = "0x600f80600b6000396000f3" + "5a620186a010600d57600080fd5b00"


def test_a_call_that_needs_more_gas_than_it_uses_gets_the_nodes_estimate(deployment, asked):
    """The check at the gas the run used fails, so the node's search answers, and the transaction
    sent with it goes through."""
    dep, _ = deployment
    w3, me = dep.w3, dev_accounts(1)[0].address
    made = w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction({"from": me, "data": NEEDS_MORE_THAN_IT_USES}))
    tx = {"from": me, "to": made["contractAddress"], "data": "0x" + "00" * LARGE_CALLDATA}
    asked.clear()
    gas = estimate_gas(w3, tx)
    assert asked == ["eth_createAccessList", "eth_call", "eth_estimateGas"]
    assert gas == w3.eth.estimate_gas(tx) > 100_000
    sent = w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction({**tx, "gas": gas}))
    assert sent["status"] == 1 and sent["gasUsed"] < 50_000


def test_a_large_call_that_reverts_raises_the_contracts_error_as_a_small_one_does(deployment, members):
    dep, _ = deployment
    token = dep.contract("SettlementToken")
    poor = Sender(dep.w3, members["auditor"], dep.decoder())
    too_much = token.functions.transfer(members["merchant_b"].address, 10**30)
    errors = []
    for fn in (too_much, _Padded(too_much, 2 * LARGE_CALLDATA)):
        with pytest.raises(TransactionFailed) as refused:
            poor.transact(fn)
        errors.append(refused.value.error)
    assert errors == ["ERC20InsufficientBalance"] * 2


def test_a_small_write_keeps_the_nodes_estimate(deployment, members, asked):
    dep, _ = deployment
    fn = dep.contract("SettlementToken").functions.transfer(members["merchant_b"].address, 0)
    tx = {"from": members["auditor"].address, "to": fn.address, "data": fn._encode_transaction_data()}
    asked.clear()
    assert estimate_gas(connect(dep.w3.provider.endpoint_uri), tx) == dep.w3.eth.estimate_gas(tx)
    assert "eth_createAccessList" not in asked
