"""Stateful (hypothesis) tests: random sequences of actions never break the money and history
invariants.

- tokens held by the vault and the settlement contract always equal what they owe;
- no account ever takes out more than it was credited;
- the split of every settled order sums to its amount;
- a batch's history only grows, and its head is the fold of every recorded hash.
"""

from conftest import COOLDOWN, TIMEOUT, case_signatures
from eth_utils import keccak
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from ledger.money.orders.terms import Batch, OrderTerms, unpack_shares

# brownie's own `state_machine` fixture is a compiled class that cannot be subclassed here, so the
# machines are plain hypothesis RuleBasedStateMachines; each example starts from a chain snapshot.
SETTINGS = settings(max_examples=20, stateful_step_count=20, deadline=None, suppress_health_check=list(HealthCheck))


def run_machine(node, machine, **fixtures):
    chain = node
    chain.snapshot()

    class Machine(machine):
        def __init__(self):
            super().__init__()
            chain.revert()
            for k, v in fixtures.items():
                setattr(self, k, v)
            self.start()

    try:
        run_state_machine_as_test(Machine, settings=SETTINGS)
    finally:
        chain.revert()


amounts = st.integers(min_value=1, max_value=2_000_000)
bps = st.integers(min_value=0, max_value=1000)
picks = st.integers(min_value=0, max_value=2**16)
CAPS = [1000, 500, 300]


