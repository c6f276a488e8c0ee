"""The consortium with each organisation on a host of its own (docs/consortium.md): platform, brand
and carrier start as validators, each a network namespace with its own address, geth node and data
folder, peered over a bridge by those addresses only; the regulator joins from handed-over files
and is voted in through governance; an auditor's host checks codes, events and a reconciliation
against its own node alone; partitions reorg no deeper than argued; write-to-final under load. One
topology for the module (1 s blocks), removed whatever happened; skipped, saying why, without netns."""

from __future__ import annotations

import os
import random
import statistics
import threading
import time
from types import SimpleNamespace

import pytest
from sqlalchemy import select
from web3 import Web3

from ledger.access.sealed import unseal
from ledger.chain import finality, governance, stall
from ledger.chain.client import Sender, connect, dev_accounts
from ledger.chain.deploy import attach, deploy
from ledger.chain.indexer import Indexer
from ledger.devnet import validators
from ledger.devnet.hosts import Hosts, unavailable
from ledger.devnet.hosts_network import HostsAuditor, HostsNetwork
from ledger.money.recon import runs as recon_runs
from ledger.store.db import make_engine, migrate
from ledger.store.models import ChainEvent, Order
from ledger.trace.verify import verify_code

from .helpers import delivery_doc, login, make_client, new_gtin

FOUNDERS = ("platform", "brand", "carrier")
ALL = (*FOUNDERS, "regulator")
WRITERS = ("platform", "merchant_a", "merchant_b", "producer", "logistics", "inspector")  # may anchor

_why_not = unavailable()
pytestmark = pytest.mark.skipif(_why_not is not None, reason=f"network namespaces: {_why_not}")


