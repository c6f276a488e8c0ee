"""Stateful test of `OrderSettlement` on a real anvil node: at least 10,000 random steps (batched
escrows, deliveries by carrier and platform, partial and full refunds, disputes and rulings, batched
settlement, time passing, payouts pulled, and refused moves) against a model kept here. After every
step the contract holds exactly what it owes; after every run each payee's pulled-plus-owed equals
what the model credited it; every settled order's split sums to what remained of it; refused moves
move nothing.

Transactions are sent from anvil's unlocked accounts (no signing here), so a step costs a few
milliseconds; each run starts from a chain snapshot.
"""

from __future__ import annotations

import os
import random

import pytest
from eth_abi import encode as abi_encode
from eth_utils import keccak
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from web3.exceptions import ContractCustomError, ContractLogicError

from ledger.chain.client import Sender, connect, wait_for_receipt
from ledger.chain.deploy import deploy
from ledger.chain.governance import encode
from ledger.money.orders import settlement
from ledger.money.orders.terms import Batch, OrderTerms

RUNS, STEPS = int(os.environ.get("LEDGER_INVARIANT_RUNS", 50)), 200
MIN_STEPS = 10_000
WEEK, TIMEOUT = 7 * 24 * 3600, 14 * 24 * 3600
CAPS = (1000, 500, 300)


@pytest.fixture
def world(anvil_factory, tmp_path_factory, accounts):
    node = anvil_factory()
    dep, _ = deploy(connect(node.url), tmp_path_factory.mktemp("inv") / "deployment.json")
    m = {label: accounts[v["account_index"]] for label, v in dep.manifest["members"].items()}
    Sender(dep.w3, m["issuer"], dep.decoder()).transact(
        dep.contract("SettlementToken").functions.mint(m["platform"].address, 10**15)
    )
    g0, g1 = dep.sender(accounts[0]), dep.sender(accounts[1])
    gov = dep.contract("Governance")
    target, data = encode(dep, {"type": "set_ruling", "threshold_fen": 2**40, "quorum": 2})
    g0.transact(gov.functions.propose(target, data))
    g1.transact(gov.functions.approve(gov.functions.proposalCount().call()))
    return dep, m


def _reverts(fn, sender) -> bool:
    """The call is refused (simulated at the head of the chain: a refused move changes nothing)."""
    try:
        fn.call({"from": sender})
    except (ContractLogicError, ContractCustomError, ValueError):
        return True
    return False


AB, ABE = ["address[]", "uint256[]"], ["address[]", "uint256[]", "bytes32[]"]
ONE = ["address[]", "bytes32", "uint256"]  # accounts, key, packed word
FEES = {"gas": 3_000_000, "maxFeePerGas": 10**11, "maxPriorityFeePerGas": 0}  # no fee lookups per send


