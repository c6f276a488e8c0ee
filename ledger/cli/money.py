"""`ledger money ...`: deposits, cases and payouts from the command line (orders: `ledger orders`).

Acts on chain as the member named by `--as` (a bootstrap member of the manifest, keys from
`LEDGER_MNEMONIC`, anvil's by default) or by the private key in the environment variable named
by `--key-env`. Prints JSON. A case award above the case threshold takes several arbiters:

    python -m ledger money case-sign 7 --pay-out --keystore arbiter.json   # each arbiter, own key
    python -m ledger money case-rule 7 --pay-out --signature 0x.. --signature 0x.. --as arbiter
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_utils import to_checksum_address

from ledger.chain.client import Sender, connect, dev_accounts
from ledger.chain.deploy import Deployment, attach
from ledger.errors import LedgerError
from ledger.money import vault
from ledger.money.orders import settlement

from .keys import _password, load_keystore


def _fen(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or int(text) <= 0:  # int() refuses `²`, isdigit() not
        raise argparse.ArgumentTypeError(f"amount must be a positive whole number of fen, not {text!r}")
    return int(text)


def _address(text: str) -> str:
    try:
        return to_checksum_address(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an address: {text!r}") from None


def _account(dep: Deployment, args: argparse.Namespace) -> Any:
    """The acting member's key: `--keystore FILE` (where offered), `--key-env VAR` or `--as MEMBER`."""
    if getattr(args, "keystore", None):
        return load_keystore(Path(args.keystore), _password())
    if args.key_env:
        key = os.environ.get(args.key_env)
        if not key:
            raise LedgerError(f"environment variable {args.key_env} holds no private key")
        return Account.from_key(key)
    if not args.as_member:
        raise LedgerError("say who acts: --as MEMBER (development) or --key-env VAR")
    member = dep.manifest["members"].get(args.as_member)
    if member is None:
        raise LedgerError(f"no bootstrap member {args.as_member!r}; one of {', '.join(dep.manifest['members'])}")
    return dev_accounts(20)[member["account_index"]]


def _sender(dep: Deployment, args: argparse.Namespace) -> Sender:
    return dep.sender(_account(dep, args))


def _tx(receipt: Any) -> str:
    return "0x" + bytes(receipt["transactionHash"]).hex()


def run(args: argparse.Namespace) -> None:
    dep = attach(connect())
    out: Any
    if args.action == "deposit-status":
        out = {"merchant": args.merchant, **vault.deposit_account(dep, args.merchant)}
    elif args.action == "payouts":
        out = {"account": args.account, **settlement.owed(dep, args.account)}
    elif args.action == "case-sign":
        signer = _account(dep, args)
        sig = vault.sign_case_ruling(dep, bytes(signer.key), args.case_id, args.pay_out)
        out = {"case_id": args.case_id, "pay_out": args.pay_out, "signer": signer.address}
        out["signature"] = "0x" + sig.hex()
    else:
        s = _sender(dep, args)
        if args.action == "deposit":
            out = {"tx": _tx(vault.deposit(dep, s, args.amount)), **vault.deposit_account(dep, s.address)}
        elif args.action == "withdrawal-request":
            out = {"tx": _tx(vault.request_withdrawal(dep, s, args.amount)), **vault.deposit_account(dep, s.address)}
        elif args.action == "withdraw":
            out = {"tx": _tx(vault.withdraw_deposit(dep, s)), **vault.deposit_account(dep, s.address)}
        elif args.action == "case-open":
            out = vault.case(dep, vault.open_case(dep, s, args.merchant, args.claimant, args.amount))
        elif args.action == "case-close":
            out = {"tx": _tx(vault.close_case(dep, s, args.case_id, args.pay_out)), **vault.case(dep, args.case_id)}
        elif args.action == "case-rule":
            receipt = vault.rule_case(dep, s, args.case_id, args.pay_out, args.signature)
            out = {"tx": _tx(receipt), **vault.case(dep, args.case_id)}
        elif args.action == "withdraw-payouts":
            out = {"tx": _tx(settlement.withdraw_payouts(dep, s)), **settlement.owed(dep, s.address)}
        else:
            raise LedgerError(f"unknown action {args.action}")
    print(json.dumps(out, indent=1, default=str))


def add_parser(sub: Any) -> None:
    p = sub.add_parser("money", help="deposits, cases and payouts on chain")
    who = argparse.ArgumentParser(add_help=False)
    who.add_argument("--as", dest="as_member", help="development: act as this bootstrap member (merchant_a, ...)")
    who.add_argument("--key-env", help="act with the private key in this environment variable")
    acts = p.add_subparsers(dest="action", required=True)
    a = acts.add_parser("deposit", parents=[who], help="lock AMOUNT fen of guarantee deposit (merchant)")
    a.add_argument("amount", type=_fen)
    a = acts.add_parser("deposit-status", help="balance, required, frozen, pending, available of MERCHANT")
    a.add_argument("merchant", type=_address)
    a = acts.add_parser("withdrawal-request", parents=[who], help="ask to withdraw AMOUNT fen (merchant)")
    a.add_argument("amount", type=_fen)
    acts.add_parser("withdraw", parents=[who], help="take the requested withdrawal after the cooldown")
    a = acts.add_parser("case-open", parents=[who], help="freeze AMOUNT of MERCHANT's deposit (arbiter)")
    a.add_argument("merchant", type=_address)
    a.add_argument("claimant", type=_address)
    a.add_argument("amount", type=_fen)
    a = acts.add_parser("case-close", parents=[who], help="release a case, or --pay-out to its claimant")
    a.add_argument("case_id", type=int)
    a.add_argument("--pay-out", action="store_true")
    a = acts.add_parser("case-sign", parents=[who], help="sign a ruling on a case with your own arbiter key")
    a.add_argument("case_id", type=int)
    a.add_argument("--pay-out", action="store_true", help="sign the award (else the release)")
    a.add_argument("--keystore", help="your encrypted keystore (else --key-env or --as)")
    a = acts.add_parser("case-rule", parents=[who], help="execute a ruling on a case with arbiters' signatures")
    a.add_argument("case_id", type=int)
    a.add_argument("--pay-out", action="store_true")
    a.add_argument("--signature", action="append", required=True)
    a = acts.add_parser("payouts", help="what the chain owes ACCOUNT")
    a.add_argument("account", type=_address)
    acts.add_parser("withdraw-payouts", parents=[who], help="pull everything owed to you")
    p.set_defaults(func=run)
