"""From accepted readings to EPCIS 2.0 events, with cold-chain excursions flagged.

Per batch and subject (a lot or shipment identifier) the temperature readings become one
ObjectEvent (action OBSERVE, bizStep sensor_reporting) whose `sensorElementList` carries min, max
and mean, the device (`deviceID`, its GIAI as a Digital Link), how they were reduced
(`dataProcessingMethod`) and the signed batch it came from (`rawData`: the SM3 of its body). When
the readings spend more than the rule's grace minutes outside the allowed range, a second
sensorReport says `exception: ALARM_CONDITION`. Tag reads become one ObjectEvent per subject
listing the EPCs read. Every event names its batch (`tl:deviceBatch`). Rules are data
(`ColdChainRule` per GTIN), the default is chilled 0-8 °C; frozen goods are at or below -18 °C
(GB/T 24616)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import unquote

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.store.device_tables import ColdChainRule

CONTEXT = [
    "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
    {"tl": "https://traceledger.example/ns/devices#"},
]
METHOD = "https://traceledger.example/devices/methods/window-min-max-mean"
_GTIN = re.compile(r"^https://id\.gs1\.org/01/(\d{14})")
#: ΔH/R for mean kinetic temperature (83.144 kJ/mol over R), in kelvin
MKT_DH_R = 10_000.0


@dataclass(frozen=True)
class Rule:
    min_c: float | None = 0.0
    max_c: float | None = 8.0
    grace_minutes: float = 0.0

    def outside(self, v: float) -> bool:
        return (self.min_c is not None and v < self.min_c) or (self.max_c is not None and v > self.max_c)


CHILLED, FROZEN = Rule(0.0, 8.0), Rule(None, -18.0)


def rules_for(db: Session, subjects: set[str]) -> dict[str, Rule]:
    gtins = {m.group(1): s for s in subjects if s and (m := _GTIN.match(s))}
    found = {}
    if gtins:
        for r in db.scalars(select(ColdChainRule).where(ColdChainRule.gtin.in_(gtins))):
            found[r.gtin] = Rule(r.min_c, r.max_c, r.grace_minutes)
    return {s: found.get(m.group(1), CHILLED) if (m := _GTIN.match(s or "")) else CHILLED for s in subjects}


def mean_kinetic_c(values: list[float]) -> float:
    """Mean kinetic temperature (°C) of equally spaced readings."""
    k = [v + 273.15 for v in values]
    return MKT_DH_R / -math.log(sum(math.exp(-MKT_DH_R / t) for t in k) / len(k)) - 273.15


def minutes_outside(readings: list[dict], rule: Rule) -> float:
    """Cumulative minutes outside the rule: each interval between consecutive readings counts when
    the reading that opens it is outside."""
    rs = sorted(readings, key=lambda r: r["at"])
    return sum(
        (b["at"] - a["at"]).total_seconds() / 60 for a, b in zip(rs, rs[1:], strict=False) if rule.outside(a["value"])
    )


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _what(subject: str) -> dict:
    if _GTIN.match(subject) and "/21/" not in subject:
        return {"quantityList": [{"epcClass": subject}]}
    return {"epcList": [subject]}


def events_for(giai: str, batch_sm3: str, readings: list[dict], rules: dict[str, Rule]) -> list[dict]:
    device = f"https://id.gs1.org/8004/{giai}"
    out: list[dict] = []
    temps: dict[str, list[dict]] = {}
    tags: dict[str, list[dict]] = {}
    for r in readings:
        if r["kind"] == "temp" and r["subject"]:
            temps.setdefault(r["subject"], []).append(r)
        elif r["kind"] in ("rfid", "nfc"):
            tags.setdefault(r["subject"] or "", []).append(r)
    for subject, rs in temps.items():
        values = [r["value"] for r in rs]
        start, end = min(r["at"] for r in rs), max(r["at"] for r in rs)
        meta = {
            "startTime": _iso(start),
            "endTime": _iso(end),
            "deviceID": device,
            "dataProcessingMethod": METHOD,
            "rawData": f"urn:traceledger:device-batch:sm3:{batch_sm3}",
        }
        report = {
            "type": "gs1:Temperature",
            "minValue": min(values),
            "maxValue": max(values),
            "meanValue": round(sum(values) / len(values), 3),
            "uom": "CEL",
        }
        reports = [report]
        rule = rules.get(subject, CHILLED)
        outside = [r for r in rs if rule.outside(r["value"])]
        if outside and minutes_outside(rs, rule) >= rule.grace_minutes:
            first = min(r["at"] for r in outside)
            bad = [r["value"] for r in outside]
            reports.append(
                {"type": "gs1:Temperature", "exception": "ALARM_CONDITION", "time": _iso(first),
                 "minValue": min(bad), "maxValue": max(bad), "uom": "CEL"}
            )  # fmt: skip
        out.append(
            {
                "type": "ObjectEvent",
                "eventTime": _iso(end),
                "eventTimeZoneOffset": "+00:00",
                "action": "OBSERVE",
                "bizStep": "sensor_reporting",
                "readPoint": {"id": device},
                **_what(subject),
                "sensorElementList": [{"sensorMetadata": meta, "sensorReport": reports}],
            }
        )
    for subject, rs in tags.items():
        epcs = list(dict.fromkeys(r["epc"] for r in rs))
        event = {
            "type": "ObjectEvent",
            "eventTime": _iso(max(r["at"] for r in rs)),
            "eventTimeZoneOffset": "+00:00",
            "action": "OBSERVE",
            "readPoint": {"id": device},
            "epcList": epcs,
        }
        if subject.startswith("urn:epc:id:sgln"):
            event["bizLocation"] = {"id": subject}
        out.append(event)
    for event in out:
        event["tl:deviceBatch"] = batch_sm3
    return out


def has_alarm(event: dict) -> bool:
    return any(
        rep.get("exception") == "ALARM_CONDITION"
        for el in event.get("sensorElementList") or []
        for rep in el.get("sensorReport") or []
    )


_LOT = re.compile(r"^https://id\.gs1\.org/01/(\d{14})/10/([^/?#]+)$")


def alarm_rows(events: list[dict], hash_ids: list[str], device_id: str, recorder: str, now: datetime) -> list[dict]:
    """A `cold_chain_alarms` row for each captured event that raises ALARM_CONDITION."""
    out = []
    for event, hid in zip(events, hash_ids, strict=True):
        for el in event.get("sensorElementList") or []:
            for rep in el.get("sensorReport") or []:
                if rep.get("exception") != "ALARM_CONDITION":
                    continue
                subject = (event.get("quantityList") or [{}])[0].get("epcClass") or (event.get("epcList") or [""])[0]
                m = _LOT.match(subject)
                out.append(
                    {
                        "device_id": device_id, "recorder": recorder, "subject": subject[:300],
                        "gtin": m and m.group(1), "lot": m and unquote(m.group(2))[:60],
                        "event_hash_id": hid, "batch_sm3": event["tl:deviceBatch"],
                        "min_c": rep["minValue"], "max_c": rep["maxValue"],
                        "first_at": datetime.fromisoformat(rep["time"].replace("Z", "+00:00")),
                        "raised_at": now, "status": "open", "orders": "[]", "problems": "[]",
                    }
                )  # fmt: skip
    return out