class SettlementMachine(RuleBasedStateMachine):
    def _send(self, fn, sender) -> dict:
        """Straight to the node (anvil mines at once): web3's transaction and receipt formatting
        would be most of a step's time."""
        tx = {
            "from": sender,
            "to": fn.address,
            "data": fn._encode_transaction_data(),
            "gas": hex(FEES["gas"]),
            "maxFeePerGas": hex(FEES["maxFeePerGas"]),
            "maxPriorityFeePerGas": "0x0",
        }
        answer = self.w3.provider.make_request("eth_sendTransaction", [tx])
        assert "result" in answer, answer
        receipt = wait_for_receipt(self.w3, bytes.fromhex(answer["result"][2:]), light=True)
        assert receipt["status"] == 1, fn.fn_name
        return receipt

    def __init__(self):
        super().__init__()
        self.w3 = self.dep.w3
        self.snap = self.w3.provider.make_request("evm_snapshot", [])["result"]
        self.s = self.dep.contract("OrderSettlement")
        self.token = self.dep.contract("SettlementToken")
        m = self.m
        self.platform = m["platform"].address
        self.merchants = [m["merchant_a"].address, m["merchant_b"].address]
        self.referrers = [m["producer"].address, m["inspector"].address, m["auditor"].address]
        self.carrier = m["logistics"].address
        self.treasury = self.s.functions.treasury().call()
        self.payees = sorted({*self.merchants, *self.referrers, self.platform, self.treasury})
        self.start_balance = {a: self.token.functions.balanceOf(a).call() for a in self.payees}
        self._send(self.token.functions.approve(self.s.address, 2**256 - 1), self.platform)
        self.open: list[dict] = []  # {"t": OrderTerms, "status", "refunded", "deadline"}
        self.credited = dict.fromkeys(self.payees, 0)
        self.spent = 0  # paid into escrow by the platform
        self.escrowed = 0
        self.n = 0
        self.slot = 0

    def teardown(self):
        for a in self.payees:
            pulled = self.token.functions.balanceOf(a).call() - self.start_balance[a]
            if a == self.platform:
                pulled += self.spent
            assert self.s.functions.owed(a).call() + pulled == self.credited[a], a
        self.w3.provider.make_request("evm_revert", [self.snap])

    def _now(self) -> int:
        return self.w3.eth.get_block("latest")["timestamp"]

    def _fn(self, name: str, types: list[str], *args):
        """A call of the settlement contract encoded with eth_abi (web3's per-call argument binding
        would be most of a step's time)."""
        return settlement._BatchCall(self.dep, name, types, list(args))

    def _uint(self, to: str, signature: str, types: list[str], args: list) -> int:
        data = "0x" + (keccak(text=signature)[:4] + abi_encode(types, args)).hex()
        return int(self.w3.provider.make_request("eth_call", [{"to": to, "data": data}, "latest"])["result"], 16)

    def _time(self, receipt) -> int:
        block = self.w3.provider.make_request("eth_getBlockByNumber", [hex(receipt["blockNumber"]), False])
        return int(block["result"]["timestamp"], 16)

    def _pick(self, r: random.Random, *statuses: str) -> dict | None:
        found = [o for o in self.open if o["status"] in statuses]
        return r.choice(found) if found else None

    def _credit(self, t: OrderTerms, amount: int, shares: dict) -> None:
        expected = t.split(amount)
        assert {k: shares[k] for k in expected} == expected
        assert shares["merchant_fen"] + sum(shares["referral_fen"]) + shares["platform_fee_fen"] == amount
        self.credited[t.merchant] += shares["merchant_fen"]
        for ref, x in zip(t.referrers, shares["referral_fen"], strict=False):
            self.credited[ref] += x
        self.credited[self.treasury] += shares["platform_fee_fen"]

    @rule(seed=st.integers(0, 2**32), n=st.integers(1, 4))
    def escrow(self, seed, n):
        r = random.Random(seed)
        orders = []
        for _ in range(n):
            self.n += 1
            free = [o for o in self.open if o["status"] in ("settled", "refunded")]
            if free and r.random() < 0.5:  # reuse a freed slot
                slot = free[0]["t"].slot
                self.open.remove(free[0])
            else:
                self.slot += 1
                slot = self.slot
            levels = r.randint(0, 3)
            t = OrderTerms(
                key=r.randbytes(32),
                amount=r.randint(1, 10**7),
                merchant=r.choice(self.merchants),
                payer=self.platform,
                slot=slot,
                referrers=tuple(self.referrers[:levels]),
                referral_bps=tuple(r.randint(0, CAPS[i]) for i in range(levels)),
                platform_fee_bps=r.randint(0, 1000),
                carrier=self.carrier if r.random() < 0.5 else None,
            )
            orders.append(t)
        b = Batch.of(orders)
        receipt = self._send(self._fn("escrow", AB, b.accounts, b.words), self.platform)
        deadline = self._time(receipt) + TIMEOUT
        for t in orders:
            self.open.append({"t": t, "status": "escrowed", "refunded": 0, "deadline": deadline})
            self.escrowed += t.amount
            self.spent += t.amount

    @rule(seed=st.integers(0, 2**32))
    def deliver(self, seed):
        o = self._pick(random.Random(seed), "escrowed")
        if o is None:
            return
        b = Batch.of([o["t"]])
        if o["t"].carrier:
            assert _reverts(self._fn("confirmByPlatform", ABE, b.accounts, b.words, [b"\0" * 32]), self.platform)
            receipt = self._send(self._fn("confirmDeliveries", ABE, b.accounts, b.words, [b"\1" * 32]), self.carrier)
        else:
            receipt = self._send(self._fn("confirmByPlatform", ABE, b.accounts, b.words, [b"\0" * 32]), self.platform)
        o["status"], o["deadline"] = "delivered", self._time(receipt) + WEEK
        # a second confirmation is refused
        assert _reverts(self._fn("confirmByPlatform", ABE, b.accounts, b.words, [b"\0" * 32]), self.platform)

    @rule(seed=st.integers(0, 2**32), full=st.booleans())
    def refund(self, seed, full):
        r = random.Random(seed)
        o = self._pick(r, "escrowed", "delivered")
        if o is None:
            return
        t, remaining = o["t"], o["t"].amount - o["refunded"]
        args = settlement._one(t)
        if o["status"] == "delivered" and self._now() >= o["deadline"]:
            assert _reverts(self._fn("refund", ONE + ["uint256"], *args, 1), self.platform)
            return
        assert _reverts(self._fn("refund", ONE + ["uint256"], *args, remaining + 1), self.platform)
        amount = remaining if full else r.randint(1, remaining)
        who = t.merchant if r.random() < 0.5 else self.platform
        self._send(self._fn("refund", ONE + ["uint256"], *args, amount), who)
        o["refunded"] += amount
        self.credited[self.platform] += amount
        self.escrowed -= amount
        if amount == remaining:
            o["status"] = "refunded"

    @rule(seed=st.integers(0, 2**32))
    def dispute(self, seed):
        o = self._pick(random.Random(seed), "delivered")
        if o is None:
            return
        args = settlement._one(o["t"])
        if self._now() >= o["deadline"]:
            assert _reverts(self._fn("dispute", ONE, *args), self.platform)
            return
        self._send(self._fn("dispute", ONE, *args), self.platform)
        o["status"] = "disputed"

    @rule(seed=st.integers(0, 2**32))
    def rule_on_dispute(self, seed):
        r = random.Random(seed)
        o = self._pick(r, "disputed")
        if o is None:
            return
        t = o["t"]
        remaining = t.amount - o["refunded"]
        refund = r.choice([0, remaining, r.randint(0, remaining)])
        sig = settlement.sign_ruling(self.dep, bytes(self.m["arbiter"].key), t.key, t.payer, refund, t.slot)
        receipt = self._send(
            self._fn("rule", ONE + ["uint256", "bytes[]"], *settlement._one(t), refund, [sig]), self.platform
        )
        self.credited[self.platform] += refund
        self.escrowed -= remaining
        rest = remaining - refund
        if rest:
            (shares,) = settlement.settlements_of(self.dep, receipt, {t.key: len(t.referrers)}).values()
            self._credit(t, rest, shares)
        o["status"] = "settled" if rest else "refunded"

    @rule(seed=st.integers(0, 2**32), k=st.integers(1, 6))
    def settle(self, seed, k):
        r = random.Random(seed)
        if not self.open:
            return
        chosen = r.sample(self.open, min(k, len(self.open)))
        b = Batch.of([o["t"] for o in chosen])
        receipt = self._send(self._fn("settle", AB, b.accounts, b.words), r.choice(self.payees))
        splits = settlement.settlements_of(self.dep, receipt, {o["t"].key: len(o["t"].referrers) for o in chosen})
        now = self._time(receipt)
        for o in chosen:
            due = o["status"] in ("escrowed", "delivered") and now >= o["deadline"]
            assert (o["t"].key in splits) == due, (o["status"], now, o["deadline"])
            if due:
                remaining = o["t"].amount - o["refunded"]
                self._credit(o["t"], remaining, splits[o["t"].key])
                self.escrowed -= remaining
                o["status"] = "settled"

    @rule(days=st.integers(0, 16))
    def time_passes(self, days):
        self.w3.provider.make_request("evm_increaseTime", [days * 24 * 3600 + 1])
        self.w3.provider.make_request("evm_mine", [])

    @rule(pick=st.integers(0, 100))
    def pull(self, pick):
        who = self.payees[pick % len(self.payees)]
        if self._uint(self.s.address, "owed(address)", ["address"], [who]):
            self._send(self._fn("withdraw", []), who)
        else:
            assert _reverts(self._fn("withdraw", []), who)

    steps = 0

    @invariant()
    def holds_exactly_what_it_owes(self):
        SettlementMachine.steps += 1
        escrowed = self._uint(self.s.address, "totalEscrowed()", [], [])
        owed = self._uint(self.s.address, "totalOwed()", [], [])
        held = self._uint(self.token.address, "balanceOf(address)", ["address"], [self.s.address])
        assert escrowed == self.escrowed
        assert held == escrowed + owed


