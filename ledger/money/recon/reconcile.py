"""Reconciliation: the platform's orders against what the chain says happened to them.

Orders come from the `orders` table or a CSV export (order_id, merchant, amount_fen, status,
referrers, time; an `order_key` column, or keys derived with the platform's secret). Chain records
come from the indexed `OrderSettlement` events (escrowed, delivered, disputed, settled, refunded;
final or still pending). Every order row and every on-chain escrow gets
exactly one class:

- `matched`: on chain, final, same merchant, amount and status;
- `missing_on_chain`: no escrow on chain for the order;
- `unknown_on_chain`: an escrow on chain that no order names;
- `amount_mismatch`: the escrowed amount differs from the order's;
- `merchant_mismatch`: the escrow pays another merchant than the order names;
- `status_mismatch`: e.g. refunded off chain but settled on chain;
- `duplicate`: the order id appears again in the orders (the first occurrence is classified
  on its own merits, each repeat is a duplicate);
- `pending`: on chain but not yet final (fewer confirmations than required).

Totals in fen per class and per merchant add up: the sum over classes equals the sum of every
order row's amount plus the amount of every unknown on-chain escrow. Output is sorted and carries
no clock, so the same inputs give the same report byte for byte.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ledger import csv_cells

try:  # compiled keccak: ~6x faster than the pure fallback, which matters at a million orders
    from sha3 import keccak_256 as _keccak

    def order_key_hex(order_id: str) -> str:
        return "0x" + _keccak(order_id.encode()).hexdigest()
except ImportError:  # pragma: no cover
    from eth_utils import keccak

    def order_key_hex(order_id: str) -> str:
        return "0x" + keccak(text=order_id).hex()


CLASSES = (
    "matched",
    "missing_on_chain",
    "unknown_on_chain",
    "amount_mismatch",
    "merchant_mismatch",
    "status_mismatch",
    "duplicate",
    "pending",
)
#: off-chain status words => the chain's three states
STATUS_WORDS = {
    "escrowed": "escrowed",
    "paid": "escrowed",
    "shipped": "escrowed",
    "pending": "escrowed",
    "settled": "settled",
    "completed": "settled",
    "delivered": "delivered",
    "disputed": "disputed",
    "confirmed": "settled",
    "refunded": "refunded",
    "cancelled": "refunded",
    "canceled": "refunded",
}


@dataclass(slots=True)
class OrderRow:
    order_id: str
    merchant: str
    amount_fen: int
    status: str
    order_key: str = ""


@dataclass(slots=True)
class ChainRecord:
    order_key: str
    merchant: str
    amount_fen: int
    status: str = "escrowed"
    final: bool = True
    block: int = 0  # of its latest event


@dataclass
class Report:
    rows: list[dict[str, Any]]
    totals: dict[str, dict[str, int]]
    merchants: dict[str, dict[str, int]]
    inputs: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"inputs": self.inputs, "totals": self.totals, "merchants": self.merchants, "rows": self.rows}

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), sort_keys=True, indent=1)

    def to_csv(self) -> str:
        out = io.StringIO()
        cols = [
            "class",
            "order_id",
            "order_key",
            "merchant",
            "order_amount_fen",
            "chain_amount_fen",
            "order_status",
            "chain_status",
            "final",
            "detail",
        ]
        w = csv.DictWriter(out, fieldnames=cols, lineterminator="\n")
        w.writeheader()
        for r in self.rows:
            w.writerow(csv_cells.cells({c: r.get(c, "") for c in cols}))
        return out.getvalue()


def judge(o: OrderRow, key: str, c: ChainRecord | None, duplicate: bool = False) -> dict[str, Any]:
    """The row for one order: its class against its chain record (None: none on chain)."""
    row: dict[str, Any] = {
        "order_id": o.order_id,
        "order_key": key,
        "merchant": o.merchant,
        "order_amount_fen": o.amount_fen,
        "order_status": o.status,
    }
    if duplicate:
        row["class"] = "duplicate"
        return row
    if c is None:
        row["class"] = "missing_on_chain"
        return row
    row["chain_amount_fen"], row["chain_status"], row["final"] = c.amount_fen, c.status, c.final
    row["chain_block"] = c.block
    if not c.final:
        row["class"] = "pending"
    elif c.amount_fen != o.amount_fen:
        row["detail"] = f"order says {o.amount_fen} fen, chain escrowed {c.amount_fen}"
        row["class"] = "amount_mismatch"
    elif c.merchant != o.merchant:
        row["detail"] = f"chain pays {c.merchant}"
        row["class"] = "merchant_mismatch"
    elif STATUS_WORDS.get(o.status.lower(), o.status.lower()) != c.status:
        row["detail"] = f"{o.status} off chain, {c.status} on chain"
        row["class"] = "status_mismatch"
    else:
        row["class"] = "matched"
    return row


def unknown_row(c: ChainRecord) -> dict[str, Any]:
    return {
        "class": "unknown_on_chain",
        "order_id": None,
        "order_key": c.order_key,
        "merchant": c.merchant,
        "chain_amount_fen": c.amount_fen,
        "chain_status": c.status,
        "final": c.final,
        "chain_block": c.block,
        "detail": "no order names this escrow",
    }


def reconcile(orders: Iterable[OrderRow], chain: dict[str, ChainRecord]) -> Report:
    """Classify every order row and every on-chain escrow; see the module docstring."""
    totals = {c: {"count": 0, "amount_fen": 0} for c in CLASSES}
    merchants: dict[str, dict[str, int]] = {}
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    used: set[str] = set()
    n_orders = 0

    def add(cls: str, merchant: str, amount: int, row: dict[str, Any]) -> None:
        t = totals[cls]
        t["count"] += 1
        t["amount_fen"] += amount
        m = merchants.get(merchant)
        if m is None:
            m = merchants[merchant] = dict.fromkeys(CLASSES, 0)
        m[cls] += amount
        row["class"] = cls
        rows.append(row)

    for o in orders:
        n_orders += 1
        key = o.order_key or order_key_hex(o.order_id)
        c = None if o.order_id in seen else chain.get(key)
        row = judge(o, key, c, duplicate=o.order_id in seen)
        seen.add(o.order_id)
        if c is not None:
            used.add(key)
        add(row["class"], o.merchant, o.amount_fen, row)
    for key, c in chain.items():
        if key not in used:
            add("unknown_on_chain", c.merchant, c.amount_fen, unknown_row(c))
    rows.sort(key=lambda r: (r["order_id"] is None, r["order_id"] or "", r["order_key"], r["class"]))
    return Report(
        rows=rows,
        totals=totals,
        merchants=dict(sorted(merchants.items())),
        inputs={"order_rows": n_orders, "chain_escrows": len(chain)},
    )
