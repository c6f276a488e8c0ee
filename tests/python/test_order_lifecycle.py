"""Orders as social e-commerce lives them, through the API on a real anvil deployment: delivery
confirmed by the carrier's EPCIS capture, the return window, partial refunds, disputes ruled by
arbiters' own signatures (k of n above the threshold), batches, the auditor's key opening, and no
order number or shopper id anywhere on chain."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import time

import pytest
from eth_account import Account
from eth_utils import keccak

from ledger.chain.client import Sender
from ledger.money.orders import settlement
from ledger.trace.epcis.samples import CONTEXT, delivery_document

from .helpers import captured_delivery, delivery_doc, govern, login, orders_client, ruling_signature

WEEK = 7 * 24 * 3600
_ids = itertools.count(1)
SHOPPERS: list[str] = []
ORDER_IDS: list[str] = []


def oid() -> str:
    o = f"SO{int(time.time() * 1000)}{next(_ids)}"
    ORDER_IDS.append(o)
    return o


@pytest.fixture(scope="module")
def api(deployment, chain_node, tmp_path_factory, members):
    who = ("platform", "merchant_a", "merchant_b", "auditor", "arbiter", "producer", "logistics")
    return orders_client(deployment, chain_node, tmp_path_factory.mktemp("lifecycle"), members, who)


def later(dep, seconds: int) -> None:
    dep.w3.provider.make_request("evm_increaseTime", [seconds])
    dep.w3.provider.make_request("evm_mine", [])


def escrow(c, h, members, amount=50_000, carrier="logistics", refs=("producer",), merchant="merchant_a"):
    shopper = f"shopper-{oid()}"
    SHOPPERS.append(shopper)
    body = {
        "order_id": oid(),
        "merchant": members[merchant].address,
        "amount_fen": amount,
        "referrers": [members[r].address for r in refs],
        "shopper_id": shopper,
    }
    if carrier:
        body["carrier"] = members[carrier].address
    r = c.post("/v1/orders", json=body, headers={**h["platform"], "Idempotency-Key": body["order_id"]})
    assert r.status_code == 201, r.text
    return r.json()


def test_capturing_the_carriers_delivery_event_confirms_delivery(api, members):
    c, h, dep = api
    o = escrow(c, h, members)
    # the same event from someone who is not the order's carrier confirms nothing
    r = c.post("/v1/epcis/capture", json=delivery_doc(o["order_id"], "shipping"), headers=h["logistics"])
    assert r.status_code == 201 and "deliveries" not in r.json()
    r = c.post("/v1/epcis/capture", json=delivery_doc(o["order_id"]), headers=h["producer"])
    assert r.status_code == 201 and "deliveries" not in r.json()
    r = c.post("/v1/epcis/capture", json=delivery_doc(o["order_id"], "accepting"), headers=h["logistics"])
    assert r.status_code == 201, r.text
    (d,) = r.json()["deliveries"]
    hid = r.json()["events"][0]["hashId"]
    assert d == {"order_id": o["order_id"], "hashId": hid, "status": "delivered"}
    got = c.get(f"/v1/orders/{o['order_id']}", headers=h["logistics"]).json()
    assert got["status"] == "delivered" and got["delivery_event"] == hid
    assert [x["status"] for x in got["history"]] == ["escrowed", "delivered"]
    log = dep.contract("OrderSettlement").events.OrderDelivered().get_logs(from_block=0)
    assert ("0x" + bytes(log[-1]["args"]["epcisEvent"]).hex())[2:] in hid
    # a second confirmation, by capture or by call, changes nothing
    again = c.post("/v1/epcis/capture", json=delivery_doc(o["order_id"], "accepting"), headers=h["logistics"])
    assert again.status_code == 200 and "deliveries" not in again.json()
    r = c.post(
        "/v1/orders/deliveries",
        json={"deliveries": [{"order_id": o["order_id"], "epcis_event": hid}]},
        headers=h["logistics"],
    )
    assert r.status_code == 409


def test_the_binding_capture_confirms_delivery_as_v1_does(api, members):
    """The same carrier's event through the EPCIS 2.0 binding (`POST /epcis/capture`, a job, and
    `POST /epcis/events`, one event) confirms the order's delivery on chain (ledger.flows)."""
    c, h, dep = api
    for path, doc in (
        ("/epcis/capture", lambda o, step: delivery_doc(o, step)),
        ("/epcis/events", lambda o, step: {"@context": CONTEXT} | delivery_doc(o, step)["epcisBody"]["eventList"][0]),
    ):
        o = escrow(c, h, members)
        r = c.post(path, json=doc(o["order_id"], "receiving"), headers=h["producer"])  # not its carrier
        assert r.status_code in (201, 202), r.text
        assert c.get(f"/v1/orders/{o['order_id']}", headers=h["logistics"]).json()["status"] == "escrowed"
        r = c.post(path, json=doc(o["order_id"], "accepting"), headers=h["logistics"])
        assert r.status_code in (201, 202), r.text
        got = c.get(f"/v1/orders/{o['order_id']}", headers=h["logistics"]).json()
        assert got["status"] == "delivered", (path, got)
        assert [x["status"] for x in got["history"]] == ["escrowed", "delivered"]
        log = dep.contract("OrderSettlement").events.OrderDelivered().get_logs(from_block=0)
        assert ("0x" + bytes(log[-1]["args"]["epcisEvent"]).hex())[2:] in got["delivery_event"]


