"""Generated EPCIS 2.0 documents, for tests and benchmarks, covering the standard's breadth (all five
event types, EPC URNs of every scheme, Digital Link URIs with short names and foreign domains, CBV short names / URNs /
CURIEs / URIs, quantities, business transactions, sources and destinations, sensor data, ILMD,
persistent dispositions, certification info, error declarations, nested vendor extensions, time
zone offsets). Deterministic for a seed, so a failure can be replayed."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

from ledger.trace.gs1 import check_digit

CONTEXT = [
    "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
    {"example": "http://ns.example.com/epcis/"},
]
BIZ_STEPS = ["shipping", "receiving", "commissioning", "packing", "inspecting", "storing", "accepting"]
DISPOSITIONS = ["in_transit", "in_progress", "active", "sellable_accessible", "recalled", "conformant"]


def _cp(r: random.Random) -> str:
    return "".join(r.choice("0123456789") for _ in range(r.choice([6, 7, 9, 12])))


def _digits(r: random.Random, n: int) -> str:
    return "".join(r.choice("0123456789") for _ in range(n))


def _serial(r: random.Random) -> str:
    return r.choice(["2017", "A1b2", "x-9_8", "007", "AB.12", r.choice(["s!1", "q(1)"]), _digits(r, r.randint(1, 10))])


def epc(r: random.Random) -> str:
    """An instance-level identifier in one of the ways EPCIS allows."""
    cp = _cp(r)
    kind = r.randrange(9)
    if kind == 0:
        return f"urn:epc:id:sscc:{cp}.{_digits(r, 17 - len(cp))}"
    if kind == 1:
        return f"urn:epc:id:sgln:{cp}.{_digits(r, 12 - len(cp))}.{r.choice(['0', '12', 'dock-1'])}"
    if kind == 2:
        return f"urn:epc:id:giai:{cp}.{_serial(r)}"
    if kind == 3:
        return f"urn:epc:id:grai:{cp}.{_digits(r, 12 - len(cp))}.{_serial(r)}" if len(cp) < 12 else epc(r)
    gtin = _digits(r, 13)
    gtin += str(check_digit(gtin))
    if kind == 4:
        host = r.choice(["https://id.gs1.org", "https://example.com/shop", "http://brand.example.cn"])
        short = r.random() < 0.3
        lot = f"/{'lot' if short else '10'}/L{r.randint(1, 99)}" if r.random() < 0.3 else ""
        query = "?17=261231" if r.random() < 0.3 else ""
        return f"{host}/{'gtin' if short else '01'}/{gtin}{lot}/{'ser' if short else '21'}/{_serial(r)}{query}"
    if kind == 5:
        return f"https://id.gs1.org/01/{gtin[1:] if gtin[0] == '0' else gtin}/21/{_serial(r)}"
    return f"urn:epc:id:sgtin:{cp}.{gtin[0]}{_digits(r, 12 - len(cp))}.{_serial(r)}"


def epc_class(r: random.Random) -> str:
    cp = _cp(r)
    ref = str(r.randint(0, 9)) + _digits(r, 12 - len(cp))
    return r.choice(
        [
            f"urn:epc:class:lgtin:{cp}.{ref}.LOT{r.randint(1, 999)}",
            f"urn:epc:idpat:sgtin:{cp}.{ref}.*",
            f"https://id.gs1.org/01/0{_digits(r, 12)}7/10/{r.randint(1, 99)}",
        ]
    )


def _time(r: random.Random) -> tuple[str, str]:
    t = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(
        seconds=r.randint(0, 10**8), microseconds=r.randint(0, 999_499)
    )  # the reference crashes when ms round up to a new second
    hours = r.choice([-6, 0, 2, 8])
    local = t.astimezone(timezone(timedelta(hours=hours)))
    text = local.isoformat(timespec=r.choice(["seconds", "milliseconds", "microseconds"]))
    if hours == 0 and r.random() < 0.5:
        text = text.replace("+00:00", "Z")
    return text, f"{'-' if hours < 0 else '+'}{abs(hours):02d}:00"


URNS = False  # old CBV URNs hash like the web vocabulary, but EPCIS 2.0 JSON documents may not use them


def _vocab(r: random.Random, short: str, urn_kind: str, web_kind: str) -> str:
    forms = [short, short, f"https://ref.gs1.org/cbv/{web_kind}-{short}"]
    return r.choice([*forms, f"urn:epcglobal:cbv:{urn_kind}:{short}"] if URNS else forms)


def _quantities(r: random.Random) -> list[dict]:
    out = []
    for _ in range(r.randint(1, 3)):
        q = {"epcClass": epc_class(r), "quantity": r.choice([200, 10, 12.5, 3.0])}
        if r.random() < 0.6:
            q["uom"] = r.choice(["KGM", "LTR", "EA"])
        out.append(q)
    return out


def _sensor(r: random.Random) -> dict:
    t, _ = _time(r)
    reports = []
    for _ in range(r.randint(1, 3)):
        rep = {"type": r.choice(["Temperature", "gs1:Humidity", "RelativeHumidity"]), "value": r.choice([26, 4.5, -1])}
        if r.random() < 0.5:
            rep["uom"] = r.choice(["CEL", "A93"])
        if r.random() < 0.3:
            rep["example:calibration"] = "2024-01"
        reports.append(rep)
    return {
        "sensorMetadata": {"time": t, "deviceID": f"urn:epc:id:giai:4000001.{r.randint(1, 999)}"},
        "sensorReport": reports,
    }


def event(r: random.Random) -> dict:
    kind = r.choice(["ObjectEvent", "AggregationEvent", "TransformationEvent", "AssociationEvent", "TransactionEvent"])
    when, offset = _time(r)
    e: dict = {"type": kind, "eventTime": when, "eventTimeZoneOffset": offset}
    if r.random() < 0.3:
        e["recordTime"] = _time(r)[0]
    if r.random() < 0.3:
        e["eventID"] = f"urn:uuid:{r.getrandbits(128):032x}"
    if kind == "TransformationEvent":
        e["inputEPCList"] = [epc(r) for _ in range(r.randint(1, 3))]
        e["outputEPCList"] = [epc(r) for _ in range(r.randint(1, 3))]
        if r.random() < 0.5:
            e["inputQuantityList"] = _quantities(r)
        if r.random() < 0.3:
            e["transformationID"] = f"urn:epc:id:gdti:0614141.12345.{r.randint(1, 99)}"
    else:
        e["action"] = r.choice(["OBSERVE", "ADD", "DELETE"])
        if kind in ("AggregationEvent", "AssociationEvent"):
            e["parentID"] = epc(r)
            e["childEPCs"] = [epc(r) for _ in range(r.randint(1, 3))]
            if r.random() < 0.4:
                e["childQuantityList"] = _quantities(r)
        else:
            e["epcList"] = [epc(r) for _ in range(r.randint(1, 4))]
            if r.random() < 0.4:
                e["quantityList"] = _quantities(r)
    e["bizStep"] = _vocab(r, r.choice(BIZ_STEPS), "bizstep", "BizStep")
    e["disposition"] = _vocab(r, r.choice(DISPOSITIONS), "disp", "Disp")
    if kind in ("ObjectEvent", "TransformationEvent") and r.random() < 0.2:
        e["persistentDisposition"] = {"set": ["completeness_verified"], "unset": ["completeness_inferred"]}
    e["readPoint"] = {"id": epc(r) if r.random() < 0.2 else f"urn:epc:id:sgln:0614141.07346.{r.randint(0, 9)}"}
    if r.random() < 0.6:
        e["bizLocation"] = {"id": "urn:epc:id:sgln:0012345.11111.0"}
    if kind == "TransactionEvent" or r.random() < 0.5:
        e["bizTransactionList"] = [
            {
                "type": _vocab(r, t, "btt", "BTT"),
                "bizTransaction": f"http://transaction.acme.com/{t}/{r.randint(1, 10**6)}",
            }
            for t in r.sample(["po", "desadv", "inv", "bol"], r.randint(1, 2))
        ]
    if r.random() < 0.4:
        e["sourceList"] = [
            {"type": _vocab(r, "possessing_party", "sdt", "SDT"), "source": "urn:epc:id:pgln:4012345.00001"}
        ]
        e["destinationList"] = [{"type": "location", "destination": "urn:epc:id:sgln:0614141.00777.0"}]
    if r.random() < 0.3:
        e["sensorElementList"] = [_sensor(r) for _ in range(r.randint(1, 2))]
    if (kind == "TransformationEvent" or e.get("action") == "ADD" and kind == "ObjectEvent") and r.random() < 0.6:
        e["ilmd"] = {"example:bestBeforeDate": "2026-12-10", "example:batch": f"B{r.randint(1, 99)}"}
    if r.random() < 0.5:
        e["example:myField"] = r.choice(["Example of a vendor/user extension", "12.50", "nested"])
        if e["example:myField"] == "nested":
            e["example:myField"] = {"example:a": "1", "example:b": {"example:c": "deep"}}
    if r.random() < 0.1:
        e["certificationInfo"] = "https://cert.example.com/ci/42"
    if r.random() < 0.1:
        e["errorDeclaration"] = {"declarationTime": _time(r)[0], "reason": "incorrect_data"}
    return e


def document(r: random.Random, n: int = 1, urns: bool = False) -> dict:
    """A valid EPCIS 2.0 document of `n` events (`urns`: also old CBV URNs, which the hash
    accepts but the JSON schema does not)."""
    global URNS
    URNS = urns
    return {
        "@context": CONTEXT,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-11-24T08:00:00.000Z",
        "epcisBody": {"eventList": [event(r) for _ in range(n)]},
    }


def delivery_document(
    transactions: list[tuple[str, str]], serial: str, step: str = "receiving", when: str | None = None
) -> dict:
    """A carrier's EPCIS document recording that goods (one SGTIN, `serial`) reached the consignee at
    `when` (default: now, to the second, in Beijing time), naming `transactions` ((CBV type, id)
    pairs: `po` with an order id names the order, `desadv` a despatch advice) in its
    bizTransactionList; a delivery names such an event (`ledger.money.orders.deliveries`)."""
    when = when or datetime.now(timezone(timedelta(hours=8))).replace(microsecond=0).isoformat()
    event = {
        "type": "ObjectEvent",
        "eventTime": when,
        "eventTimeZoneOffset": "+08:00",
        "epcList": [f"urn:epc:id:sgtin:0614141.107346.{serial}"],
        "action": "OBSERVE",
        "bizStep": f"https://ref.gs1.org/cbv/BizStep-{step}",
        "bizTransactionList": [
            {"type": kind, "bizTransaction": f"urn:epcglobal:cbv:bt:0614141000005:{name}"}
            for kind, name in transactions
        ],
    }
    return {
        "@context": CONTEXT,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-12-01T00:00:00Z",
        "epcisBody": {"eventList": [event]},
    }
