"""Emission-factor tables as data: a versioned JSON document published by one member, its
canonical SHA-256 the thing signed (EIP-191, by the publisher's key) and anchored on chain
(`Provenance.anchor(hash, 1, "carbon:factors/<version>")`, sent by the publisher).

A table holds, as decimal strings (never floats):
- `electricity.kgCO2ePerKWh`: grid intensity for process energy;
- `transport.<mode>.<ambient|chilled|frozen>`: kg CO2e per tonne-kilometre (ISO 14083 / GLEC
  well-to-wheel intensities; refrigerated legs carry the reefer unit's share, so they are higher);
- `storage.<ambient|chilled|frozen>`: kg CO2e per tonne-day at a hub;
- `materials.<GTIN>`: `kgCO2ePerKg` (fossil, cradle-to-gate) and optional
  `biogenicCO2UptakePerKg` (<= 0) for batches no TransformationEvent makes;
- `source` {name, version}: the secondary database they come from (PACT
  `secondaryEmissionFactorSources`), `characterisationFactors` (e.g. ["AR6"]), `country` (ISO
  3166-1 alpha-2: where its grid and fleet figures hold; the footprint's `geographyCountry`)."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from decimal import Decimal

from eth_account import Account
from eth_account.messages import encode_defunct

from .quantities import BadQuantity, bounded, dec

MODES = ("road", "rail", "sea", "inland_waterway", "air")
TEMPERATURES = ("ambient", "chilled", "frozen")
MAX_FACTOR = Decimal(1000)
_VERSION = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]{0,39}$")
_GTIN = re.compile(r"^\d{14}$")
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


def canonical(doc: dict) -> bytes:
    """The bytes hashed and signed: keys sorted, no spaces, UTF-8."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sha256_hex(doc: dict) -> str:
    return "0x" + hashlib.sha256(canonical(doc)).hexdigest()


@dataclass(frozen=True)
class FactorTable:
    doc: dict
    version: str
    publisher: str
    electricity: Decimal
    transport: dict[tuple[str, str], Decimal]
    storage: dict[str, Decimal]
    materials: dict[str, tuple[Decimal, Decimal]]  # GTIN -> (fossil kg CO2e/kg, biogenic uptake/kg)

    @property
    def hash(self) -> str:
        return sha256_hex(self.doc)

    def source(self) -> dict:
        return {"name": self.doc["source"]["name"], "version": self.doc["source"]["version"]}


def _factor(value: object, what: str) -> Decimal:
    return bounded(dec(value, what), what, MAX_FACTOR)


def parse(doc: object) -> FactorTable:
    """A table checked whole: every figure a non-negative decimal string within bounds, modes and
    temperatures named from the known sets; what a table omits stays omitted (a footprint that needs
    it says so)."""
    if not isinstance(doc, dict):
        raise BadQuantity("a factor table is a JSON object")
    version, publisher = doc.get("version"), doc.get("publisher")
    if not isinstance(version, str) or not _VERSION.match(version):
        raise BadQuantity("factor table: version must be 1-40 letters, digits, '.', '_' or '-'")
    if not isinstance(publisher, str) or not _ADDRESS.match(publisher):
        raise BadQuantity("factor table: publisher must be the publishing member's address")
    src = doc.get("source")
    if not (isinstance(src, dict) and all(isinstance(src.get(k), str) and src[k] for k in ("name", "version"))):
        raise BadQuantity("factor table: source needs a name and a version")
    for name in ("electricity", "transport", "storage", "materials"):
        if not isinstance(doc.get(name, {}), dict):
            raise BadQuantity(f"factor table: {name} must be an object")
    for key, value in doc.items():
        if key not in (
            "version",
            "publisher",
            "published",
            "source",
            "characterisationFactors",
            "electricity",
            "transport",
            "storage",
            "materials",
            "comment",
            "country",
        ):
            raise BadQuantity(f"factor table: unknown field {key!r}")
        if key in ("transport", "storage", "materials", "electricity") and not isinstance(value, dict):
            raise BadQuantity(f"factor table: {key} must be an object")
    cf = doc.get("characterisationFactors", ["AR6"])
    if not (isinstance(cf, list) and cf and all(isinstance(x, str) and re.fullmatch(r"AR\d{1,2}", x) for x in cf)):
        raise BadQuantity('factor table: characterisationFactors is a non-empty list like ["AR6"]')
    if len(set(cf)) != len(cf):  # they become PACT's ipccCharacterizationFactors, a set (uniqueItems)
        raise BadQuantity("factor table: characterisationFactors names each report once")
    if "country" in doc and not (isinstance(doc["country"], str) and re.fullmatch(r"[A-Z]{2}", doc["country"])):
        raise BadQuantity("factor table: country is an ISO 3166-1 alpha-2 code")
    elec = doc.get("electricity", {}).get("kgCO2ePerKWh")
    electricity = _factor(elec, "factor table electricity.kgCO2ePerKWh") if elec is not None else Decimal(-1)
    transport = {}
    for mode, temps in doc.get("transport", {}).items():
        if mode not in MODES or not isinstance(temps, dict):
            raise BadQuantity(f"factor table: transport mode {mode!r} is not one of {', '.join(MODES)}")
        for temp, value in temps.items():
            if temp not in TEMPERATURES:
                raise BadQuantity(f"factor table: transport.{mode}.{temp}: not one of {', '.join(TEMPERATURES)}")
            transport[(mode, temp)] = _factor(value, f"factor table transport.{mode}.{temp}")
    storage = {}
    for temp, value in doc.get("storage", {}).items():
        if temp not in TEMPERATURES:
            raise BadQuantity(f"factor table: storage.{temp}: not one of {', '.join(TEMPERATURES)}")
        storage[temp] = _factor(value, f"factor table storage.{temp}")
    materials = {}
    for gtin, entry in doc.get("materials", {}).items():
        if not _GTIN.match(gtin) or not isinstance(entry, dict) or "kgCO2ePerKg" not in entry:
            raise BadQuantity(f"factor table: materials.{gtin}: a GTIN-14 with kgCO2ePerKg")
        uptake = dec(entry.get("biogenicCO2UptakePerKg", "0"), f"materials.{gtin}.biogenicCO2UptakePerKg")
        if uptake > 0 or uptake < -MAX_FACTOR:
            raise BadQuantity(f"factor table: materials.{gtin}.biogenicCO2UptakePerKg must be <= 0")
        materials[gtin] = (_factor(entry["kgCO2ePerKg"], f"factor table materials.{gtin}.kgCO2ePerKg"), uptake)
    return FactorTable(doc, version, publisher.lower(), electricity, transport, storage, materials)


def sign(doc: dict, key: bytes) -> str:
    """The publisher's EIP-191 signature over the table's canonical hash (hex)."""
    message = encode_defunct(text=sha256_hex(doc))
    return "0x" + Account.sign_message(message, key).signature.hex().removeprefix("0x")


def signer_of(doc: dict, signature: str) -> str:
    """The address that signed the table (lower case); raises BadQuantity for a malformed signature."""
    try:
        return Account.recover_message(encode_defunct(text=sha256_hex(doc)), signature=signature).lower()
    except Exception as exc:  # noqa: BLE001 - any unreadable signature is a bad input
        raise BadQuantity(f"factor table signature: {exc}") from None
