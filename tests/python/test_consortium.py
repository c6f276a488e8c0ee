"""The consortium network: three organisations' geth Clique validators on 127.0.0.1, the contracts
deployed on it, the API writing through it while validators die and return, an auditor checking
codes against a node of its own, and a fourth organisation voted in and out as a signer.

Every wait is bounded. The network seals a block a second here (2 s in `make consortium`)."""

from __future__ import annotations

import signal
import time

import pytest
from sqlalchemy import select

from ledger.chain.client import DEV_MNEMONIC, connect, dev_accounts
from ledger.chain.deploy import attach, deploy
from ledger.chain.genesis import decode_clique_extra_data
from ledger.chain.indexer import Indexer
from ledger.chain.network import ORGS, Network
from ledger.store.db import make_engine, migrate
from ledger.store.models import ChainEvent
from ledger.trace.verify import verify_code

from .helpers import login, make_client, new_gtin


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    network = Network(tmp_path_factory.mktemp("network"), period_s=1)
    network.init(base_port=None)
    network.start(wait_s=60)
    yield network
    network.stop()


@pytest.fixture(scope="module")
def consortium_deployment(net, tmp_path_factory):
    path = tmp_path_factory.mktemp("consortium") / "deployment.json"
    dep, new = deploy(connect(",".join(net.urls)), path)
    assert new
    return dep, path


class _Endpoints:
    def __init__(self, urls: list[str]):
        self.url = ",".join(urls)


@pytest.fixture
def api(net, consortium_deployment, tmp_path, monkeypatch):
    monkeypatch.setenv("LEDGER_TX_TIMEOUT", "8")
    c = make_client(
        consortium_deployment, _Endpoints(net.urls), tmp_path, signer_mnemonic=DEV_MNEMONIC, anchor_interval_s=0
    )
    members = {
        label: dev_accounts(20)[m["account_index"]] for label, m in consortium_deployment[0].manifest["members"].items()
    }
    return c, login(c, members["merchant_a"])


def _register(c, headers, gtin: str | None = None) -> tuple[str, int]:
    gtin = gtin or new_gtin()
    r = c.post("/v1/products", json={"gtin": gtin, "name": "Anji white tea"}, headers=headers)
    return gtin, r.status_code


def test_three_validators_agree_and_seal_under_london_rules(net):
    first = net.wait_agreed(list(ORGS), 30)
    later = net.wait_agreed(list(ORGS), 30, above=first[0] + 2)
    assert later[0] > first[0]
    validators = sorted(n.validator for n in net.nodes.values())
    assert sorted(net.signers("regulator")) == validators
    w3 = connect(net.nodes["brands"].url)
    genesis = w3.eth.get_block(0)
    assert sorted(decode_clique_extra_data("0x" + genesis["proofOfAuthorityData"].hex())) == validators
    assert "baseFeePerGas" in w3.eth.get_block("latest")  # London


def test_writes_go_on_while_one_validator_is_killed_and_it_catches_up(net, api):
    c, merchant = api
    gtin, status = _register(c, merchant)
    assert status == 201
    net.stop("platform", signal.SIGKILL)  # the first endpoint: the API must move to the next
    try:
        before = net.wait_agreed(["brands", "regulator"], 30)
        gtin2, status = _register(c, merchant)
        assert status == 201, "a write failed with one of three validators down"
        assert c.get(f"/v1/products/{gtin}", headers=merchant).status_code == 200
        net.wait_agreed(["brands", "regulator"], 30, above=before[0] + 2)  # blocks keep coming
    finally:
        net.start(["platform"], wait_s=60)
    head = net.wait_agreed(list(ORGS), 60)
    assert net.heads(["platform"])["platform"] == head or net.wait_agreed(list(ORGS), 30)
    owner = attach(connect(net.nodes["platform"].url), c.app.state.services.settings.manifest_path)
    assert owner.contract("Provenance").functions.productOwner(int(gtin2)).call() != "0x" + "0" * 40