def _walk(machine: SettlementMachine, r: random.Random, steps: int) -> None:
    """`steps` rules chosen at random with random arguments, the invariant checked after each."""
    moves = [
        lambda: machine.escrow(seed=r.getrandbits(32), n=r.randint(1, 4)),
        lambda: machine.deliver(seed=r.getrandbits(32)),
        lambda: machine.deliver(seed=r.getrandbits(32)),
        lambda: machine.refund(seed=r.getrandbits(32), full=r.random() < 0.3),
        lambda: machine.dispute(seed=r.getrandbits(32)),
        lambda: machine.rule_on_dispute(seed=r.getrandbits(32)),
        lambda: machine.settle(seed=r.getrandbits(32), k=r.randint(1, 6)),
        lambda: machine.time_passes(days=r.randint(0, 16)),
        lambda: machine.pull(pick=r.randint(0, 100)),
    ]
    for _ in range(steps):
        r.choice(moves)()
        machine.holds_exactly_what_it_owes()


def test_ten_thousand_random_steps_keep_the_money_invariants(world):
    """A seeded random walk of RUNS x STEPS steps (the seed is printed; LEDGER_INVARIANT_SEED
    replays it), then hypothesis's own search, which shrinks any failure to its shortest form."""
    dep, m = world
    SettlementMachine.dep, SettlementMachine.m = dep, m
    seed = int(os.environ.get("LEDGER_INVARIANT_SEED", random.SystemRandom().getrandbits(32)))
    print(f"settlement invariants: seed {seed}, {RUNS} runs of {STEPS} steps")
    r = random.Random(seed)
    for _ in range(RUNS):
        machine = SettlementMachine()
        _walk(machine, r, STEPS)
        machine.teardown()
    assert SettlementMachine.steps >= MIN_STEPS * RUNS // 50
    run_state_machine_as_test(
        SettlementMachine,
        settings=settings(
            max_examples=20,
            stateful_step_count=50,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        ),
    )