class MoneyMachine(RuleBasedStateMachine):
    """Deposits, cases, withdrawals, escrows, settlements, refunds and payouts in any order."""

    def start(self):
        self.credited = {}  # account -> total credited to it by the vault
        self.taken = {}  # account -> total the vault transferred out to it
        self.open_cases = []
        self.open_orders = []
        self.n_orders = 0
        self.escrowed = 0
        self.payees = [*self.merchants, *self.referrers, self.platform, self.treasury]

    def _add(self, book, who, amount):
        book[who.address] = book.get(who.address, 0) + amount

    @rule(pick=picks, amount=amounts)
    def deposit(self, pick, amount):
        m = self.merchants[pick % len(self.merchants)]
        self.vault.deposit(amount, {"from": m})
        self._add(self.credited, m, amount)

    @rule(pick=picks, amount=amounts)
    def request_and_withdraw(self, pick, amount):
        m = self.merchants[pick % len(self.merchants)]
        free = self.vault.available(m)
        if self.vault.accountOf(m)[3] != 0 or free == 0:
            return
        self.vault.requestWithdrawal(min(amount, free), {"from": m})
        self.chain.sleep(COOLDOWN)
        if self.vault.accountOf(m)[3] <= self.vault.available(m):
            self._add(self.taken, m, self.vault.withdraw({"from": m}).events["Withdrawn"]["amount"])
        else:
            self.vault.cancelWithdrawal({"from": m})

    @rule(pick=picks, amount=amounts)
    def open_case(self, pick, amount):
        m = self.merchants[pick % len(self.merchants)]
        balance, frozen = self.vault.accountOf(m)[:2]
        if balance == frozen:
            return
        tx = self.vault.openCase(m, self.buyer, min(amount, balance - frozen), {"from": self.arbiter})
        self.open_cases.append(tx.events["CaseOpened"]["caseId"])

    @rule(pick=picks, pay_out=st.booleans())
    def close_case(self, pick, pay_out):
        if not self.open_cases:
            return
        case_id = self.open_cases.pop(pick % len(self.open_cases))
        large = self.vault.cases(case_id)[1] > self.vault.caseRuling()[0]
        if pay_out or large:  # an award not by its opener: one other signs; a large case: two, either way
            signed = case_signatures(self.vault, case_id, pay_out, self.signing_arbiters[: 2 if large else 1])
            tx = self.vault.ruleCase(case_id, pay_out, signed, {"from": self.buyer})
        else:
            tx = self.vault.closeCase(case_id, pay_out, {"from": self.arbiter})
        if pay_out:
            self._add(self.credited, self.buyer, tx.events["CasePaidOut"]["amount"])

    @rule()
    def claim(self):
        if self.vault.claimable(self.buyer) > 0:
            self._add(self.taken, self.buyer, self.vault.claim({"from": self.buyer}).events["Claimed"]["amount"])

    @rule(pick=picks, amount=amounts, rates=st.lists(bps, min_size=0, max_size=3), fee=bps)
    def escrow(self, pick, amount, rates, fee):
        m = self.merchants[pick % len(self.merchants)]
        self.n_orders += 1
        rates = [min(r, CAPS[i]) for i, r in enumerate(rates)]
        t = OrderTerms(
            key=keccak(text=f"order-{self.n_orders}"),
            amount=amount,
            merchant=m.address,
            payer=self.platform.address,
            slot=self.n_orders,
            referrers=tuple(r.address for r in self.referrers[: len(rates)]),
            referral_bps=tuple(rates),
            platform_fee_bps=fee,
        )
        b = Batch.of([t])
        self.settlement.escrow(b.accounts, b.words, {"from": self.platform})
        self.open_orders.append(t)
        self.escrowed += amount

    @rule(pick=picks, confirm=st.booleans())
    def settle(self, pick, confirm):
        if not self.open_orders:
            return
        t = self.open_orders.pop(pick % len(self.open_orders))
        b = Batch.of([t])
        if confirm:
            self.settlement.confirmByPlatform(b.accounts, b.words, [b"\x01" * 32], {"from": self.platform})
        self.chain.sleep(TIMEOUT)
        tx = self.settlement.settle(b.accounts, b.words, {"from": self.buyer})
        got = unpack_shares(tx.events["OrderSettled"]["shares"])
        assert got["merchant_fen"] + sum(got["referral_fen"]) + got["platform_fee_fen"] == t.amount
        self.escrowed -= t.amount

    @rule(pick=picks)
    def refund(self, pick):
        if not self.open_orders:
            return
        t = self.open_orders.pop(pick % len(self.open_orders))
        b = Batch.of([t])
        tx = self.settlement.refund(b.accounts, b.words[0], b.words[1], t.amount, {"from": self.platform})
        assert tx.events["OrderRefunded"]["amount"] == t.amount
        self.escrowed -= t.amount

    @rule(pick=picks)
    def pull_payout(self, pick):
        who = self.payees[pick % len(self.payees)]
        owed = self.settlement.owed(who)
        if owed:
            assert self.settlement.withdraw({"from": who}).events["PayoutWithdrawn"]["amount"] == owed

    @invariant()
    def vault_holds_what_it_owes(self):
        owed = sum(self.vault.accountOf(m)[0] for m in self.merchants) + self.vault.claimable(self.buyer)
        assert self.token.balanceOf(self.vault) == owed

    @invariant()
    def vault_pays_out_no_more_than_credited(self):
        for who, amount in self.taken.items():
            assert amount <= self.credited.get(who, 0)

    @invariant()
    def settlement_holds_what_it_owes(self):
        owed = sum(self.settlement.owed(a) for a in self.payees)
        assert self.settlement.totalEscrowed() == self.escrowed
        assert self.settlement.totalOwed() == owed
        assert self.token.balanceOf(self.settlement) == self.escrowed + owed


def test_money_invariants(
    chain,
    funded,
    vault,
    settlement,
    merchant,
    merchant_b,
    platform,
    arbiter,
    signing_arbiters,
    referrers,
    buyer,
    treasury,
):
    for m in (merchant, merchant_b):
        funded.approve(vault, 2**256 - 1, {"from": m})
    funded.approve(settlement, 2**256 - 1, {"from": platform})
    run_machine(
        chain,
        MoneyMachine,
        chain=chain,
        token=funded,
        vault=vault,
        settlement=settlement,
        merchants=[merchant, merchant_b],
        platform=platform,
        arbiter=arbiter,
        signing_arbiters=signing_arbiters,
        referrers=list(referrers),
        buyer=buyer,
        treasury=treasury,
    )


