"""A footprint in short, as the scan page, its JSON and `/v1/carbon` show it."""

from __future__ import annotations

import json

from ledger.carbon import pact
from ledger.carbon.footprint import STAGES
from ledger.store.carbon_tables import CarbonFootprint


def summary(row: CarbonFootprint) -> dict:
    doc = json.loads(row.body)
    pcf = doc["pcf"]
    stages = pact.stages_of(doc)
    return {
        "id": row.id,
        "status": row.status,
        "perUnit": pcf["pcfExcludingBiogenicUptake"],
        "unit": pcf["declaredUnitOfMeasurement"],
        "primaryDataShare": pcf["primaryDataShare"],
        "stages": {s: stages.get(s) for s in STAGES},
        "boundary": "cradle-to-gate + recorded distribution",
        "block": row.block_number,
        "tx": row.tx_hash,
        "root": row.root,
        "precedingPfIds": doc.get("precedingPfIds", []),
        "pact": f"/pact/3/footprints/{row.id}",
        "evidence": f"/v1/carbon/footprints/{row.id}/evidence",
    }