def test_carrier_checks(api, members):
    c, h, _ = api
    none = escrow(c, h, members, carrier=None)
    ev = captured_delivery(c, h["logistics"])
    r = c.post(
        "/v1/orders/deliveries",
        json={"deliveries": [{"order_id": none["order_id"], "epcis_event": ev}]},
        headers=h["logistics"],
    )
    assert r.status_code == 403 and "another carrier" in r.json()["detail"]
    r = c.post(
        "/v1/orders/deliveries",
        json={"deliveries": [{"order_id": none["order_id"], "epcis_event": "nope"}]},
        headers=h["logistics"],
    )
    assert r.status_code == 422
    assert (
        c.post(
            f"/v1/orders/{none['order_id']}/carrier",
            json={"carrier": members["merchant_b"].address},
            headers=h["platform"],
        ).json()["error"]
        == "NotACarrier"
    )
    r = c.post(
        f"/v1/orders/{none['order_id']}/carrier", json={"carrier": members["logistics"].address}, headers=h["platform"]
    )
    assert r.status_code == 200 and r.json()["carrier"] == members["logistics"].address
    assert c.post(f"/v1/orders/{none['order_id']}/confirm", headers=h["platform"]).status_code == 409
    # all zeros is the platform's own "no event": a carrier's delivery names the event it captured
    for zero in ("0x" + "00" * 32, "ni:///sha-256;" + "0" * 64):
        r = c.post(
            "/v1/orders/deliveries",
            json={"deliveries": [{"order_id": none["order_id"], "epcis_event": zero}]},
            headers=h["logistics"],
        )
        assert r.status_code == 422 and "names no EPCIS event" in r.text, r.text
    r = c.post(
        "/v1/orders/deliveries",
        json={"deliveries": [{"order_id": none["order_id"], "epcis_event": ev}]},
        headers=h["logistics"],
    )
    assert r.status_code == 200 and r.json()[0]["status"] == "delivered"


def test_a_delivery_names_an_event_captured_here_that_shows_it(api, members):
    """A carrier's delivery names a delivery event (receiving or accepting) stored here, recorded by
    the order's carrier or merchant, not declared erroneous, naming this order if it names orders:
    a hash nobody captured would open the return window that pays the merchant with no record
    behind it. Each refusal is a 4xx before anything is sent; the order stays escrowed."""
    c, h, dep = api
    o = escrow(c, h, members)
    other = escrow(c, h, members)
    sent = dep.w3.eth.get_transaction_count(members["logistics"].address)

    def deliver(event):  # type: ignore[no-untyped-def]
        return c.post(
            "/v1/orders/deliveries",
            json={"deliveries": [{"order_id": o["order_id"], "epcis_event": event}]},
            headers=h["logistics"],
        )

    r = deliver("0x" + os.urandom(32).hex())  # invented: no event has this hash ID
    assert r.status_code == 422 and "capture the delivery event first" in r.json()["detail"], r.text
    shipped = c.post("/v1/epcis/capture", json=delivery_document([("desadv", "D-1")], "SHIP01", "shipping"),
                     headers=h["logistics"]).json()["events"][0]["hashId"]  # fmt: skip
    r = deliver(shipped)
    assert r.status_code == 422 and "not a delivery" in r.json()["detail"], r.text
    by_producer = captured_delivery(c, h["producer"])  # neither the order's carrier nor its merchant
    r = deliver(by_producer)
    assert r.status_code == 403 and "recorded by another member" in r.json()["detail"], r.text
    # names another order of ours (capturing it delivered that one): not this order's evidence
    doc = delivery_doc(other["order_id"])
    named_other = c.post("/v1/epcis/capture", json=doc, headers=h["logistics"]).json()["events"][0]["hashId"]
    r = deliver(named_other)
    assert r.status_code == 422 and "names other orders" in r.json()["detail"], r.text
    # declared erroneous by its recorder (EPCIS 2.0 7.4.1.2)
    wrong = delivery_document([("desadv", "D-2")], "WRONG1")
    c.post("/v1/epcis/capture", json=wrong, headers=h["logistics"])
    wrong["epcisBody"]["eventList"][0]["errorDeclaration"] = {
        "declarationTime": "2026-12-01T11:00:00+08:00", "reason": "incorrect_data"}  # fmt: skip
    declared = c.post("/v1/epcis/capture", json=wrong, headers=h["logistics"]).json()["events"][0]["hashId"]
    r = deliver(declared)
    assert r.status_code == 422 and "declared erroneous" in r.json()["detail"], r.text
    assert c.get(f"/v1/orders/{o['order_id']}", headers=h["logistics"]).json()["status"] == "escrowed"
    # the captures above sent the other order's delivery (one transaction) and nothing for this one
    assert dep.w3.eth.get_transaction_count(members["logistics"].address) == sent + 1
    # an event naming a despatch advice and no order of ours: the carrier picks the order
    r = deliver(captured_delivery(c, h["logistics"]))
    assert r.status_code == 200 and r.json()[0]["status"] == "delivered", r.text


