"""Revert data decoded by custom error: the selectors (cached across decoders) are the keccak of
each error's signature, tuples spelled out."""

from __future__ import annotations

from eth_abi import encode
from eth_utils import keccak, to_checksum_address

from ledger.chain.revert_errors import ErrorDecoder

ABI = [
    {"type": "error", "name": "InvalidGtin", "inputs": [{"name": "gtin", "type": "uint256"}]},
    {
        "type": "error",
        "name": "Refused",
        "inputs": [
            {"name": "who", "type": "address"},
            {"name": "p", "type": "tuple", "components": [{"type": "uint8"}]},
        ],
    },
    {"type": "function", "name": "f", "inputs": []},
]


def test_each_error_is_decoded_by_its_signatures_selector_by_every_decoder():
    who = "0x" + "ab" * 20
    invalid = keccak(text="InvalidGtin(uint256)")[:4] + encode(["uint256"], [6901234567892])
    refused = keccak(text="Refused(address,(uint8))")[:4] + encode(["address", "(uint8)"], [who, (7,)])
    for decoder in (ErrorDecoder([ABI]), ErrorDecoder([[], ABI])):  # the second one's selectors from the cache
        assert decoder.decode(invalid) == ("InvalidGtin", (6901234567892,))
        assert decoder.decode("0x" + refused.hex()) == ("Refused", (to_checksum_address(who), (7,)))
        assert decoder.decode(keccak(text="f()")[:4]) is None
