"""A computed footprint as a WBCSD PACT v3 `ProductFootprint` (Technical Specifications 3.0):
`productIds` is the batch as an RFC 8141 URN (PACT 3.0 "Product Identifier URNs": each product ID
MUST be a URN; `urn:pact:id.gs1.org:product-id:01/<GTIN>/10/<lot>`, the GS1 Digital Link path),
decimals are strings, `pcf` carries the declared unit (`piece` when the batch is counted in
pieces), the reference period (the first and last event used), fossil and biogenic parts,
`ipccCharacterizationFactors`, the boundary and allocation rules, the computed `primaryDataShare`
and the factor table as a secondary source."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, unquote

from .footprint import STAGES, Result

SPEC_VERSION = "3.0.0"
CROSS_SECTORAL = ["ISO14067", "ISO14083", "GHGP-Product", "PACT-3.0"]
BOUNDARY = (
    "Cradle-to-gate of the batch plus its recorded distribution: materials (factor table), processing "
    "energy of each TransformationEvent, transport legs (shipping/receiving pairs, ISO 14083 / GLEC "
    "intensities by mode and temperature control) and hub storage, as recorded in the batch's EPCIS "
    "genealogy."
)
ALLOCATION = (
    "Mass allocation: a TransformationEvent's inputs and process energy are shared among its outputs "
    "by output mass; an input carries its batch's kg CO2e per kg as of the transformation; transport "
    "and storage of a batch are spread over its whole mass. Aggregation only repackages."
)


_STAGE = re.compile(r"\b(" + "|".join(STAGES) + r") (-?\d+\.\d+)\b")


def stages_of(doc: dict) -> dict[str, str]:
    """The breakdown by stage a document's comment states (kg CO2e per declared unit)."""
    return dict(_STAGE.findall(doc.get("comment", "")))


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


URN_PREFIX = "urn:pact:id.gs1.org:product-id:"
_LOT_SAFE = "!$&'()*+,;=:@-._~"  # RFC 8141 pchar, less "/" (it ends the GTIN) and "%" (it escapes)


def product_id(gtin: str, lot: str) -> str:
    """The batch as an RFC 8141 URN: PACT's own namespace (its "urn:pact:$domain-of-issuer$:
    $identifier-type$:$id$"), GS1 as the issuer, the Digital Link path as the id."""
    return f"{URN_PREFIX}01/{gtin}/10/{quote(lot, safe=_LOT_SAFE)}"


def batch_of(product: str) -> tuple[str, str]:
    """GTIN and lot of a footprint's product ID: the URN above, or the Digital Link URI footprints
    published before it carried (`https://id.gs1.org/01/<GTIN>/10/<lot>`)."""
    if product.startswith(URN_PREFIX):
        gtin, _, lot = product[len(URN_PREFIX) :].removeprefix("01/").partition("/10/")
        return gtin, unquote(lot)
    return product.split("/01/")[1].split("/")[0], product.split("/10/")[1].split("/")[0]


def document(
    result: Result,
    pf_id: str,
    created: datetime,
    company_name: str,
    company_ids: list[str],
    product_name: str,
    preceding: list[str] | None = None,
    status: str = "Active",
    classifications: list[str] | None = None,
) -> dict:
    """The ProductFootprint of a complete result (an incomplete one is never published)."""
    if not result.complete or result.period is None:
        raise ValueError("an incomplete footprint is not published")
    f = result.figures()
    start, end = result.period
    end = max(end, start + timedelta(seconds=1))
    pcf = {
        "declaredUnitOfMeasurement": f["declaredUnitOfMeasurement"],
        "declaredUnitAmount": "1",
        "productMassPerDeclaredUnit": f["productMassPerDeclaredUnit"],
        "referencePeriodStart": _iso(start),
        "referencePeriodEnd": _iso(end),
        "boundaryProcessesDescription": BOUNDARY,
        "pcfExcludingBiogenicUptake": f["pcfExcludingBiogenicUptake"],
        "pcfIncludingBiogenicUptake": f["pcfIncludingBiogenicUptake"],
        "fossilCarbonContent": "0",
        "fossilGhgEmissions": f["fossilGhgEmissions"],
        "biogenicCO2Uptake": f["biogenicCO2Uptake"],
        "packagingEmissionsIncluded": False,
        "ipccCharacterizationFactors": list(result.table.doc.get("characterisationFactors") or ["AR6"]),
        "crossSectoralStandards": CROSS_SECTORAL,
        "exemptedEmissionsPercent": "0",
        "exemptedEmissionsDescription": "",
        "allocationRulesDescription": ALLOCATION,
        "secondaryEmissionFactorSources": [result.table.source()],
        "primaryDataShare": f["primaryDataShare"],
    }
    if "country" in result.table.doc:
        pcf["geographyCountry"] = result.table.doc["country"]
    doc = {
        "id": pf_id,
        "specVersion": SPEC_VERSION,
        "created": _iso(created),
        "status": status,
        "validityPeriodStart": _iso(end),
        "validityPeriodEnd": _iso(end + timedelta(days=3 * 365)),
        "companyName": company_name,
        "companyIds": company_ids,
        "productDescription": f"{product_name}, lot {result.lot}",
        "productIds": [product_id(result.gtin, result.lot)],
        "productNameCompany": product_name,
        "comment": "Computed from the batch's anchored EPCIS events; stages (kg CO2e per declared unit): "
        + ", ".join(f"{s} {f['stage.' + s]}" for s in STAGES)
        + f"; factor table {result.table.version} ({result.table.hash}).",
        "pcf": pcf,
    }
    if preceding:
        doc["precedingPfIds"] = preceding
    if classifications:
        doc["productClassifications"] = classifications
    return doc