def test_refunds_within_the_window(api, members):
    c, h, dep = api
    o = escrow(c, h, members, amount=100_000, carrier=None, refs=("producer", "logistics"))
    path = f"/v1/orders/{o['order_id']}/refund"
    assert c.post(path, json={"amount_fen": 1}, headers=h["merchant_b"]).status_code == 404  # not hers to see
    r = c.post(path, json={"amount_fen": 100_001}, headers=h["merchant_a"])
    assert r.status_code == 422 and "what remains" in r.json()["detail"]
    assert c.post(path, json={"amount_fen": 20_000}, headers=h["merchant_a"]).json()["refunded_fen"] == 20_000
    c.post(f"/v1/orders/{o['order_id']}/confirm", headers=h["platform"])
    assert c.post(path, json={"amount_fen": 10_000}, headers=h["platform"]).json()["refunded_fen"] == 30_000
    later(dep, WEEK + 1)
    r = c.post(path, json={"amount_fen": 1}, headers=h["platform"])
    assert r.status_code == 409 and "window closed" in r.json()["detail"]
    (done,) = c.post("/v1/orders/settle", json={"order_ids": [o["order_id"]]}, headers=h["merchant_a"]).json()[
        "settled"
    ]
    s = done["settlement"]
    assert s["referral_fen"] == [70_000 * 500 // 10_000, 70_000 * 200 // 10_000]  # on what remained only
    assert s["merchant_fen"] + sum(s["referral_fen"]) + s["platform_fee_fen"] == 70_000


def test_concurrent_partial_refunds_are_each_recorded_once(api, members):
    """20 refunds of a tenth at once: the chain takes ten, one after the other, and refuses the rest.
    Each step had read the order before the others wrote: the chain refunded it all while the order
    said one refund and "escrowed" (outside probe). Each now takes the order's turn."""
    from concurrent.futures import ThreadPoolExecutor

    c, h, _ = api
    o = escrow(c, h, members, amount=10_000, carrier=None, refs=())
    path = f"/v1/orders/{o['order_id']}/refund"
    who = [h["merchant_a"], h["platform"]] * 10
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda head: c.post(path, json={"amount_fen": 1_000}, headers=head), who))
    # the rest refused: by the chain (409), or by what the order has left (422)
    assert all(r.status_code in (200, 409, 422) for r in answers), [(r.status_code, r.text[:100]) for r in answers]
    took = sum(r.status_code == 200 for r in answers)
    now = c.get(f"/v1/orders/{o['order_id']}", headers=h["platform"]).json()
    refunds = [x for x in now["history"] if "refund_fen" in x]
    assert took == 10 and now["refunded_fen"] == 10_000 and len(refunds) == 10, (took, now)
    assert now["status"] == "refunded" and now["close_tx"], now  # as the chain has it: all of it refunded