def test_with_two_validators_down_writes_are_503_in_bounded_time_and_nothing_acknowledged_is_lost(net, api):
    c, merchant = api
    acknowledged = []
    gtin, status = _register(c, merchant)
    assert status == 201
    acknowledged.append(gtin)
    net.stop("brands", signal.SIGKILL)
    net.stop("regulator", signal.SIGKILL)
    try:
        started, unanswered = time.monotonic(), new_gtin()
        r = c.post("/v1/products", json={"gtin": unanswered, "name": "Anji white tea"}, headers=merchant)
        took = time.monotonic() - started
        assert r.status_code == 503 and took < 30, (r.status_code, took)
        assert r.json()["error"] == "NodeUnavailable" and "too few validators" in r.json()["detail"]
        assert c.get(f"/v1/products/{gtin}", headers=merchant).status_code == 200  # reads still answer
    finally:
        net.start(["brands", "regulator"], wait_s=90)
    net.wait_agreed(list(ORGS), 60)
    gtin, status = _register(c, merchant)
    assert status == 201
    acknowledged.append(gtin)
    # the write answered 503 may have been mined from the pool meanwhile: retried, it is adopted
    # (or registered now), never refused and never registered twice
    _, status = _register(c, merchant, unanswered)
    assert status == 201
    acknowledged.append(unanswered)
    net.wait_agreed(list(ORGS), 30)
    # every acknowledged write is on chain exactly once, on every node
    for org in ORGS:
        dep = attach(connect(net.nodes[org].url), c.app.state.services.settings.manifest_path)
        logs = dep.contract("Provenance").events.ProductRegistered().get_logs(from_block=0)
        registered = [str(log["args"]["gtin"]).zfill(14) for log in logs]
        assert all(registered.count(g) == 1 for g in acknowledged), org


def test_the_indexer_agrees_with_the_chain_after_the_faults(net, consortium_deployment, tmp_path):
    dep, path = consortium_deployment
    engine = make_engine(f"sqlite:///{tmp_path / 'index.sqlite3'}")
    migrate(engine)
    Indexer(attach(connect(",".join(net.urls)), path), engine, confirmations=3).run()
    with engine.connect() as conn:
        rows = set(conn.execute(select(ChainEvent.tx_hash, ChainEvent.log_index)).all())
    w3 = connect(net.nodes["regulator"].url)
    head = w3.eth.block_number
    chain = set()
    for name in dep.manifest["contracts"]:
        address = dep.manifest["contracts"][name]["address"]
        for log in w3.eth.get_logs({"fromBlock": 0, "toBlock": head, "address": address}):
            chain.add(("0x" + log["transactionHash"].hex().removeprefix("0x"), log["logIndex"]))
    assert rows and rows <= chain  # nothing indexed that the canonical chain does not hold


def test_an_auditor_verifies_codes_against_its_own_node(net, api):
    c, merchant = api
    gtin, status = _register(c, merchant)
    assert status == 201
    assert c.post("/v1/batches", json={"gtin": gtin, "lot": "AUD-1"}, headers=merchant).status_code == 201
    issue = c.post(f"/v1/batches/{gtin}/AUD-1/codes", json={"count": 4}, headers=merchant).json()
    auditor_node = attach(connect(net.nodes["regulator"].url), c.app.state.services.settings.manifest_path)
    net.wait_agreed(list(ORGS), 30, above=issue["block_number"])

    def fetch(link):
        return c.get(f"/v1/proofs/{link.key_path}").json()

    uri = issue["sample"][0]
    assert all(x.ok for x in verify_code(auditor_node, uri, fetch))
    other = issue["sample"][1].split("/21/")[1].split("?")[0]
    tampered = {x.name: x.ok for x in verify_code(auditor_node, uri.replace(uri.split("/21/")[1][:12], other), fetch)}
    assert tampered["signature"] is False


def test_a_fourth_organisation_joins_is_voted_in_seals_and_is_voted_out(net):
    spec = net.add_node("logistics")
    net.start(["logistics"], wait_s=60)
    net.wait_agreed([*ORGS, "logistics"], 60)
    for voter in ("platform", "brands"):  # a majority of three
        net.propose(voter, spec.validator, True)
    deadline = time.monotonic() + 60
    while spec.validator not in net.signers("platform") and time.monotonic() < deadline:
        time.sleep(0.5)
    assert spec.validator in net.signers("logistics")
    w3 = connect(spec.url)
    start = w3.eth.block_number
    sealed_by_it = False
    while not sealed_by_it and time.monotonic() < deadline + 30:
        time.sleep(0.5)
        for n in range(start, w3.eth.block_number + 1):
            signer = w3.provider.make_request("clique_getSigner", [hex(n)])["result"]
            sealed_by_it |= signer.lower() == spec.validator.lower()
    assert sealed_by_it, "the new validator never sealed a block"
    for voter in ("platform", "brands", "regulator"):  # a majority of four
        net.propose(voter, spec.validator, False)
    deadline = time.monotonic() + 60
    while spec.validator in net.signers("platform") and time.monotonic() < deadline:
        time.sleep(0.5)
    assert spec.validator not in net.signers("platform")
    net.stop("logistics")
