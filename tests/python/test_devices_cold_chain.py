"""Cold-chain rules as data: excursions by threshold and cumulative minutes, per GTIN, and MKT."""

from datetime import UTC, datetime, timedelta

from ledger.devices import cold_chain
from ledger.store.db import make_engine, migrate, session_factory
from ledger.store.device_tables import ColdChainRule

LOT = "https://id.gs1.org/01/06901234567892/10/L1"
FROZEN_LOT = "https://id.gs1.org/01/06901234567885/10/F1"
T0 = datetime(2026, 12, 1, 8, tzinfo=UTC)


def _temps(values, subject=LOT):
    return [
        {"at": T0 + timedelta(minutes=i), "kind": "temp", "value": v, "uom": "CEL", "epc": None, "subject": subject}
        for i, v in enumerate(values)
    ]


def _alarm(events):
    return [cold_chain.has_alarm(e) for e in events]


def test_threshold_and_grace_minutes(tmp_path):
    assert _alarm(cold_chain.events_for("G1", "ab", _temps([4, 5, 6]), {LOT: cold_chain.CHILLED})) == [False]
    assert _alarm(cold_chain.events_for("G1", "ab", _temps([4, 9, 6]), {LOT: cold_chain.CHILLED})) == [True]
    lenient = cold_chain.Rule(0, 8, grace_minutes=3)
    assert _alarm(cold_chain.events_for("G1", "ab", _temps([4, 9, 9, 6]), {LOT: lenient})) == [False]  # 2 minutes
    assert _alarm(cold_chain.events_for("G1", "ab", _temps([4, 9, 9, 9, 6]), {LOT: lenient})) == [True]  # 3
    event = cold_chain.events_for("G1", "ab", _temps([4, 9, 6]), {LOT: cold_chain.CHILLED})[0]
    meta, reports = event["sensorElementList"][0]["sensorMetadata"], event["sensorElementList"][0]["sensorReport"]
    assert meta["deviceID"] == "https://id.gs1.org/8004/G1" and meta["rawData"].endswith(":ab")
    assert reports[0] == {"type": "gs1:Temperature", "minValue": 4, "maxValue": 9, "meanValue": 6.333, "uom": "CEL"}
    assert reports[1]["exception"] == "ALARM_CONDITION" and reports[1]["time"].startswith("2026-12-01T08:01")
    assert event["quantityList"] == [{"epcClass": LOT}] and event["tl:deviceBatch"] == "ab"


def test_rules_per_gtin_from_the_database(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    migrate(engine)
    with session_factory(engine)() as db:
        db.add(ColdChainRule(gtin="06901234567885", min_c=None, max_c=-18, grace_minutes=0, set_by="0x1", set_at=T0))
        db.commit()
        rules = cold_chain.rules_for(db, {LOT, FROZEN_LOT})
    assert rules[LOT] == cold_chain.CHILLED and rules[FROZEN_LOT] == cold_chain.FROZEN
    assert _alarm(cold_chain.events_for("G1", "ab", _temps([-20, -19], FROZEN_LOT), rules)) == [False]
    assert _alarm(cold_chain.events_for("G1", "ab", _temps([-20, -10], FROZEN_LOT), rules)) == [True]  # no grace
    assert _alarm(cold_chain.events_for("G1", "ab", _temps([-20, -19], LOT), rules)) == [True]  # chilled default


def test_mean_kinetic_temperature():
    assert abs(cold_chain.mean_kinetic_c([5.0, 5.0]) - 5.0) < 1e-9
    mkt = cold_chain.mean_kinetic_c([2.0, 8.0])
    assert 5.0 < mkt < 8.0  # weighted towards the warmer reading
