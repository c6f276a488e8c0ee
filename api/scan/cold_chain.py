"""A batch's cold chain on the scan: its sensor windows from signed device batches
(`ledger.devices.cold_chain_facts`), cached like the rest of a scan's facts, and the warning a
cold-chain excursion adds to the verdict.

An excursion does not change the verdict: the verdict says whether the item is the one the
merchant issued (authenticity), and a genuine item that sat warm is still genuine. It adds a
warning (`warnings: [{"code": "cold_chain_excursion", ...}]` in the JSON, a red banner under the
verdict on the page), which a consumer reads before the rest of the page."""

from __future__ import annotations

from typing import Any

from ledger.devices.cold_chain_facts import batch_cold_chain

from ..core.services import Services

EXCURSION = "cold_chain_excursion"


async def summary_for(svc: Services, gtin: str, lot: str) -> dict[str, Any] | None:
    def load() -> dict[str, Any] | None:
        with svc.sessions() as db:
            return batch_cold_chain(db, gtin, lot)

    return await svc.scan_cache.aget(("cold chain", gtin, lot), load)


def add_to(data: dict[str, Any], facts: dict[str, Any] | None) -> None:
    """Put the cold chain (and, for an excursion, the warning) into a scan's answer."""
    data["cold_chain"] = facts
    if facts and facts["excursion"]:
        bad = [w for w in facts["windows"] if not w["within"]]
        hi, lo = max(w["max_c"] for w in bad), min(w["min_c"] for w in bad)
        text = f"cold-chain excursion: {len(bad)} of {len(facts['windows'])} sensor windows outside the allowed range"
        data.setdefault("warnings", []).append({"code": EXCURSION, "text": f"{text} (highest {hi} °C, lowest {lo} °C)"})
