"""Deposits, cases, orders with idempotency keys, commission rules and payouts through the API,
on a real anvil deployment; merchant A against merchant B; nothing half-written."""

from __future__ import annotations

import itertools
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.core.settings import Settings
from ledger.chain.client import Sender

from .helpers import DOMAIN, award_by, govern, login, make_client, other_arbiter

_ids = itertools.count(1)


def new_order_id() -> str:
    return f"SO-{int(time.time() * 1000)}-{next(_ids)}"


@pytest.fixture(scope="module")
def api(deployment, chain_node, tmp_path_factory, members):
    dep, _ = deployment
    token = dep.contract("SettlementToken")
    issuer = Sender(dep.w3, members["issuer"], dep.decoder())
    for who in ("platform", "merchant_a", "merchant_b"):
        issuer.transact(token.functions.mint(members[who].address, 10**10))
    c = make_client(deployment, chain_node, tmp_path_factory.mktemp("money"))
    heads = {
        who: login(c, members[who])
        for who in ("platform", "merchant_a", "merchant_b", "auditor", "arbiter", "producer", "logistics")
    }
    return c, heads


def increase_time(dep, seconds: int) -> None:
    dep.w3.provider.make_request("evm_increaseTime", [seconds])
    dep.w3.provider.make_request("evm_mine", [])


def escrow(c, heads, members, amount=99_999, referrers=("producer", "logistics", "inspector"), key=None, **extra):
    body = {
        "order_id": new_order_id(),
        "merchant": members["merchant_a"].address,
        "amount_fen": amount,
        "referrers": [members[r].address for r in referrers],
        **extra,
    }
    r = c.post("/v1/orders", json=body, headers={**heads["platform"], "Idempotency-Key": key or body["order_id"]})
    return body, r


def settle(c, heads, *bodies, who="platform"):
    r = c.post("/v1/orders/settle", json={"order_ids": [b["order_id"] for b in bodies]}, headers=heads[who])
    assert r.status_code == 200, r.text
    return r.json()


