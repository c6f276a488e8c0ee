"""A small genealogy for carbon tests: tea leaves (raw, factor-table material) shipped chilled to a
factory, made into boxed tea (pieces) and a by-product by one TransformationEvent with a metered
energy reading, the tea shipped to a shop, stored chilled two days, sold. Expected figures are
worked out by hand in test_carbon_footprint."""

from __future__ import annotations

CTX = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld", {"tlc": "https://ns.traceledger.dev/carbon/"}]
FACTORY, SHOP = "urn:epc:id:sgln:0614141.00001.0", "urn:epc:id:sgln:0614141.00002.0"


def cls(gtin: str, lot: str) -> str:
    return f"https://id.gs1.org/01/{gtin}/10/{lot}"


def q(gtin: str, lot: str, n, uom: str | None = "KGM") -> dict:
    return {"epcClass": cls(gtin, lot), "quantity": n} | ({"uom": uom} if uom else {})


def ev(kind: str, day: int, step: str, **more) -> dict:
    return {
        "type": kind,
        "eventTime": f"2026-11-{day:02d}T08:00:00+08:00",
        "eventTimeZoneOffset": "+08:00",
        "bizStep": step,
        "bizLocation": {"id": FACTORY},
    } | more


def temp(celsius: float) -> list[dict]:
    return [{"sensorReport": [{"type": "gs1:Temperature", "value": celsius, "uom": "CEL"}]}]


def events(leaves: str, tea: str, dust: str, lot: str = "L1", energy: dict | None = None) -> list[dict]:
    """leaves/tea/dust: GTINs. `energy`: the transformation's energy record (default: a meter's 200 kWh)."""
    energy = (
        {"sensorElementList": [{"sensorReport": [{"type": "gs1:Energy", "value": 200, "uom": "KWH"}]}]}
        if energy is None
        else energy
    )
    return [
        ev("ObjectEvent", 1, "commissioning", action="ADD", quantityList=[q(leaves, lot, 1000)]),
        ev(
            "ObjectEvent",
            2,
            "shipping",
            action="OBSERVE",
            quantityList=[q(leaves, lot, 1000)],
            **{"tlc:transportMode": "road", "tlc:distanceKm": "100", "sensorElementList": temp(3)},
        ),
        ev("ObjectEvent", 3, "receiving", action="OBSERVE", quantityList=[q(leaves, lot, 1000)]),
        ev(
            "TransformationEvent",
            4,
            "commissioning",
            inputQuantityList=[q(leaves, lot, 800)],
            outputQuantityList=[q(tea, "P1", 2000, None), q(dust, "D1", 300)],
            ilmd={"cbvmda:netWeight": "250 g"},
            **energy,
        ),
        ev(
            "ObjectEvent",
            5,
            "shipping",
            action="OBSERVE",
            quantityList=[q(tea, "P1", 2000, None)],
            **{"tlc:transportMode": "road", "tlc:distanceKm": "50"},
        ),
        ev(
            "ObjectEvent",
            6,
            "receiving",
            action="OBSERVE",
            quantityList=[q(tea, "P1", 2000, None)],
            bizLocation={"id": SHOP},
        ),
        ev(
            "ObjectEvent",
            6,
            "storing",
            action="OBSERVE",
            quantityList=[q(tea, "P1", 2000, None)],
            bizLocation={"id": SHOP},
            sensorElementList=temp(4),
        ),
        ev(
            "ObjectEvent",
            8,
            "retail_selling",
            action="OBSERVE",
            quantityList=[q(tea, "P1", 10, None)],
            bizLocation={"id": SHOP},
        ),
    ]


def table(publisher: str, leaves: str, version: str = "2026.1", **changes) -> dict:
    doc = {
        "version": version,
        "publisher": publisher,
        "published": "2026-10-01T00:00:00Z",
        "source": {"name": "GLEC Framework defaults (test figures)", "version": "3.0"},
        "characterisationFactors": ["AR6"],
        "electricity": {"kgCO2ePerKWh": "0.6"},
        "transport": {"road": {"ambient": "0.1", "chilled": "0.2", "frozen": "0.25"}, "rail": {"ambient": "0.02"}},
        "storage": {"ambient": "0.05", "chilled": "0.3", "frozen": "0.4"},
        "materials": {leaves: {"kgCO2ePerKg": "0.5", "biogenicCO2UptakePerKg": "-0.1"}},
    }
    return doc | changes
