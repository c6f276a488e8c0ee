"""Per-member caps on what a member can make us hold: code issues drawn and waiting for the
merchant's signature (each up to 100,000 codes for PREPARED_TTL_S) are capped per merchant in
number and in codes; beyond, a 429 with Retry-After, and nothing is drawn or kept."""

from __future__ import annotations

import pytest
from eth_account import Account
from sqlalchemy import func, select

from ledger.access.roles import Role
from ledger.store.models import Code, CodeIssue

from .helpers import govern, login, make_client, new_gtin
from .test_self_signing import SELF, _sign, _write


@pytest.fixture
def capped_merchant(deployment, chain_node, accounts, tmp_path):
    dep, _ = deployment
    key = Account.create()
    dep.w3.provider.make_request("anvil_setBalance", [key.address, hex(10**20)])
    govern(deployment, accounts, dep.contract("Membership").functions.admit(key.address, int(Role.MERCHANT)))
    c = make_client(
        deployment, chain_node, tmp_path, custodial=False, anchor_interval_s=0, max_pending_issues=2,
        max_pending_codes=30,
    )  # fmt: skip
    return c, key, login(c, key)


def test_pending_code_issues_are_capped_per_merchant(capped_merchant):
    c, key, h = capped_merchant
    gtin = new_gtin()
    assert _write(c, key, h, "/v1/products", {"gtin": gtin, "name": "Pu'er"}).status_code == 201
    assert _write(c, key, h, "/v1/batches", {"gtin": gtin, "lot": "C-1"}).status_code == 201
    url = f"/v1/batches/{gtin}/C-1/codes"

    def prepare(count: int):
        return c.post(url, json={"count": count}, headers=h | SELF)

    first = prepare(10)
    assert first.status_code == 202, first.text
    too_many_codes = prepare(25)  # 10 + 25 > 30
    assert too_many_codes.status_code == 429 and too_many_codes.json()["error"] == "too_many_pending_issues"
    assert 1 <= int(too_many_codes.headers["retry-after"]) <= 601
    assert prepare(20).status_code == 202  # 30 codes in 2 issues: at the caps
    too_many_issues = prepare(1)
    assert too_many_issues.status_code == 429 and "at most 2 issues" in too_many_issues.json()["detail"]
    with c.app.state.services.sessions() as db:  # nothing drawn for the refused ones
        assert db.scalar(select(func.count()).select_from(CodeIssue).where(CodeIssue.gtin == gtin)) == 2
        assert db.scalar(select(func.count()).select_from(Code).where(Code.gtin == gtin)) == 30
    # signing one frees its place
    done = c.post(first.json()["submit"], json={"raw_transaction": _sign(key, first.json())}, headers=h)
    assert done.status_code == 201, done.text
    assert prepare(1).status_code == 202
