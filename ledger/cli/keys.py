"""`ledger keys new FILE` and `ledger call METHOD PATH`: a member's own key, kept in an encrypted
Ethereum keystore file (v3; mode 0600), used to sign in to the API and to sign every transaction
a write prepares, on this machine. The password comes from `LEDGER_KEYSTORE_PASSWORD` or a prompt.
`ledger keys export-dev MEMBER FILE`: the keystore of a development member (`merchant_a`,
`governor_1`, ...) of the local chain `make run` deploys, derived from anvil's well-known mnemonic
as the tests derive it, to sign in to the web console with; refused on any other mnemonic.

    python -m ledger keys new merchant.json
    python -m ledger keys export-dev merchant_a merchant.json
    python -m ledger call POST /v1/products --keystore merchant.json --json '{"gtin": "...", "name": "..."}'
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ledger.access import keystore as keystore_file
from ledger.config import env
from ledger.errors import LedgerError
from ledger.paths import api_url

PASSWORD_ENV = "LEDGER_KEYSTORE_PASSWORD"


def _password(confirm: bool = False) -> str:
    if env().keystore_password:
        return env().keystore_password  # type: ignore[return-value]
    if not sys.stdin.isatty():
        raise LedgerError(f"no password: set {PASSWORD_ENV} or run in a terminal to be asked")
    password = getpass.getpass("keystore password: ")
    if confirm and getpass.getpass("again: ") != password:
        raise LedgerError("the passwords differ")
    return password


def new_keystore(path: Path, password: str) -> str:
    from eth_account import Account

    if path.exists():
        raise LedgerError(f"{path} exists; choose another file (a key is never overwritten)")
    account = Account.create()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(keystore_file.seal(account.key, password), f)
    return account.address


def dev_members() -> dict[str, int]:
    """Development member label => index of anvil's mnemonic account, as `ledger deploy` admits them."""
    from ledger.chain.deploy import DEV_LAYOUT, GOVERNOR_INDEXES

    return {f"governor_{n + 1}": i for n, i in enumerate(GOVERNOR_INDEXES)} | {
        label: i for i, (label, _) in DEV_LAYOUT.items()
    }


def export_dev(member: str, path: Path, password: str) -> str:
    """Write the keystore of development member `member`; only on anvil's embedded mnemonic (a
    `LEDGER_MNEMONIC` of real value is never exported this way)."""
    from ledger.chain.client import DEV_MNEMONIC, dev_accounts

    if (env().mnemonic or DEV_MNEMONIC) != DEV_MNEMONIC:
        raise LedgerError("export-dev exports development keys only: LEDGER_MNEMONIC is set to another mnemonic")
    members = dev_members()
    if member not in members:
        raise LedgerError(f"no development member {member!r}; one of: {', '.join(members)}")
    if path.exists():
        raise LedgerError(f"{path} exists; choose another file (a key is never overwritten)")
    account = dev_accounts(max(members.values()) + 1, DEV_MNEMONIC)[members[member]]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:  # a light scrypt: the key is public anyway, and a browser decrypts it in a second
        json.dump(keystore_file.seal(account.key, password, kdf="scrypt", iterations=2**14), f)
    return account.address


def load_keystore(path: Path, password: str) -> Any:
    from eth_account import Account

    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise LedgerError(f"cannot read keystore {path}: {exc}") from None
    if path.stat().st_mode & 0o077:
        raise LedgerError(f"keystore {path} is readable by others (chmod 600 {path})")
    try:
        return Account.from_key(Account.decrypt(data, password))
    except ValueError:
        raise LedgerError(f"wrong password for keystore {path}") from None


def _sign_in(client: Any, account: Any) -> dict[str, str]:
    from eth_account.messages import encode_defunct

    from ledger.access import siwe

    n = client.get("/v1/auth/nonce").json()
    now = datetime.now(UTC)
    message = siwe.build(
        domain=n["domain"],
        address=account.address,
        uri=f"http://{n['domain']}",
        chain_id=n["chain_id"],
        nonce=n["nonce"],
        issued_at=now,
        expiration_time=now + timedelta(minutes=5),
    )
    signature = account.sign_message(encode_defunct(text=message)).signature.hex()
    r = client.post("/v1/auth/login", json={"message": message, "signature": "0x" + signature.removeprefix("0x")})
    if r.status_code != 200:
        raise LedgerError(f"sign-in refused: {r.status_code} {r.text[:200]}")
    return {"Authorization": f"Bearer {r.json()['token']}"}


def call(client: Any, account: Any, method: str, path: str, body: Any) -> Any:
    """The write `method path` signed by `account` here: each transaction it prepares is signed
    locally and submitted, until the write answers."""
    headers = _sign_in(client, account)
    r = client.request(method, path, json=body, headers=headers | {"X-Ledger-Sign": "self"})
    while r.status_code == 202 and "prepared_id" in r.json():
        prepared = r.json()
        print(f"signing: {prepared['does']}", file=sys.stderr)
        raw = account.sign_transaction(prepared["transaction"]).raw_transaction
        r = client.post(prepared["submit"], json={"raw_transaction": "0x" + bytes(raw).hex()}, headers=headers)
    return r


def _cmd_keys(args: argparse.Namespace) -> None:
    if args.action == "export-dev":
        if not args.to:
            sys.exit("usage: ledger keys export-dev MEMBER FILE (members: " + ", ".join(dev_members()) + ")")
        address = export_dev(args.file, Path(args.to), _password(confirm=True))
        print(f"{address}: development member {args.file} in {args.to} (encrypted, mode 0600); sign in at /console/")
        return
    if args.action == "seal-mnemonic":
        from ledger.access.sealed import write_sealed

        words = " ".join(sys.stdin.read().split())
        if len(words.split()) not in (12, 15, 18, 21, 24):
            sys.exit("a BIP-39 mnemonic is 12 to 24 words (read from standard input)")
        if not write_sealed(Path(args.file), words.encode()):
            sys.exit(f"{args.file} exists; not overwritten")
        print(f"sealed the custodial mnemonic in {args.file} (AES-GCM, 0600): LEDGER_SIGNER_MNEMONIC_FILE={args.file}")
        return
    address = new_keystore(Path(args.file), _password(confirm=True))
    print(f"{address}: key in {args.file} (encrypted, mode 0600); ask the governors to admit this address")


def _cmd_call(args: argparse.Namespace) -> None:
    import httpx

    account = load_keystore(Path(args.keystore), _password())
    body = json.loads(args.json) if args.json else None
    with httpx.Client(base_url=args.url, timeout=120) as client:
        r = call(client, account, args.method.upper(), args.path, body)
    print(r.text)
    if r.status_code >= 400:
        sys.exit(1)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "keys",
        help="new FILE: a member's own key in an encrypted keystore file; export-dev MEMBER FILE: a development "
        "member's keystore (anvil's mnemonic) for the console; seal-mnemonic FILE: the gateway's custodial "
        "mnemonic (from standard input) sealed at rest",
    )
    p.add_argument("action", choices=["new", "export-dev", "seal-mnemonic"])
    p.add_argument("file", help="the keystore file (export-dev: the member, e.g. merchant_a)")
    p.add_argument("to", nargs="?", help="export-dev: the keystore file")
    p.set_defaults(func=_cmd_keys)
    p = sub.add_parser("call", help="make an API write signed with your own keystore key, here")
    p.add_argument("method", help="POST, PUT, ...")
    p.add_argument("path", help="e.g. /v1/products")
    p.add_argument("--keystore", required=True)
    p.add_argument("--json", help="the request body")
    p.add_argument("--url", default=api_url())
    p.set_defaults(func=_cmd_call)
