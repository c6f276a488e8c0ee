"""Footprints computed from events alone (ledger.carbon): the figures worked out by hand, the
primary share computed, what is missing named, bad input refused, cycles caught, and every
published document valid against the transcribed PACT v3 schema."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import jsonschema
import pytest

from ledger.carbon import factors, pact
from ledger.carbon.footprint import GenealogyCycle, compute
from ledger.carbon.quantities import BadQuantity
from ledger.paths import ROOT

from .carbon_scene import events, q, table

LEAVES, TEA, DUST = "06901234500012", "06901234500029", "06901234500036"
PUBLISHER = "0x" + "ab" * 20
SCHEMA = json.loads((ROOT / "tests/fixtures/pact/product-footprint-v3.schema.json").read_text())


def _run(evs, doc=None, gtin=TEA, lot="P1"):
    t = factors.parse(doc or table(PUBLISHER, LEAVES))
    return compute([(f"h{i}", e) for i, e in enumerate(evs)], t, gtin, lot)


def test_figures_follow_the_genealogy_by_hand():
    r = _run(events(LEAVES, TEA, DUST))
    assert r.complete, r.missing
    f = r.figures()
    # leaves: 1000 kg x 0.5 = 500 materials; leg 100 km x 1 t x 0.2 (chilled: read 3 degC) = 20
    # -> 0.52 kg/kg; 800 kg used = 416, + 200 kWh x 0.6 = 120; tea takes 500/800 of 536 = 335
    # tea: 50 km x 0.5 t x 0.1 = 2.5; stored 2 days x 0.5 t x 0.3 (read 4 degC) = 0.3; 337.8 / 2000
    assert f["declaredUnitOfMeasurement"] == "piece" and f["productMassPerDeclaredUnit"] == "0.250000"
    assert f["pcfExcludingBiogenicUptake"] == "0.168900"
    assert f["stage.materials"] == "0.125000" and f["stage.processing"] == "0.037500"
    assert f["stage.transport"] == "0.006250" and f["stage.storage"] == "0.000150"
    assert f["biogenicCO2Uptake"] == "-0.025000" and f["pcfIncludingBiogenicUptake"] == "0.143900"
    # primary: the metered energy, the legs and the storage (87.8 of 337.8)
    assert f["primaryDataShare"] == "25.99"
    assert Decimal(f["pcfExcludingBiogenicUptake"]) == sum(
        Decimal(f[f"stage.{s}"]) for s in ("materials", "processing", "transport", "storage")
    )
    assert len(r.inputs) == 8  # every event of the genealogy was used, and only those


def test_a_declared_energy_figure_is_secondary_and_a_missing_one_is_named():
    declared = _run(events(LEAVES, TEA, DUST, energy={"tlc:declaredEnergyKWh": "200"}))
    assert declared.complete and declared.figures()["pcfExcludingBiogenicUptake"] == "0.168900"
    assert declared.figures()["primaryDataShare"] == "3.79"  # 12.8 of 337.8: legs and storage only
    none = _run(events(LEAVES, TEA, DUST, energy={}))
    assert not none.complete and "process energy of TransformationEvent h3" in none.missing[0]


def test_what_is_missing_makes_it_incomplete_not_wrong():
    evs = events(LEAVES, TEA, DUST)
    r = _run(evs, table(PUBLISHER, LEAVES, materials={}))
    assert any(f"no footprint for input batch {LEAVES}/L1" in m for m in r.missing)
    no_chilled = table(PUBLISHER, LEAVES, transport={"road": {"ambient": "0.1"}})
    assert any("no transport intensity for road chilled" in m for m in _run(evs, no_chilled).missing)
    unreceived = [e for e in evs if not (e["bizStep"] == "receiving" and "bizLocation" in e and "00002" in str(e))]
    assert any("has no receiving event" in m for m in _run(unreceived).missing)
    with pytest.raises(ValueError):
        pact.document(_run(unreceived), "x", datetime.now(UTC), "c", ["urn:x:y"], "tea")


def test_bad_figures_and_cycles_are_refused():
    evs = events(LEAVES, TEA, DUST)
    for bad in ({"uom": "LTR"}, {"quantity": -5}, {"quantity": "1e12"}, {"quantity": "NaN"}):
        broken = [dict(e) for e in evs]
        broken[0] = broken[0] | {"quantityList": [q(LEAVES, "L1", 1000) | bad]}
        with pytest.raises(BadQuantity):
            _run(broken)
    far = [dict(e) for e in evs]
    far[1] = far[1] | {"tlc:distanceKm": "1000000"}
    with pytest.raises(BadQuantity, match="beyond any plausible"):
        _run(far)
    loop = evs + [evs[3] | {"inputQuantityList": [q(TEA, "P1", 10, None)], "outputQuantityList": [q(LEAVES, "L1", 5)]}]
    with pytest.raises(GenealogyCycle, match="cycle in the genealogy"):
        _run(loop)
    for broken_table in (
        {"transport": {"truck": {"ambient": "1"}}},
        {"storage": {"ambient": "-1"}},
        {"electricity": {"kgCO2ePerKWh": 0.6}} | {"version": ""},
    ):
        with pytest.raises(BadQuantity):
            factors.parse(table(PUBLISHER, LEAVES) | broken_table)


def test_the_document_is_valid_pact_v3_and_a_bad_one_is_not():
    r = _run(events(LEAVES, TEA, DUST))
    doc = pact.document(
        r,
        "0b3c1f7e-2a4d-4c1b-9a55-7d7e6a1c0f11",
        datetime(2026, 11, 9, tzinfo=UTC),
        "Tea Co",
        ["urn:epc:id:pgln:0614141.00001"],
        "Wuyi rock tea",
        preceding=["1b3c1f7e-2a4d-4c1b-9a55-7d7e6a1c0f11"],
    )
    validator = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())
    validator.validate(doc)
    assert (
        doc["productIds"] == [f"urn:pact:id.gs1.org:product-id:01/{TEA}/10/P1"]
        and doc["pcf"]["declaredUnitOfMeasurement"] == "piece"
    )
    for broken in (
        {"status": "Gone"},
        {"pcf": doc["pcf"] | {"declaredUnitAmount": "0"}},
        {"pcf": doc["pcf"] | {"biogenicCO2Uptake": "0.5"}},
        {"companyIds": []},
    ):
        assert list(validator.iter_errors(doc | broken)), broken


def test_factor_tables_are_signed_by_their_publisher():
    from eth_account import Account

    key = Account.create("carbon test")
    doc = table(key.address, LEAVES)
    sig = factors.sign(doc, bytes(key.key))
    assert factors.signer_of(doc, sig) == key.address.lower()
    assert factors.signer_of(doc | {"version": "2026.2"}, sig) != key.address.lower()


def test_a_batch_product_id_is_a_urn_and_reads_back():
    for lot in ("P1", "A/B 1", 'x"<>?#%'):
        urn = pact.product_id(TEA, lot)
        assert urn.startswith("urn:pact:id.gs1.org:product-id:01/") and not any(c in urn for c in ' "<>?#')
        assert pact.batch_of(urn) == (TEA, lot)
    assert pact.batch_of(f"https://id.gs1.org/01/{TEA}/10/P1") == (TEA, "P1")  # published before