def _until(probe, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while not (found := probe()):
        assert time.monotonic() < deadline, f"{what} within {seconds:.0f} s"
        time.sleep(0.2)
    return found


@pytest.fixture(scope="module")
def topology(tmp_path_factory):
    hosts = Hosts()
    root = tmp_path_factory.mktemp("netns-consortium")
    net = HostsNetwork(root / "network", hosts, period_s=1)
    auditor = HostsAuditor(root / "auditor", hosts)
    try:
        net.init(FOUNDERS)
        net.start(wait_s=90)
        dep, new = deploy(connect(",".join(net.urls)), root / "deployment.json")
        assert new
        yield net, dep, root / "deployment.json", auditor
    finally:
        try:
            auditor.stop()
            net.stop()
        finally:
            hosts.close()


@pytest.fixture(scope="module")
def four(topology):
    """The regulator joins as a new organisation would, and governance votes its validator in."""
    net, dep, path, _ = topology
    handed = net.root.parent / "to-regulator"
    genesis, enodes = net.handover(handed)
    spec = net.join("regulator", genesis, enodes)
    net.start(["regulator"], wait_s=90)
    accounts = {a.address: a for a in dev_accounts(20)}
    governors = [accounts[g] for g in dep.manifest["governance"]["governors"]][:2]
    action = {"type": "add_validator", "address": spec.validator}
    pid = governance.propose(dep, dep.sender(governors[0]), action, "the regulator seals")
    governance.approve(dep, dep.sender(governors[1]), pid)
    votes = {}
    for org in FOUNDERS:  # each organisation's operator votes with its own node, as governance decided
        node = connect(net.nodes[org].url)
        _until(lambda n=node: validators.decided(attach(n, path)).get(spec.validator), 30, f"{org} seeing the decision")
        votes[org] = validators.follow(attach(node, path), node)
    for org in ALL:
        _until(lambda o=org: spec.validator in net.signers(o), 60, f"{org} counting the regulator as a signer")
    return net, dep, path, spec, votes


def test_each_organisation_runs_its_node_on_a_host_of_its_own(topology):
    net, *_ = topology
    addresses = {org: n.host for org, n in net.nodes.items()}
    assert len(set(addresses.values())) == len(addresses) and not any(a.startswith("127.") for a in addresses.values())
    for org, spec in net.nodes.items():
        pid = int((net.root / org / "node.pid").read_text())
        # the node's process lives in the organisation's namespace, which holds only lo and one veth
        assert os.stat(f"/proc/{pid}/ns/net").st_ino == os.stat(f"/run/netns/{net.hosts.namespace(org)}").st_ino
        peers = connect(spec.url).provider.make_request("admin_peers", [])["result"]
        remote = {p["network"]["remoteAddress"].rsplit(":", 1)[0] for p in peers}
        local = {p["network"]["localAddress"].rsplit(":", 1)[0] for p in peers}
        assert local == {spec.host}, (org, local)
        assert remote and remote <= set(addresses.values()) - {spec.host}, (org, remote)


def test_a_new_organisation_joins_from_handed_over_files_and_is_voted_in(four):
    net, _, _, spec, votes = four
    assert all(v == [{"validator": spec.validator, "authorize": True}] for v in votes.values()), votes
    assert (net.root / "regulator" / "handed-over" / "enodes.txt").read_text().count("enode://") == 3
    w3 = connect(spec.url)
    start = w3.eth.block_number

    def sealed_by_it() -> bool:
        signers = [
            w3.provider.make_request("clique_getSigner", [hex(n)])["result"]
            for n in range(start, w3.eth.block_number + 1)
        ]
        return spec.validator.lower() in {s.lower() for s in signers}

    _until(sealed_by_it, 30, "the regulator's validator sealing a block")
    assert len(net.signers("platform")) == 4


def _meshed(net: HostsNetwork) -> None:
    """Every node connected to every other, each pair dialled by one side only (two dialling each
    other at once may each drop the other's connection as a duplicate, leaving a pair connected
    only through the others, which a partition then cuts within a side)."""
    for i, org in enumerate(ALL):
        for other in ALL[:i]:
            connect(net.nodes[org].url).provider.make_request("admin_addPeer", [net.nodes[other].enode])
    for org in ALL:
        w3 = connect(net.nodes[org].url)
        _until(
            lambda w3=w3: len(w3.provider.make_request("admin_peers", [])["result"]) >= len(ALL) - 1,
            30,
            f"{org} peered",
        )


def _partitioned(net: HostsNetwork, groups, seconds: float = 5):
    """Partition the (meshed) hosts into `groups`, the connections across dropped, let each side seal for
    `seconds`, snapshot, heal, redial and settle (`Network.settle`: a stalled tie broken); each
    node's head and total difficulty at the heal, its reorg depth, and the nodes rewound. (With the
    connections kept, a block queued before the cut may still cross once healed, by TCP's
    retransmission, and break a tie by itself; CI saw one that did not: 187 s stalled.)"""
    net.hosts.partition(*groups)
    try:
        for group in groups:  # a partition long enough that the connections across it time out
            for org in group:
                w3 = connect(net.nodes[org].url)
                for other in (o for g in groups if g is not group for o in g):
                    w3.provider.make_request("admin_removePeer", [net.nodes[other].enode])
        time.sleep(seconds)
        before = {org: finality.chain_tail(connect(net.nodes[org].url)) for org in ALL}
        weighed = net.weighed_heads(list(ALL))
    finally:
        net.hosts.heal()
    _meshed(net)  # the connections a partition broke, redialled now rather than on geth's timer
    _, rewound = net.settle(list(ALL), 90, above=max(h for h, _ in before.values()))
    judge = connect(net.nodes["platform"].url)
    return weighed, {org: finality.dropped(tail, judge) for org, tail in before.items()}, rewound


def test_partitioning_one_organisation_reorgs_no_deeper_than_argued(four):
    net = four[0]
    _meshed(net)
    weighed, depths, rewound = _partitioned(net, [["carrier"], ["platform", "brand", "regulator"]])
    bound = finality.minority_reorg_bound(1)
    print(f"one organisation cut off 5 s: reorg depth per node {depths} (bound {bound})")
    assert max(depths.values()) <= bound <= finality.confirmations(4), (depths, weighed)
    assert not rewound, "a majority never ties with the one cut off"
    majority = [weighed[o].number for o in ("platform", "brand", "regulator")]
    assert min(majority) >= weighed["carrier"].number, "the three kept sealing while the carrier was cut off"


def test_an_even_split_stalls_both_sides_and_reorgs_no_deeper_than_argued(four):
    """Cut just after a block, the sealers of the last two blocks on opposite sides (each side has
    a signer free to seal), the next block's in-turn signer beside the last block's sealer: with
    blocks sealed in turn before the cut, that side seals one block in turn (weight 2) and stalls,
    the other two out of turn (1 + 1) and stalls: the branches tie, which geth alone never
    resolves (it fetches only a heavier chain, and no new block comes to be received); `settle`
    rewinds the longer branch's nodes."""
    net = four[0]
    _meshed(net)  # before the cut is timed
    w3, org_of = connect(net.nodes["platform"].url), {n.validator.lower(): o for o, n in net.nodes.items()}
    start = w3.eth.block_number
    fork = _until(lambda: (n := w3.eth.block_number) > start and n, 10, "a new block")  # cut just after it
    a, b = (org_of[w3.provider.make_request("clique_getSigner", [hex(n)])["result"].lower()] for n in (fork, fork - 1))
    signers = sorted(s.lower() for s in w3.provider.make_request("clique_getSigners", [hex(fork)])["result"])
    in_turn = org_of[signers[(fork + 1) % len(signers)]]
    rest = [o for o in ALL if o not in (a, b)]
    if in_turn in rest:  # the tie, when the blocks before came in turn
        rest.sort(key=lambda o: o != in_turn)
    weighed, depths, rewound = _partitioned(net, [[a, rest[0]], [b, rest[1]]])
    # neither side holds a majority of 4: each sealed at most 2 blocks past the fork, then stalled
    assert all(h.number <= fork + 1 + 2 for h in weighed.values()), (fork, weighed)
    tied = stall.tie(weighed)
    print(f"2|2 split 5 s: heads {weighed}; tie {tied}; rewound {rewound}; reorg depth per node {depths}")
    assert (tied is not None) == bool(rewound), (weighed, rewound)
    assert 1 <= max(depths.values()) <= finality.partition_reorg_bound(4) <= finality.confirmations(4), depths
    net.wait_agreed(list(ALL), 30, above=max(h.number for h in weighed.values()) + 2)  # sealing again


def test_write_to_final_p99_on_four_hosts_under_load(four):
    """Six members write at once through their own organisations' nodes (handed to the others too)
    while 30 plain transfers a second load the chain; each write is final when
    `finality.confirmations(4)` blocks are on top of it."""
    net, dep, *_ = four
    depth = finality.confirmations(4)
    accounts = dev_accounts(20)
    prov = dep.contract("Provenance")
    urls = [net.nodes[o].url for o in ALL]
    latencies: list[float] = []
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer(i: int) -> None:
        rng = random.Random(i)
        try:
            own = urls[i % len(urls)]  # read from its own node, the write handed to every node at once
            w3 = connect(",".join([own, *(u for u in urls if u != own)]))
            sender = Sender(w3, accounts[dep.manifest["members"][WRITERS[i]]["account_index"]], dep.decoder())
            while not stop.is_set():
                started = time.perf_counter()
                tx = sender.submit(prov.functions.anchor(Web3.keccak(text=f"f{i}-{time.time_ns()}"), 1, "f"))
                finality.wait_final(w3, tx, depth)
                latencies.append(time.perf_counter() - started)
                time.sleep(rng.random())  # the next write comes when it comes, not in step with blocks
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    def load() -> None:
        w3 = connect(urls[0])
        a = accounts[19]
        nonce = w3.eth.get_transaction_count(a.address, "pending")
        fees = {"maxFeePerGas": 2 * w3.eth.gas_price + 10**9, "maxPriorityFeePerGas": 10**9}
        while not stop.is_set():
            for _ in range(3):
                tx = {"to": accounts[18].address, "value": 1, "gas": 21_000, "nonce": nonce, "chainId": w3.eth.chain_id}
                w3.eth.send_raw_transaction(a.sign_transaction({**tx, **fees}).raw_transaction)
                nonce += 1
            time.sleep(0.1)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(6)] + [threading.Thread(target=load)]
    for t in threads:
        t.start()
    # 16 s at least, and until 24 writes are final (a machine twice as slow, or busy with other
    # tests, made 12 in 16 s once): at most 60 s
    began = time.monotonic()
    while time.monotonic() - began < 60 and (time.monotonic() - began < 16 or len(latencies) < 24) and not errors:
        time.sleep(0.2)
    stop.set()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    lat = sorted(latencies)
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    print(f"write-to-final on 4 hosts, 1 s blocks, {depth} confirmations: {len(lat)} writes, "
          f"p50 {statistics.median(lat):.2f} s, p99 {p99:.2f} s")  # fmt: skip
    assert len(lat) >= 20
    # a write goes into the block being sealed when it arrives (the project's geth refills it every
    # 100 ms; stock 1.13 waited for the block after), then `depth` blocks: final within depth to
    # (depth + 1) periods; slack for a loaded machine and for a member running stock geth
    assert statistics.median(lat) <= (depth + 2) * net.period_s + 0.5, lat
    assert p99 <= (depth + 3) * net.period_s + 2.0, lat[-5:]
    # no node ever dropped a block as deep as final (the partitions above included; a partition
    # need not fork at all, and a tie `settle` breaks is a rewind geth does not log as a reorg, so
    # no reorg logged is a pass: the tests above measure each partition's depth from the chains)
    assert finality.deepest_logged_reorg([net.root / org / "node.log" for org in ALL]) <= depth