class PayoutMachine(RuleBasedStateMachine):
    """What each payee has pulled plus what it is still owed always equals what the split rule,
    computed here independently, credited to it: nobody takes more than it was credited."""

    def start(self):
        self.expected = {}
        self.n = 0
        self.payees = [self.merchant, *self.referrers, self.platform, self.treasury]
        self.initial = {a.address: self.token.balanceOf(a) for a in self.payees}
        self.spent = 0  # paid into escrow by the platform, which is also a payee (of refunds)

    def _add(self, who, amount):
        self.expected[who.address] = self.expected.get(who.address, 0) + amount

    @rule(amount=amounts, rates=st.lists(bps, min_size=0, max_size=3), fee=bps, refund=st.booleans())
    def escrow_and_close(self, amount, rates, fee, refund):
        self.n += 1
        rates = [min(r, CAPS[i]) for i, r in enumerate(rates)]
        refs = list(self.referrers[: len(rates)])
        t = OrderTerms(
            key=keccak(text=f"p-{self.n}"),
            amount=amount,
            merchant=self.merchant.address,
            payer=self.platform.address,
            slot=1,  # one slot, reused by every order
            referrers=tuple(r.address for r in refs),
            referral_bps=tuple(rates),
            platform_fee_bps=fee,
        )
        b = Batch.of([t])
        self.s.escrow(b.accounts, b.words, {"from": self.platform})
        self.spent += amount
        if refund:
            self.s.refund(b.accounts, b.words[0], b.words[1], amount, {"from": self.platform})
            self._add(self.platform, amount)
            return
        self.s.confirmByPlatform(b.accounts, b.words, [b"\x01" * 32], {"from": self.platform})
        self.chain.sleep(7 * 24 * 3600)
        self.s.settle(b.accounts, b.words, {"from": self.buyer})
        shares = [amount * r // 10000 for r in rates]
        platform_fee = amount * fee // 10000
        for ref, share in zip(refs, shares, strict=True):
            self._add(ref, share)
        self._add(self.treasury, platform_fee)
        self._add(self.merchant, amount - sum(shares) - platform_fee)

    @rule(pick=picks)
    def pull(self, pick):
        who = self.payees[pick % len(self.payees)]
        if self.s.owed(who):
            self.s.withdraw({"from": who})

    @invariant()
    def owed_plus_pulled_equals_credited(self):
        for who in self.payees:
            pulled = self.token.balanceOf(who) - self.initial[who.address]
            if who == self.platform:
                pulled += self.spent
            assert self.s.owed(who) + pulled == self.expected.get(who.address, 0)


def test_payout_invariants(chain, funded, settlement, merchant, platform, referrers, buyer, treasury):
    funded.approve(settlement, 2**256 - 1, {"from": platform})
    run_machine(
        chain,
        PayoutMachine,
        chain=chain,
        s=settlement,
        merchant=merchant,
        platform=platform,
        referrers=list(referrers),
        buyer=buyer,
        treasury=treasury,
        token=funded,
    )


class HistoryMachine(RuleBasedStateMachine):
    """Any interleaving of recorders and batches: each batch's history only grows and its head
    is the fold of the hashes recorded into it, in order."""

    def start(self):
        self.history = {b: [] for b in self.batch_ids}

    @rule(pick=picks, data=st.binary(min_size=1, max_size=16))
    def record(self, pick, data):
        batch = self.batch_ids[pick % len(self.batch_ids)]
        who = self.recorders[(pick // 7) % len(self.recorders)]
        event_hash = keccak(data)
        self.p.recordEvent(batch, event_hash, {"from": who})
        self.history[batch].append(event_hash)

    @invariant()
    def history_only_grows(self):
        for batch, hashes in self.history.items():
            _, count, head, _ = self.p.batch(batch)
            assert count == len(hashes)
            expected = b"\x00" * 32
            for e in hashes:
                expected = keccak(expected + e)
            assert head == "0x" + expected.hex()


def test_history_invariants(chain, provenance, merchant, producer, logistics, inspector):
    gtin = 6901234567892
    provenance.registerProduct(gtin, {"from": merchant})
    for who in (producer, logistics, inspector):
        provenance.setRecorder(gtin, who, True, {"from": merchant})
    batch_ids = [
        str(provenance.registerBatch(gtin, lot, {"from": merchant}).events["BatchRegistered"]["batchId"])
        for lot in ("A", "B", "C")
    ]
    run_machine(
        chain, HistoryMachine, p=provenance, recorders=[merchant, producer, logistics, inspector], batch_ids=batch_ids
    )