def test_order_settles_with_an_exact_split(api, members, deployment):
    c, heads = api
    body, r = escrow(c, heads, members)
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["status"] == "escrowed" and order["amount_fen"] == 99_999
    assert [x["bps"] for x in order["referrers"]] == [500, 200, 100]
    r = c.post(f"/v1/orders/{body['order_id']}/confirm", headers=heads["platform"])
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "delivered" and r.json()["window_ends_at"]
    early = settle(c, heads, body)
    assert early["settled"] == [] and early["skipped"][0]["due_at"] == r.json()["window_ends_at"]
    increase_time(deployment[0], 7 * 24 * 3600 + 1)
    (done,) = settle(c, heads, body)["settled"]
    s = done["settlement"]
    assert s["merchant_fen"] + sum(s["referral_fen"]) + s["platform_fee_fen"] == 99_999
    assert s["referral_fen"] == [99_999 * b // 10_000 for b in (500, 200, 100)]
    assert done["status"] == "settled"
    history = c.get(f"/v1/orders/{body['order_id']}", headers=heads["merchant_a"]).json()["history"]
    assert [h["status"] for h in history] == ["escrowed", "delivered", "settled"]
    again = c.post(f"/v1/orders/{body['order_id']}/refund", json={"amount_fen": 1}, headers=heads["platform"])
    assert again.status_code == 409 and again.json()["error"] == "conflict"


def test_idempotency_key_replays_and_conflicts(api, members):
    c, heads = api
    key = "idem-" + new_order_id()
    body, first = escrow(c, heads, members, key=key)
    assert first.status_code == 201
    h = {**heads["platform"], "Idempotency-Key": key}
    replay = c.post("/v1/orders", json=body, headers=h)
    assert replay.status_code == 201 and replay.json() == first.json()
    assert replay.headers["Idempotent-Replayed"] == "true"
    other = c.post("/v1/orders", json={**body, "amount_fen": 1}, headers=h)
    assert other.status_code == 409 and other.json()["error"] == "idempotency_conflict"
    dup = c.post("/v1/orders", json=body, headers={**heads["platform"], "Idempotency-Key": key + "-b"})
    assert dup.status_code == 409 and "already exists" in dup.json()["detail"]
    listed = [o["order_id"] for o in c.get("/v1/orders", headers=heads["auditor"], params={"limit": 1000}).json()]
    assert listed.count(body["order_id"]) == 1


def test_an_idempotency_key_is_its_routes_own(api, members):
    """A key sent to /v1/orders/batch and then to /v1/orders is two keys: the second request is
    answered afresh (the order exists: 409), never with the batch's answer replayed as a 201."""
    c, heads = api
    key = "shared-" + new_order_id()
    body = {"order_id": new_order_id(), "merchant": members["merchant_a"].address, "amount_fen": 5_000}
    h = {**heads["platform"], "Idempotency-Key": key}
    batch = c.post("/v1/orders/batch", json={"orders": [body]}, headers=h)
    assert batch.status_code == 201, batch.text
    single = c.post("/v1/orders", json=body, headers=h)
    assert single.status_code == 409 and "already exists" in single.json()["detail"], single.text
    assert "Idempotent-Replayed" not in single.headers
    again = c.post("/v1/orders/batch", json={"orders": [body]}, headers=h)  # on its own route it replays
    assert again.status_code == 201 and again.json() == batch.json() and again.headers["Idempotent-Replayed"] == "true"


def _typo(address: str) -> str:
    """`address` with the case of its first letter flipped: still the same hex, but not its checksum."""
    i = next(i for i, ch in enumerate(address) if i > 1 and ch.isalpha())
    return address[:i] + address[i].swapcase() + address[i + 1 :]


def test_bad_orders_are_refused_whole(api, members):
    c, heads = api
    body = {"order_id": new_order_id(), "merchant": members["merchant_a"].address, "amount_fen": 100}
    r = c.post("/v1/orders", json=body, headers=heads["platform"])
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "header.Idempotency-Key"
    for bad, field in [
        ({"amount_fen": 10.5}, "body.amount_fen"),
        ({"amount_fen": "100"}, "body.amount_fen"),
        ({"amount_fen": 0}, "body.amount_fen"),
        ({"merchant": "0x123"}, "body.merchant"),
        ({"merchant": _typo(members["merchant_a"].address)}, "body.merchant"),  # its EIP-55 case is wrong
        ({"referrers": [members["producer"].address] * 4}, "body.referrers"),
        # a referrer is a party of its own: not one address at two levels, not the merchant (outside probe)
        ({"referrers": [members["producer"].address] * 2}, "body.referrers"),
        ({"referrers": [members["merchant_a"].address.lower()]}, "body.referrers"),
    ]:
        r = c.post("/v1/orders", json={**body, **bad}, headers={**heads["platform"], "Idempotency-Key": "k"})
        assert r.status_code == 422, (bad, r.text)
        assert r.json()["detail"][0]["field"] == field
    # a chain refusal (the producer is not a merchant) writes nothing and frees the key
    key = {**heads["platform"], "Idempotency-Key": "refused-" + body["order_id"]}
    r = c.post("/v1/orders", json={**body, "merchant": members["producer"].address}, headers=key)
    assert r.status_code == 422 and r.json()["error"] == "NotAMerchant"
    # the platform naming itself a referrer (a second fee from the merchant's proceeds): refused on chain
    r = c.post("/v1/orders", json={**body, "referrers": [members["platform"].address]}, headers=key)
    assert r.status_code == 422 and r.json()["error"] == "ReferrerNotAllowed", r.text
    assert c.get(f"/v1/orders/{body['order_id']}", headers=heads["auditor"]).status_code == 404
    assert c.post("/v1/orders", json=body, headers=key).status_code == 201


def test_only_the_platform_moves_orders(api, members):
    c, heads = api
    body, r = escrow(c, heads, members)
    assert r.status_code == 201
    for who in ("merchant_a", "auditor", "arbiter"):
        assert c.post(f"/v1/orders/{body['order_id']}/confirm", headers=heads[who]).status_code == 403
        r = c.post(
            "/v1/orders",
            json={**body, "order_id": new_order_id()},
            headers={**heads[who], "Idempotency-Key": new_order_id()},
        )
        assert r.status_code == 403


def test_merchants_see_only_their_orders(api, members):
    c, heads = api
    body, _ = escrow(c, heads, members)
    assert c.get(f"/v1/orders/{body['order_id']}", headers=heads["merchant_a"]).status_code == 200
    assert c.get(f"/v1/orders/{body['order_id']}", headers=heads["merchant_b"]).status_code == 404
    mine_b = c.get("/v1/orders", headers=heads["merchant_b"]).json()
    assert all(o["merchant"] == members["merchant_b"].address for o in mine_b)
    assert c.get(f"/v1/orders/{body['order_id']}", headers=heads["auditor"]).status_code == 200


def test_refund_and_timeout_settlement(api, members, deployment):
    c, heads = api
    dep, _ = deployment
    body, _ = escrow(c, heads, members, amount=5_000)
    r = c.post(f"/v1/orders/{body['order_id']}/refund", json={"amount_fen": 5_000}, headers=heads["platform"])
    assert r.status_code == 200 and r.json()["status"] == "refunded"
    body, _ = escrow(c, heads, members, amount=7_001, referrers=("producer",))
    assert settle(c, heads, body, who="auditor")["skipped"][0]["status"] == "escrowed"
    increase_time(dep, 14 * 24 * 3600 + 1)
    (done,) = settle(c, heads, body, who="auditor")["settled"]  # anyone may settle
    assert done["settlement"]["by_timeout"] is True


def test_commission_rule_within_caps(api, members):
    c, heads = api
    r = c.put(
        "/v1/commission-rules", json={"platform_fee_bps": 1001, "referral_bps": [0, 0, 0]}, headers=heads["platform"]
    )
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "body.platform_fee_bps"
    r = c.put(
        "/v1/commission-rules", json={"platform_fee_bps": 0, "referral_bps": [0, 501, 0]}, headers=heads["platform"]
    )
    assert r.status_code == 422 and "level 2" in r.json()["detail"][0]["reason"]
    assert (
        c.put(
            "/v1/commission-rules", json={"platform_fee_bps": 0, "referral_bps": [0, 0, 0]}, headers=heads["merchant_a"]
        ).status_code
        == 403
    )
    r = c.put(
        "/v1/commission-rules",
        json={"platform_fee_bps": 300, "referral_bps": [1000, 500, 300]},
        headers=heads["platform"],
    )
    assert r.status_code == 200 and r.json()["caps_referral_bps"] == [1000, 500, 300]
    _, order = escrow(c, heads, members)
    assert order.json()["platform_fee_bps"] == 300
    assert [x["bps"] for x in order.json()["referrers"]] == [1000, 500, 300]
    c.put(
        "/v1/commission-rules",
        json={"platform_fee_bps": 500, "referral_bps": [500, 200, 100]},
        headers=heads["platform"],
    )


def test_payouts_are_pulled_by_their_owner(api, members, deployment):
    c, heads = api
    dep, _ = deployment
    body, _ = escrow(c, heads, members, amount=10_000, referrers=())
    c.post(f"/v1/orders/{body['order_id']}/confirm", headers=heads["platform"])
    increase_time(dep, 7 * 24 * 3600 + 1)
    settle(c, heads, body)
    owed = c.get("/v1/payouts/me", headers=heads["merchant_a"]).json()["settlement_fen"]
    assert owed >= 9_500
    a = members["merchant_a"].address
    assert c.get(f"/v1/payouts/{a}", headers=heads["auditor"]).json()["settlement_fen"] == owed
    assert c.get(f"/v1/payouts/{a}", headers=heads["merchant_b"]).status_code == 404
    assert c.get("/v1/orders/no-such-order", headers=heads["auditor"]).status_code == 404
    assert c.post("/v1/orders/no-such-order/confirm", headers=heads["platform"]).status_code == 404
    token = dep.contract("SettlementToken")
    before = token.functions.balanceOf(members["merchant_a"].address).call()
    r = c.post("/v1/payouts/withdraw", headers=heads["merchant_a"])
    assert r.status_code == 200 and r.json()["settlement_fen"] == 0
    assert token.functions.balanceOf(members["merchant_a"].address).call() == before + owed
    r = c.post("/v1/payouts/withdraw", headers=heads["merchant_a"])
    assert r.status_code == 409 and r.json()["error"] == "nothing_owed"


def test_deposit_minimum_cooldown_and_cases(api, members, deployment, accounts):
    c, heads = api
    dep, _ = deployment
    a, b = members["merchant_a"].address, members["merchant_b"].address
    r = c.post("/v1/deposits", json={"amount_fen": 5_000_000}, headers=heads["merchant_a"])
    assert r.status_code == 200, r.text
    balance = r.json()["balance_fen"]
    assert r.json()["available_fen"] == balance
    assert c.post("/v1/deposits", json={"amount_fen": 1.5}, headers=heads["merchant_a"]).status_code == 422
    assert c.post("/v1/deposits", json={"amount_fen": 100}, headers=heads["producer"]).status_code == 403
    # more than the merchant's tokens: said before anything is signed, nothing approved (phone trial)
    token = dep.contract("SettlementToken")
    held = token.functions.balanceOf(a).call()
    before = token.functions.allowance(a, dep.contract("GuaranteeVault").address).call()
    r = c.post("/v1/deposits", json={"amount_fen": held + 1}, headers=heads["merchant_a"])
    assert r.status_code == 409 and r.json()["error"] == "insufficient_tokens", r.text
    assert token.functions.allowance(a, dep.contract("GuaranteeVault").address).call() == before
    vault = dep.contract("GuaranteeVault")
    govern(deployment, accounts, vault.functions.setMinimum(a, 2_000_000))
    mine = c.get(f"/v1/deposits/{a}", headers=heads["merchant_a"]).json()
    assert mine["required_fen"] == 2_000_000 and mine["available_fen"] == balance - 2_000_000
    assert c.get(f"/v1/deposits/{a}", headers=heads["merchant_b"]).status_code == 404
    assert c.get(f"/v1/deposits/{a}", headers=heads["auditor"]).status_code == 200
    # an arbiter freezes part of it for a complaint by merchant B (small: one arbiter decides it)
    r = c.post("/v1/cases", json={"merchant": a, "claimant": b, "amount_fen": 100_000}, headers=heads["arbiter"])
    assert r.status_code == 201, r.text
    case_id = r.json()["case_id"]
    assert c.get(f"/v1/deposits/{a}", headers=heads["auditor"]).json()["frozen_fen"] == 100_000
    listed = c.get(f"/v1/deposits/{a}/cases", headers=heads["merchant_a"]).json()
    assert listed[0] == {"case_id": case_id, "merchant": a, "claimant": b, "amount_fen": 100_000, "open": True}
    assert c.get(f"/v1/deposits/{a}/cases", headers=heads["merchant_b"]).status_code == 404
    assert (
        c.post(
            "/v1/cases", json={"merchant": a, "claimant": b, "amount_fen": 1}, headers=heads["merchant_b"]
        ).status_code
        == 403
    )
    # withdrawals wait the cooldown and never dip below minimum + frozen
    over = balance - 2_000_000 - 100_000 + 1
    r = c.post("/v1/deposits/withdrawal-requests", json={"amount_fen": over}, headers=heads["merchant_a"])
    assert r.status_code == 409 and r.json()["error"] == "InsufficientAvailable"
    r = c.post("/v1/deposits/withdrawal-requests", json={"amount_fen": over - 1}, headers=heads["merchant_a"])
    assert r.status_code == 200 and r.json()["pending_withdrawal_fen"] == over - 1
    assert r.json()["lapses_at"] == r.json()["unlock_at"] + vault.functions.WITHDRAWAL_WINDOW().call()
    r = c.post("/v1/deposits/withdrawals", headers=heads["merchant_a"])
    assert r.status_code == 409 and r.json()["error"] == "CooldownNotOver"
    increase_time(dep, 7 * 24 * 3600 + 1)
    r = c.post("/v1/deposits/withdrawals", headers=heads["merchant_a"])
    assert r.status_code == 200 and r.json()["balance_fen"] == 2_100_000
    # the case pays out to the claimant, who pulls it: awarded by an arbiter who did not open it
    r = c.post(f"/v1/cases/{case_id}/close", json={"pay_out": True}, headers=heads["arbiter"])
    assert r.status_code == 403 and r.json()["error"] == "OpenerAlone", r.text
    with other_arbiter(deployment, accounts) as other:
        r = c.post(f"/v1/cases/{case_id}/ruling", json=award_by(dep, other, case_id), headers=heads["arbiter"])
    assert r.status_code == 200 and r.json()["open"] is False, r.text
    assert c.get(f"/v1/cases/{case_id}", headers=heads["merchant_b"]).status_code == 200
    assert c.get(f"/v1/cases/{case_id}", headers=heads["producer"]).status_code == 404
    assert c.get("/v1/payouts/me", headers=heads["merchant_b"]).json()["vault_claims_fen"] == 100_000
    assert c.post("/v1/payouts/withdraw", headers=heads["merchant_b"]).status_code == 200
    govern(deployment, accounts, vault.functions.setMinimum(a, 0))


def test_orders_and_idempotency_on_postgresql(api, deployment, chain_node, pg_url, members):
    _, path = deployment
    c = TestClient(
        create_app(Settings(rpc_url=chain_node.url, manifest_path=path, database_url=pg_url, siwe_domain=DOMAIN))
    )
    assert c.app.state.services.engine.dialect.name == "postgresql"
    platform = login(c, members["platform"])
    body = {"order_id": new_order_id(), "merchant": members["merchant_a"].address, "amount_fen": 4_321}
    h = {**platform, "Idempotency-Key": "pg-" + body["order_id"]}
    first = c.post("/v1/orders", json=body, headers=h)
    assert first.status_code == 201, first.text
    again = c.post("/v1/orders", json=body, headers=h)
    assert again.status_code == 201 and again.json() == first.json()
    assert c.post("/v1/orders", json={**body, "amount_fen": 1}, headers=h).status_code == 409
    r = c.post(f"/v1/orders/{body['order_id']}/confirm", headers=platform)
    assert r.status_code == 200 and r.json()["status"] == "delivered"
    c.app.state.services.engine.dispose()


def test_one_order_escrowed_by_two_requests_at_once_is_one_201_and_409s(api, members):
    """A client retrying with a fresh Idempotency-Key while its first request runs: the requests raced
    for the order's settlement slot and one looped for ever holding SQLite's write lock (every write
    of every process then failed after 30 s). Now one escrows, the others are 409, and the
    database answers at once after."""
    from concurrent.futures import ThreadPoolExecutor

    c, heads = api
    order_id = f"race-{time.time_ns()}"
    body = {"order_id": order_id, "merchant": members["merchant_a"].address, "amount_fen": 100}

    def escrow(i: int) -> int:
        headers = {**heads["platform"], "Idempotency-Key": f"{order_id}-{i}"}
        return c.post("/v1/orders", json=body, headers=headers).status_code

    started = time.monotonic()
    with ThreadPoolExecutor(4) as pool:
        codes = sorted(pool.map(escrow, range(4)))
    assert codes[0] == 201 and set(codes[1:]) == {409}, codes
    assert time.monotonic() - started < 30
    assert c.get(f"/v1/orders/{order_id}", headers=heads["platform"]).json()["status"] == "escrowed"
    assert c.get("/v1/auth/nonce", params={"address": members["producer"].address}).status_code == 200


def test_a_record_two_requests_insert_at_once_is_a_409_not_a_500():
    """Check-then-insert races (commission rules, named queries, products, commitments) ended in an
    uncaught unique-key error: a duplicate key is a 409; any other integrity error stays ours."""
    import sqlalchemy as sa

    from api.core.errors import error_answer

    engine = sa.create_engine("sqlite://")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (k TEXT PRIMARY KEY, v TEXT NOT NULL)")
        conn.exec_driver_sql("INSERT INTO t VALUES ('a', 'x')")
    errors = []
    for sql in ("INSERT INTO t VALUES ('a', 'y')", "INSERT INTO t VALUES ('b', NULL)"):
        try:
            with engine.begin() as conn:
                conn.exec_driver_sql(sql)
        except sa.exc.IntegrityError as exc:
            errors.append(exc)
    duplicate, not_null = errors
    status, body, _ = error_answer(duplicate)
    assert status == 409 and body["error"] == "conflict"
    assert error_answer(not_null) is None


def test_deposits_sent_at_once_by_one_merchant_all_land(api, deployment, members):
    """Each deposit approves exactly its own amount: sent together, the second approval replaced the
    first and one deposit failed on its allowance; they now take turns per merchant."""
    c, heads = api
    dep, _ = deployment
    vault = dep.contract("GuaranteeVault")
    before = vault.functions.accountOf(members["merchant_b"].address).call()[0]
    amounts = [10_001, 20_002, 30_003, 40_004]
    with ThreadPoolExecutor(len(amounts)) as pool:
        answers = list(pool.map(
            lambda fen: c.post("/v1/deposits", json={"amount_fen": fen}, headers=heads["merchant_b"]), amounts
        ))  # fmt: skip
    assert [r.status_code for r in answers] == [200] * len(amounts), [r.text for r in answers]
    assert vault.functions.accountOf(members["merchant_b"].address).call()[0] == before + sum(amounts)