def test_a_batch_delivery_racing_refunds_keeps_every_step(api, members):
    """A carrier's batch delivery and partial refunds of the same orders, all at once: each order
    keeps its delivery and every refund the chain took (the batch wrote rows it had read before the
    refunds wrote theirs, or a refund hid the delivery). Batches now write under the orders' turns."""
    from concurrent.futures import ThreadPoolExecutor

    c, h, _ = api
    ids = [escrow(c, h, members, amount=10_000, refs=())["order_id"] for _ in range(8)]
    ev = captured_delivery(c, h["logistics"])
    batch = {"deliveries": [{"order_id": i, "epcis_event": ev} for i in ids]}

    def act(step):
        if step is None:
            return c.post("/v1/orders/deliveries", json=batch, headers=h["logistics"])
        return c.post(f"/v1/orders/{step}/refund", json={"amount_fen": 1_000}, headers=h["platform"])

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(act, [ids[0], ids[1], None, *ids[2:], *ids]))
    assert answers[2].status_code == 200, answers[2].text
    took = [r.json()["order_id"] for r in answers if r.status_code == 200 and "order_id" in r.json()]
    assert all(r.status_code in (200, 409) for r in answers), [(r.status_code, r.text[:120]) for r in answers]
    for i in ids:
        now = c.get(f"/v1/orders/{i}", headers=h["platform"]).json()
        delivered = [x for x in now["history"] if "window_ends_at" in x]  # a refund's entry names the status then
        refunds = [x for x in now["history"] if "refund_fen" in x]
        assert len(delivered) == 1 and now["status"] == "delivered", now
        assert len(refunds) == took.count(i) and now["refunded_fen"] == 1_000 * took.count(i), (took.count(i), now)
        # listed in chain order, whichever was written first
        positions = [(x["block"], x["tx_index"]) for x in now["history"]]
        assert positions == sorted(positions), now["history"]


def test_a_step_written_after_a_later_one_is_listed_in_chain_order():
    """A delivery mined before a refund but written after it (the batch waited for the orders'
    turns) goes before the refund in the history, and an entry with no position stays put."""
    from ledger.money.orders.lifecycle import log_step
    from ledger.store.models import Order

    o = Order(history="[]", status="escrowed")
    log_step(o, "escrowed", "0xe", {"blockNumber": 10, "transactionIndex": 0})
    log_step(o, "escrowed", "0xr", {"blockNumber": 14, "transactionIndex": 1}, refund_fen=100)
    log_step(o, "delivered", "0xd", {"blockNumber": 14, "transactionIndex": 0})
    assert [x["tx"] for x in json.loads(o.history)] == ["0xe", "0xd", "0xr"]
    log_step(o, "settled", "0xold")  # no receipt (an earlier attempt's): last, and a barrier after that
    log_step(o, "refunded", "0xz", {"blockNumber": 12, "transactionIndex": 0})
    assert [x["tx"] for x in json.loads(o.history)] == ["0xe", "0xd", "0xr", "0xold", "0xz"]


def test_two_settlements_at_once_record_each_order_once(api, members):
    c, h, dep = api
    ids = [escrow(c, h, members, amount=5_000, carrier=None, refs=())["order_id"] for _ in range(4)]
    for i in ids:
        assert c.post(f"/v1/orders/{i}/confirm", headers=h["platform"]).status_code == 200
    later(dep, WEEK + 1)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda head: c.post("/v1/orders/settle", json={"order_ids": ids}, headers=head),
                                (h["platform"], h["merchant_a"])))  # fmt: skip
    assert all(r.status_code == 200 for r in answers), [r.text for r in answers]
    reported = [s["order_id"] for r in answers for s in r.json()["settled"]]
    assert sorted(reported) == sorted(ids), reported  # each order settled in one answer, not both
    for i in ids:
        now = c.get(f"/v1/orders/{i}", headers=h["platform"]).json()
        assert [x["status"] for x in now["history"]].count("settled") == 1 and now["status"] == "settled", now


