"""Sign-In with Ethereum (EIP-4361) messages: parse strictly, check, and recover the signer.

Only what a login needs is accepted: the message must name the expected domain and chain, carry
a nonce and an expiration time, and be signed (EIP-191 `personal_sign`) by the address it names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import is_checksum_address

_HEADER = re.compile(r"^(?P<domain>[^\s]+) wants you to sign in with your Ethereum account:$")
_FIELDS = {
    "URI": "uri",
    "Version": "version",
    "Chain ID": "chain_id",
    "Nonce": "nonce",
    "Issued At": "issued_at",
    "Expiration Time": "expiration_time",
    "Not Before": "not_before",
    "Request ID": "request_id",
}
_NONCE = re.compile(r"^[A-Za-z0-9]{8,64}$")
#: ASCII digits only: str.isdigit() also takes other scripts' digits (int() reads `３`) and
#: superscripts (int() refuses `²`); at most a uint256's 78 digits
_CHAIN_ID = re.compile(r"[0-9]{1,78}")


class SiweError(ValueError):
    """The message or its signature is not acceptable; the text says why."""


@dataclass(frozen=True)
class SiweMessage:
    domain: str
    address: str
    statement: str | None
    uri: str
    version: str
    chain_id: int
    nonce: str
    issued_at: datetime
    expiration_time: datetime
    not_before: datetime | None = None
    request_id: str | None = None


def _time(value: str, field: str) -> datetime:
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise SiweError(f"{field} is not an RFC 3339 time: {value!r}") from None
    if t.tzinfo is None:
        raise SiweError(f"{field} must carry a time zone: {value!r}")
    return t


def parse(text: str) -> SiweMessage:
    lines = text.split("\n")
    if len(lines) < 4:
        raise SiweError("not an EIP-4361 message: too short")
    header = _HEADER.match(lines[0])
    if not header:
        raise SiweError("not an EIP-4361 message: first line must be '<domain> wants you to sign in ...'")
    address = lines[1].strip()
    if not is_checksum_address(address):
        raise SiweError("the address line must be an EIP-55 checksummed address")
    if lines[2] != "":
        raise SiweError("a blank line must follow the address")
    i = 3
    statement = None
    if i < len(lines) and not lines[i].startswith("URI: "):
        statement = lines[i]
        i += 1
        if i >= len(lines) or lines[i] != "":
            raise SiweError("a blank line must follow the statement")
        i += 1
    fields: dict[str, str] = {}
    for line in lines[i:]:
        if line.startswith("Resources:") or line.startswith("- "):
            continue
        key, sep, value = line.partition(": ")
        if not sep or key not in _FIELDS:
            raise SiweError(f"unexpected line in message: {line!r}")
        if _FIELDS[key] in fields:  # never last-wins: what a wallet shows first is what is signed
            raise SiweError(f"'{key}' appears more than once")
        fields[_FIELDS[key]] = value
    for required in ("uri", "version", "chain_id", "nonce", "issued_at", "expiration_time"):
        if required not in fields:
            label = next(k for k, v in _FIELDS.items() if v == required)
            raise SiweError(f"message lacks '{label}'")
    if fields["version"] != "1":
        raise SiweError(f"unsupported version {fields['version']!r}")
    if not _CHAIN_ID.fullmatch(fields["chain_id"]):
        raise SiweError("Chain ID must be a whole number in ASCII digits (0-9)")
    if not _NONCE.match(fields["nonce"]):
        raise SiweError("Nonce must be 8-64 alphanumeric characters")
    return SiweMessage(
        domain=header.group("domain"),
        address=address,
        statement=statement,
        uri=fields["uri"],
        version="1",
        chain_id=int(fields["chain_id"]),
        nonce=fields["nonce"],
        issued_at=_time(fields["issued_at"], "Issued At"),
        expiration_time=_time(fields["expiration_time"], "Expiration Time"),
        not_before=_time(fields["not_before"], "Not Before") if "not_before" in fields else None,
        request_id=fields.get("request_id"),
    )


def verify(
    text: str, signature: str, *, domain: str, chain_id: int, now: datetime | None = None, max_skew_s: int = 60
) -> SiweMessage:
    """Parse `text`, check domain, chain and times, and check that `signature` is by its address.

    The nonce is returned for the caller to consume; this function keeps no state.
    """
    msg = parse(text)
    now = now or datetime.now(UTC)
    if msg.domain != domain:
        raise SiweError(f"message is for domain {msg.domain!r}, this service is {domain!r}")
    if msg.chain_id != chain_id:
        raise SiweError(f"message is for chain {msg.chain_id}, this service is chain {chain_id}")
    if (msg.issued_at - now).total_seconds() > max_skew_s:
        raise SiweError("Issued At is in the future")
    if msg.expiration_time <= now:
        raise SiweError("message has expired")
    if msg.not_before and (msg.not_before - now).total_seconds() > max_skew_s:
        raise SiweError("message is not valid yet (Not Before)")
    try:
        signer = Account.recover_message(encode_defunct(text=text), signature=signature)
    except Exception:  # noqa: BLE001 - malformed signatures raise many kinds of errors
        raise SiweError("signature is malformed") from None
    if signer != msg.address:
        raise SiweError("signature does not match the message's address")
    return msg


def build(
    *,
    domain: str,
    address: str,
    uri: str,
    chain_id: int,
    nonce: str,
    issued_at: datetime,
    expiration_time: datetime,
    statement: str | None = "Sign in to traceledger.",
) -> str:
    """The canonical EIP-4361 text (what a wallet or a server client signs)."""
    parts = [f"{domain} wants you to sign in with your Ethereum account:", address, ""]
    if statement:
        parts += [statement, ""]
    parts += [
        f"URI: {uri}",
        "Version: 1",
        f"Chain ID: {chain_id}",
        f"Nonce: {nonce}",
        f"Issued At: {issued_at.isoformat().replace('+00:00', 'Z')}",
        f"Expiration Time: {expiration_time.isoformat().replace('+00:00', 'Z')}",
    ]
    return "\n".join(parts)
