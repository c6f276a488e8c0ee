"""`ledger orders ...`: the order lifecycle from the command line, on the same `orders` table the
API uses.

    python -m ledger orders escrow ORDER-1 MERCHANT 12900 --carrier CARRIER --as platform
    python -m ledger orders deliver ORDER-1 ni:///sha-256;...  --key-env CARRIER_KEY
    python -m ledger orders refund ORDER-1 3000 --as platform
    python -m ledger orders dispute ORDER-1 --as platform
    python -m ledger orders sign-ruling ORDER-1 5000 --keystore arbiter.json   # an arbiter, own key
    python -m ledger orders rule ORDER-1 5000 --signature 0x... --signature 0x... --as platform
    python -m ledger orders settle --due --as platform
    python -m ledger orders show ORDER-1

Who acts is `--as MEMBER` (development keys), `--key-env VAR` or `--keystore FILE` (the member's
own encrypted key). Prints JSON.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ledger.chain.client import connect
from ledger.chain.deploy import attach
from ledger.errors import LedgerError
from ledger.money.orders import deliveries, settlement, settling, turns
from ledger.money.orders import lifecycle as orders
from ledger.money.orders.lifecycle import NewOrder
from ledger.paths import data_dir
from ledger.store.db import make_engine, migrate, session_factory
from ledger.store.locks import Locks
from ledger.store.models import Order

from .keys import _password, load_keystore
from .money import _address, _fen, _sender


def _acting(dep: Any, args: argparse.Namespace) -> Any:
    if getattr(args, "keystore", None):
        return dep.sender(load_keystore(Path(args.keystore), _password()))
    return _sender(dep, args)


def _out(o: Order, **extra: Any) -> dict[str, Any]:
    keep = (
        "order_id",
        "order_key",
        "status",
        "merchant",
        "carrier",
        "amount_fen",
        "refunded_fen",
        "escrow_tx",
        "close_tx",
        "window_ends_at",
        "settle_after",
    )
    return {k: getattr(o, k) for k in keep} | {"history": json.loads(o.history or "[]")} | extra


def run(args: argparse.Namespace) -> None:
    dep = attach(connect())
    engine = make_engine()
    migrate(engine)
    out: Any
    with session_factory(engine)() as db:
        if args.action == "show":
            o = db.get(Order, args.order_id)
            if o is None:
                raise LedgerError(f"order {args.order_id} not found")
            out = _out(o)
        elif args.action == "sign-ruling":
            o = db.get(Order, args.order_id)
            if o is None:
                raise LedgerError(f"order {args.order_id} not found")
            account = load_keystore(Path(args.keystore), _password())
            sig = settlement.sign_ruling(dep, account.key, bytes.fromhex(o.order_key[2:]), o.payer, args.refund, o.slot)
            out = {
                "order_id": o.order_id,
                "refund_fen": args.refund,
                "signer": account.address,
                "signature": "0x" + sig.hex(),
            }
        else:
            s = _acting(dep, args)
            locks = Locks(engine, data_dir())  # the API's turns: a step here never hides one there
            if args.action == "escrow":
                new = NewOrder(args.order_id, args.merchant, args.amount, tuple(args.referrer or ()), args.carrier)
                out = [_out(o) for o in orders.escrow_orders(db, dep, s, [new])]
            elif args.action == "deliver":
                out = [
                    _out(o)
                    for o in deliveries.confirm_deliveries(db, dep, s, [(args.order_id, args.epcis_event)], locks)
                ]
            elif args.action == "confirm":
                out = [_out(o) for o in deliveries.confirm_by_platform(db, dep, s, [args.order_id], locks)]
            elif args.action == "carrier":
                out = _out(deliveries.set_carrier(db, dep, s, args.order_id, args.carrier))
            elif args.action in ("refund", "dispute", "rule"):
                with turns.held(locks, db, [args.order_id]):
                    out = _step(db, dep, s, args)
                    db.commit()
            else:  # settle
                ids = args.order_id or (settling.due_order_ids(db, dep) if args.due else [])
                if not ids:
                    raise LedgerError("name orders to settle, or --due")
                settled, skipped = settling.settle_orders(db, dep, s, ids, locks)
                out = {"settled": [_out(o, settlement=x) for o, x in settled], "skipped": skipped}
            db.commit()
    print(json.dumps(out, indent=1, default=str))


def _step(db: Any, dep: Any, s: Any, args: argparse.Namespace) -> Any:
    """A refund, dispute or ruling of one order (its turn held by the caller)."""
    if args.action == "refund":
        return _out(orders.refund_order(db, dep, s, args.order_id, args.amount))
    if args.action == "dispute":
        return _out(orders.dispute_order(db, dep, s, args.order_id, args.reason))
    o, split = orders.rule_order(db, dep, s, args.order_id, args.refund, args.signature)
    return _out(o, settlement=split)


def add_parser(sub: Any) -> None:
    p = sub.add_parser("orders", help="orders: escrow, delivery, refunds, disputes, rulings, settlement")
    who = argparse.ArgumentParser(add_help=False)
    who.add_argument("--as", dest="as_member", help="development: act as this bootstrap member")
    who.add_argument("--key-env", help="act with the private key in this environment variable")
    who.add_argument("--keystore", help="act with your own encrypted keystore key")
    acts = p.add_subparsers(dest="action", required=True)
    a = acts.add_parser("escrow", parents=[who], help="escrow an order (platform)")
    a.add_argument("order_id")
    a.add_argument("merchant", type=_address)
    a.add_argument("amount", type=_fen)
    a.add_argument("--referrer", action="append", type=_address, help="level 1 first; up to three")
    a.add_argument("--carrier", type=_address, help="the logistics member who confirms delivery")
    a = acts.add_parser("carrier", parents=[who], help="name an escrowed order's carrier (platform)")
    a.add_argument("order_id")
    a.add_argument("carrier", type=_address)
    a = acts.add_parser("deliver", parents=[who], help="confirm delivery with the EPCIS event's hash ID (carrier)")
    a.add_argument("order_id")
    a.add_argument("epcis_event")
    a = acts.add_parser("confirm", parents=[who], help="confirm delivery of an order without a carrier (platform)")
    a.add_argument("order_id")
    a = acts.add_parser("refund", parents=[who], help="refund AMOUNT fen (merchant or platform)")
    a.add_argument("order_id")
    a.add_argument("amount", type=_fen)
    a = acts.add_parser("dispute", parents=[who], help="dispute within the return window (platform)")
    a.add_argument("order_id")
    a.add_argument("--reason", default="")
    a = acts.add_parser("sign-ruling", help="sign a ruling with your own arbiter keystore")
    a.add_argument("order_id")
    a.add_argument("refund", type=int)
    a.add_argument("--keystore", required=True)
    a = acts.add_parser("rule", parents=[who], help="execute a ruling with the arbiters' signatures")
    a.add_argument("order_id")
    a.add_argument("refund", type=int)
    a.add_argument("--signature", action="append", required=True)
    a = acts.add_parser("settle", parents=[who], help="settle the named orders, or every due one (--due)")
    a.add_argument("order_id", nargs="*")
    a.add_argument("--due", action="store_true")
    a = acts.add_parser("show", help="an order and its history")
    a.add_argument("order_id")
    p.set_defaults(func=run)