def test_settling_names_only_the_callers_orders(api, members):
    """Outside probe: any member settling named another's order was told its status, due date
    and split, and an unknown id answered differently (orders could be enumerated). Anyone may
    still settle what is due; the answer names only what the caller may see."""
    c, h, dep = api
    theirs = escrow(c, h, members, amount=5_000, carrier=None, refs=())["order_id"]
    assert c.post(f"/v1/orders/{theirs}/confirm", headers=h["platform"]).status_code == 200
    hidden = c.post("/v1/orders/settle", json={"order_ids": [theirs]}, headers=h["merchant_b"])
    unknown = c.post("/v1/orders/settle", json={"order_ids": ["NO-SUCH-ORDER"]}, headers=h["merchant_b"])
    assert hidden.status_code == unknown.status_code == 404, (hidden.text, unknown.text)
    assert hidden.json()["detail"].replace(theirs, "X") == unknown.json()["detail"].replace("NO-SUCH-ORDER", "X")
    later(dep, WEEK + 1)
    r = c.post("/v1/orders/settle", json={"due": True}, headers=h["merchant_b"])
    assert r.status_code == 200, r.text
    named = [x["order_id"] for x in r.json()["settled"] + r.json()["skipped"]]
    assert theirs not in named and r.json()["others_settled"] >= 1, r.json()
    assert c.get(f"/v1/orders/{theirs}", headers=h["platform"]).json()["status"] == "settled"