def test_an_auditor_host_checks_codes_events_and_a_reconciliation_against_its_own_node(topology, four, tmp_path):
    """The platform's API writes through the platform's own node: codes, orders escrowed and one
    delivered by the carrier's EPCIS event. The auditor's host, set up from the handed-over files,
    verifies the codes, indexes the events and reconciles the operator's order export against its
    own read-only node and nothing else."""
    net, dep, path, _, _ = four
    auditor = topology[3]
    auditor.init(*net.handover(tmp_path / "to-auditor"))  # set up now, started once the writes are made
    keys = unseal((net.root / "platform" / "custodial.sealed").read_bytes()).decode()  # the platform's own
    c = make_client(
        (dep, path), SimpleNamespace(url=net.nodes["platform"].url), tmp_path, anchor_interval_s=0, signer_mnemonic=keys
    )
    m = {label: dev_accounts(20)[v["account_index"]] for label, v in dep.manifest["members"].items()}
    merchant, issuer, platform, carrier = (login(c, m[w]) for w in ("merchant_a", "issuer", "platform", "logistics"))
    gtin = new_gtin()
    r = c.post("/v1/products", json={"gtin": gtin, "name": "Anji white tea"}, headers=merchant)
    assert r.status_code == 201, r.text
    assert c.post("/v1/batches", json={"gtin": gtin, "lot": "NS-1"}, headers=merchant).status_code == 201
    issue = c.post(f"/v1/batches/{gtin}/NS-1/codes", json={"count": 3}, headers=merchant).json()
    fiat = {"to": m["platform"].address, "amount_fen": 1_000_000, "fiat_reference": f"ICBC-{gtin}"}
    assert c.post("/v1/token/issuances", json=fiat, headers=issuer).status_code == 201
    orders = [
        {"order_id": f"NS{gtin}-{i}", "merchant": m["merchant_a"].address, "amount_fen": 5_001 + i,
         "referrers": [m["producer"].address], "carrier": m["logistics"].address}
        for i in range(3)
    ]  # fmt: skip
    r = c.post("/v1/orders/batch", json={"orders": orders}, headers={**platform, "Idempotency-Key": gtin})
    assert r.status_code == 201, r.text
    r = c.post("/v1/epcis/capture", json=delivery_doc(orders[0]["order_id"]), headers=carrier)
    assert r.json()["deliveries"][0]["status"] == "delivered", r.text

    auditor.start(wait_s=90)
    own = connect(auditor.spec.url)
    assert own.eth.accounts == [] and auditor.spec.host not in {n.host for n in net.nodes.values()}
    head = connect(net.nodes["platform"].url).eth.block_number
    _until(
        lambda: own.eth.block_number >= head + finality.confirmations(4), 60, "the auditor's node following the chain"
    )
    view = attach(own, path)

    def fetch(link):
        return c.get(f"/v1/proofs/{link.key_path}").json()

    assert all(x.ok for x in verify_code(view, issue["sample"][0], fetch))

    engine = make_engine(f"sqlite:///{tmp_path / 'auditor.sqlite3'}")
    migrate(engine)
    Indexer(view, engine, confirmations=finality.confirmations(4)).run()
    with engine.connect() as conn:
        rows = set(conn.execute(select(ChainEvent.tx_hash, ChainEvent.log_index, ChainEvent.block_hash)).all())
        to = conn.execute(select(ChainEvent.block_number).order_by(ChainEvent.block_number.desc())).scalars().first()
    logs = set()
    for name in dep.manifest["contracts"]:
        address = dep.manifest["contracts"][name]["address"]
        since = dep.manifest["deployed_at_block"]
        for log in own.eth.get_logs({"fromBlock": since, "toBlock": to, "address": address}):
            logs.add(("0x" + log["transactionHash"].hex().removeprefix("0x"), log["logIndex"],
                      "0x" + log["blockHash"].hex().removeprefix("0x")))  # fmt: skip
    assert rows and rows == logs  # every event its node holds, each once, where its chain has it

    api_db = make_engine(f"sqlite:///{tmp_path / 'api.sqlite3'}")
    with api_db.connect() as conn:  # the operator's export of its orders table, handed to the auditor
        table = conn.execute(select(Order.order_id, Order.merchant, Order.amount_fen, Order.status, Order.order_key))
        export = "order_id,merchant,amount_fen,status,order_key\n" + "".join(
            f"{oid},{merchant},{amount},{status},{'0x' + bytes(key).hex() if isinstance(key, bytes) else key}\n"
            for oid, merchant, amount, status, key in table
        )
    assert export.count("\n") == 4, export
    run = recon_runs.run(engine, view, orders_csv=export, confirmations=finality.confirmations(4))
    assert run.verdict in ("reconciled", "reconciled_with_pending"), (run.verdict, run.reasons)
