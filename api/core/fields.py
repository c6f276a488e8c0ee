"""What the routers share: integer-fen and address fields, order ids, transaction hashes, names
members register (`PlainText`: no control, bidi override or zero-width characters, a 422 naming
the character). The acting member's signer and the deployment are `api.access.deps`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path
from pydantic import AfterValidator, Field, StrictInt

from ledger import plain_text
from ledger.chain.addresses import checksum, is_address

MAX_FEN = 2**96 - 1


def _address(v: str) -> str:
    if not is_address(v):
        raise ValueError("not an Ethereum address, or its mixed case is not its EIP-55 checksum (a typo?)")
    if int(v, 16) == 0:  # every contract refuses it (a case's claimant was a 409 from the chain, not a 422)
        raise ValueError("the zero address names no one")
    return checksum(v)


def _plain(v: str) -> str:
    if why := plain_text.refused(v):
        raise ValueError(why)
    return v


#: free text a member registers and others read: a product's name, an API key's
PlainText = Annotated[str, AfterValidator(_plain)]


def _prose(v: str) -> str:
    # lines (LF), but nothing else that hides or reorders what is shown; a CR is refused, not
    # rewritten: a proof binds the text's hash as the client sent it
    _plain(v.replace("\n", " "))
    return v


#: a text of lines anyone reads: a shopper's review, a dispute's statement (line breaks kept)
ProseText = Annotated[str, AfterValidator(_prose)]
Address = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{40}$"), AfterValidator(_address)]
Fen = Annotated[StrictInt, Field(gt=0, le=MAX_FEN, description="integer fen (0.01 CNY)")]
Bps = Annotated[StrictInt, Field(ge=0, le=10_000)]
ORDER_ID = r"^[A-Za-z0-9_.:-]{1,64}$"
OrderId = Annotated[str, Field(pattern=ORDER_ID)]
OrderIdPath = Annotated[str, Path(pattern=ORDER_ID)]


def tx_of(receipt: Any) -> str:
    return "0x" + bytes(receipt["transactionHash"]).hex()