def test_disputes_and_rulings(api, members, deployment, accounts):
    c, h, dep = api
    small = escrow(c, h, members, amount=80_000, carrier=None)
    big = escrow(c, h, members, amount=300_000, carrier=None)
    for o in (small, big):
        assert c.post(f"/v1/orders/{o['order_id']}/dispute", json={}, headers=h["platform"]).status_code == 409
        c.post(f"/v1/orders/{o['order_id']}/confirm", headers=h["platform"])
        assert c.post(f"/v1/orders/{o['order_id']}/dispute", json={}, headers=h["merchant_a"]).status_code == 403
        r = c.post(f"/v1/orders/{o['order_id']}/dispute", json={"reason": "damaged"}, headers=h["platform"])
        assert r.status_code == 200 and r.json()["status"] == "disputed"
    later(dep, WEEK + 1)
    r = c.post("/v1/orders/settle", json={"order_ids": [small["order_id"], big["order_id"]]}, headers=h["platform"])
    assert r.json()["settled"] == [] and {s["status"] for s in r.json()["skipped"]} == {"disputed"}

    arbiter = members["arbiter"]
    todo = c.get(f"/v1/orders/{small['order_id']}/ruling", params={"refund_fen": 30_000}, headers=h["arbiter"]).json()
    assert todo["signatures_needed"] == 1 and todo["typed_data"]["message"]["refund"] == 30_000
    # more than remains: not offered to sign, nor its signature kept (both were, outside probe)
    ruling, cosign = (f"/v1/orders/{small['order_id']}/{step}" for step in ("ruling", "cosignatures"))
    assert c.get(ruling, params={"refund_fen": 80_001}, headers=h["arbiter"]).status_code == 422
    over = {"refund_fen": 80_001, "signature": ruling_signature(c, dep, arbiter, small, 80_001)}
    assert c.post(cosign, json=over, headers=h["arbiter"]).status_code == 422
    for junk in ("0x" + "ff" * 65, "0x" + "00" * 65):  # not signatures at all: a clear 422, nothing moved
        r = c.post(
            f"/v1/orders/{small['order_id']}/ruling",
            json={"refund_fen": 1, "signatures": [junk]},
            headers=h["platform"],
        )
        assert r.status_code == 422 and "signatures.0" in r.json()["detail"], r.text
    # refund_fen is a JSON integer, as every amount_fen: true, "5000" and 1e3 were taken as 1, 5000, 1000
    sig = ruling_signature(c, dep, arbiter, small, 1)
    rest = {"ruling": {"signatures": [sig]}, "cosignatures": {"signature": sig}}
    for step, fields in rest.items():
        for bad in ("true", '"5000"', "1e3", "1.0"):
            body = '{"refund_fen": ' + bad + ", " + json.dumps(fields)[1:]  # the bad value as it is written
            r = c.post(
                f"/v1/orders/{small['order_id']}/{step}",
                content=body,
                headers={**h["arbiter"], "content-type": "application/json"},
            )
            assert r.status_code == 422 and r.json()["detail"][0]["field"] == "body.refund_fen", (step, bad, r.text)
    stranger = Account.create()
    r = c.post(
        f"/v1/orders/{small['order_id']}/ruling",
        json={"refund_fen": 30_000, "signatures": [ruling_signature(c, dep, stranger, small, 30_000)]},
        headers=h["platform"],
    )
    assert r.status_code == 403 and r.json()["error"] == "NotAnArbiter"
    r = c.post(
        f"/v1/orders/{small['order_id']}/ruling",
        json={"refund_fen": 30_000, "signatures": [ruling_signature(c, dep, arbiter, small, 30_000)]},
        headers=h["arbiter"],
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "settled" and r.json()["refunded_fen"] == 30_000
    s = r.json()["settlement"]
    assert s["merchant_fen"] + sum(s["referral_fen"]) + s["platform_fee_fen"] == 50_000

    # above the threshold: two arbiters, each with a key of its own
    second = Account.create()
    govern(deployment, accounts, dep.contract("Membership").functions.admit(second.address, 1 << 6))
    assert (
        c.get(f"/v1/orders/{big['order_id']}/ruling", params={"refund_fen": 0}, headers=h["auditor"]).json()[
            "signatures_needed"
        ]
        == 2
    )
    one = [ruling_signature(c, dep, arbiter, big, 0)]
    r = c.post(f"/v1/orders/{big['order_id']}/ruling", json={"refund_fen": 0, "signatures": one}, headers=h["platform"])
    assert r.status_code == 422 and r.json()["error"] == "TooFewSignatures"
    # the arbiters' signatures collected across their browsers: each leaves its own, checked
    cosign = f"/v1/orders/{big['order_id']}/cosignatures"
    theirs = {"refund_fen": 0, "signature": ruling_signature(c, dep, second, big, 0)}
    assert c.post(cosign, json=theirs, headers=h["arbiter"]).status_code == 403  # not the arbiter's own
    assert c.post(cosign, json=theirs, headers=h["platform"]).status_code == 403  # not an arbiter
    mine = {"refund_fen": 0, "signature": one[0]}
    assert c.post(cosign, json=mine | {"signature": "0x" + "ff" * 65}, headers=h["arbiter"]).status_code == 422
    assert len(c.post(cosign, json=mine, headers=h["arbiter"]).json()) == 1
    assert [x["signer"] for x in c.post(cosign, json=theirs, headers=login(c, second)).json()] == [
        arbiter.address,
        second.address,
    ]
    assert c.post(cosign, json=mine | {"refund_fen": 1}, headers=h["arbiter"]).status_code == 403  # another ruling
    todo = c.get(f"/v1/orders/{big['order_id']}/ruling", params={"refund_fen": 0}, headers=h["arbiter"]).json()
    both = [x["signature"] for x in todo["collected"]]
    assert (
        len(both) == 2
        and c.get(f"/v1/orders/{big['order_id']}/ruling", params={"refund_fen": 1}, headers=h["arbiter"]).json()[
            "collected"
        ]
        == []
    )
    r = c.post(
        f"/v1/orders/{big['order_id']}/ruling", json={"refund_fen": 0, "signatures": both}, headers=h["platform"]
    )
    assert r.status_code == 200 and r.json()["status"] == "settled" and r.json()["refunded_fen"] == 0
    assert c.post(cosign, json=mine, headers=h["arbiter"]).status_code == 409  # ruled: no more signatures


def test_batches_and_the_auditors_key_opening(api, members):
    c, h, _ = api
    body = {
        "orders": [
            {"order_id": oid(), "merchant": members["merchant_a"].address, "amount_fen": 1_000 + i} for i in range(25)
        ]
    }
    r = c.post(
        "/v1/orders/batch", json=body, headers={**h["platform"], "Idempotency-Key": body["orders"][0]["order_id"]}
    )
    assert r.status_code == 201, r.text
    rows = r.json()["orders"]
    assert len({o["escrow_tx"] for o in rows}) == 1 and len(rows) == 25
    dup = c.post("/v1/orders/batch", json=body, headers={**h["platform"], "Idempotency-Key": "other"})
    assert dup.status_code == 409
    o = rows[0]
    assert c.get(f"/v1/audit/orders/{o['order_id']}/key", headers=h["merchant_a"]).status_code == 403
    opening = c.get(f"/v1/audit/orders/{o['order_id']}/key", headers=h["auditor"]).json()
    assert "0x" + keccak(o["order_id"].encode() + bytes.fromhex(opening["salt"][2:])).hex() == o["order_key"]


def test_no_order_number_or_shopper_on_chain(api, members):
    """Runs last in this module: every transaction's calldata and every log since genesis is
    searched for the order numbers and shopper ids used above, in their obvious encodings."""
    _, _, dep = api
    assert len(ORDER_IDS) > 30 and SHOPPERS
    needles = set()
    for text in ORDER_IDS + SHOPPERS:
        raw = text.encode()
        needles |= {raw, raw.hex().encode(), keccak(raw), hashlib.sha256(raw).digest()}
    w3 = dep.w3
    blobs = []
    for n in range(w3.eth.block_number + 1):
        for tx in w3.eth.get_block(n, full_transactions=True)["transactions"]:
            blobs.append(bytes(tx["input"]))
    for log in w3.eth.get_logs({"fromBlock": 0, "toBlock": "latest"}):
        blobs.append(b"".join(bytes(t) for t in log["topics"]) + bytes(log["data"]))
    assert len(blobs) > 100
    hits = [(i, n) for i, blob in enumerate(blobs) for n in needles if n in blob]
    assert hits == []


def test_one_refund_transaction_answers_for_one_refund_whichever_path_sent_it(api, members):
    """A merchant's refund sent through the gateway cannot be submitted again as the hash of a
    self-signed refund: not one sent before the refund was prepared, nor one the gateway sent after."""
    c, h, dep = api
    w3, merchant = dep.w3, members["merchant_a"]
    o = escrow(c, h, members, amount=100_000, carrier=None)
    path, self_signed = f"/v1/orders/{o['order_id']}/refund", h["merchant_a"] | {"X-Ledger-Sign": "self"}

    def refunded() -> int:
        return c.get(f"/v1/orders/{o['order_id']}", headers=h["merchant_a"]).json()["refunded_fen"]

    first = c.post(path, json={"amount_fen": 100}, headers=h["merchant_a"])
    assert first.status_code == 200 and first.json()["refunded_fen"] == 100, first.text
    sent_before = first.json()["history"][-1]["tx"]
    p = c.post(path, json={"amount_fen": 100}, headers=self_signed).json()
    r = c.post(p["submit"], json={"tx_hash": sent_before}, headers=h["merchant_a"])
    assert r.status_code == 422 and "before the write was prepared" in r.text, r.text
    assert refunded() == 100
    # prepared, then the same refund through the gateway: its hash answers for that refund only
    p = c.post(path, json={"amount_fen": 100}, headers=self_signed).json()
    second = c.post(path, json={"amount_fen": 100}, headers=h["merchant_a"])
    assert second.status_code == 200 and second.json()["refunded_fen"] == 200
    sent_after = second.json()["history"][-1]["tx"]
    assert w3.eth.get_transaction(sent_after)["nonce"] >= p["transaction"]["nonce"]
    r = c.post(p["submit"], json={"tx_hash": sent_after}, headers=h["merchant_a"])
    assert r.status_code == 409 and r.json()["error"] == "already_submitted", r.text
    assert refunded() == 200
    # the merchant's wallet sending the prepared refund itself still works, once
    p = c.post(path, json={"amount_fen": 100}, headers=self_signed).json()
    tx = dict(p["transaction"], nonce=w3.eth.get_transaction_count(merchant.address))
    own = "0x" + bytes(w3.eth.send_raw_transaction(merchant.sign_transaction(tx).raw_transaction)).hex()
    r = c.post(p["submit"], json={"tx_hash": own}, headers=h["merchant_a"])
    assert r.status_code == 200 and r.json()["refunded_fen"] == 300, r.text
    txs = [s["tx"] for s in r.json()["history"] if s.get("refund_fen")]
    assert len(set(txs)) == 3 and all(w3.eth.get_transaction_receipt(t)["status"] == 1 for t in txs)


def test_referrers_get_at_most_what_the_merchant_agreed(api, members):
    """The platform's rule offers referrers its rates; the merchant, with its own key, sets the most
    each level of its orders pays, and an order pays the lower of the two (the contract refuses
    more, docs/money.md). Only a merchant sets its own terms; anyone signed in reads them."""
    c, h, _ = api
    merchant = members["merchant_b"].address
    r = c.get(f"/v1/referral-terms/{merchant}", headers=h["producer"])
    assert r.status_code == 200 and r.json()["referral_bps"] == r.json()["caps_referral_bps"], r.text  # dev: the caps
    caps = r.json()["caps_referral_bps"]
    assert c.get(f"/v1/referral-terms/{merchant}").status_code == 401
    assert c.get("/v1/referral-terms/0x12", headers=h["producer"]).status_code == 422  # not an address
    for bad in ([1, 0], [1, 0, 0, 0], [-1, 0, 0], ["1", 0, 0], None):
        assert c.put("/v1/referral-terms", json={"referral_bps": bad}, headers=h["merchant_b"]).status_code == 422, bad
    assert c.put("/v1/referral-terms", json={"referral_bps": [1, 0, 0]}, headers=h["platform"]).status_code == 403
    r = c.put("/v1/referral-terms", json={"referral_bps": [caps[0] + 1, 0, 0]}, headers=h["merchant_b"])
    assert r.status_code == 422 and "referral_bps.0" in r.text, r.text
    assert c.put("/v1/referral-terms", json={"referral_bps": [1.5, 0, 0]}, headers=h["merchant_b"]).status_code == 422
    try:
        r = c.put("/v1/referral-terms", json={"referral_bps": [100, 0, 0]}, headers=h["merchant_b"])
        assert r.status_code == 200 and r.json()["referral_bps"] == [100, 0, 0] and r.json()["tx_hash"], r.text
        order = escrow(c, h, members, refs=("producer", "inspector"), merchant="merchant_b")
        assert [x["bps"] for x in order["referrers"]] == [100, 0], order  # the rule offers more: capped
        assert escrow(c, h, members, refs=("producer",))["referrers"][0]["bps"] > 100  # merchant_a's: the rule's
    finally:
        c.put("/v1/referral-terms", json={"referral_bps": caps}, headers=h["merchant_b"])


def test_a_settlement_whose_answer_was_lost_is_recorded_when_settled_again(api, members):
    """The settlement reached the chain but its request died before the table recorded it (the API
    host killed, the database down: `make soak-hosts` found 400 such orders left "delivered"). Asked
    again, the chain skips them as settled; the table then takes that earlier settlement, its
    transaction and split, instead of calling them skipped forever."""
    from sqlalchemy.orm import Session

    from ledger.money.orders.books import terms_of
    from ledger.store.models import Order

    c, h, dep = api
    orders = [escrow(c, h, members, amount=30_000 + i, carrier=None) for i in range(2)]
    for o in orders:
        assert c.post(f"/v1/orders/{o['order_id']}/confirm", headers=h["platform"]).status_code == 200
    later(dep, WEEK + 1)
    with Session(c.app.state.services.engine) as db:
        terms = [terms_of(db.get(Order, o["order_id"])) for o in orders[:1]]
    lost = settlement.settle(dep, Sender(dep.w3, members["platform"], dep.decoder()), terms)  # answer never recorded
    ids = [o["order_id"] for o in orders]
    r = c.post("/v1/orders/settle", json={"order_ids": ids}, headers=h["merchant_a"])
    assert r.status_code == 200 and r.json()["skipped"] == [], r.text
    settled = {s["order_id"]: s for s in r.json()["settled"]}
    assert set(settled) == set(ids)
    first = c.get(f"/v1/orders/{ids[0]}", headers=h["merchant_a"]).json()
    assert first["status"] == "settled" and first["history"][-1]["tx"] == "0x" + bytes(lost["transactionHash"]).hex()
    s = settled[ids[0]]["settlement"]
    assert s["merchant_fen"] + sum(s["referral_fen"]) + s["platform_fee_fen"] == 30_000  # the split the chain paid
    again = c.post("/v1/orders/settle", json={"order_ids": ids}, headers=h["merchant_a"]).json()
    assert again["settled"] == [] and {x["status"] for x in again["skipped"]} == {"settled"}


def test_a_merchant_lowering_its_terms_mid_escrow_does_not_fail_the_batch(api, members, monkeypatch):
    """Terms read, then lowered by the merchant before the escrow is mined: the chain refuses the
    batch (ReferralAboveTerms), the terms are read again and the batch escrowed, so a merchant
    changing its terms cannot fail the platform's batches (which hold other merchants' orders)."""
    c, h, _ = api
    real = settlement.referral_rates
    calls = []

    def stale_first(dep, offered, merchants):
        calls.append(1)
        got = real(dep, offered, merchants)
        return {m: list(offered) for m in got} if len(calls) == 1 else got  # read before the merchant lowered them

    try:
        assert (
            c.put("/v1/referral-terms", json={"referral_bps": [100, 0, 0]}, headers=h["merchant_b"]).status_code == 200
        )
        monkeypatch.setattr(settlement, "referral_rates", stale_first)
        order = escrow(c, h, members, refs=("producer",), merchant="merchant_b")
        assert [x["bps"] for x in order["referrers"]] == [100] and len(calls) == 2, (order, calls)
    finally:
        monkeypatch.undo()
        caps = c.get(f"/v1/referral-terms/{members['merchant_b'].address}", headers=h["producer"]).json()[
            "caps_referral_bps"
        ]
        c.put("/v1/referral-terms", json={"referral_bps": caps}, headers=h["merchant_b"])
