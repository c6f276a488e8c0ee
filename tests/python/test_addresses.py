"""`ledger.chain.addresses`: the cached EIP-55 checksum agrees with eth_utils on every address;
an address typed with a wrong checksum is refused (eth_utils takes it now), and so is one without
0x or given as bytes."""

from __future__ import annotations

import os

import pytest
from eth_utils import is_address as eth_is_address
from eth_utils import to_checksum_address

from ledger.chain.addresses import checksum, is_address

EIP55 = [  # the examples in EIP-55 itself
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
    "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
    "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
    "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
]


def test_checksums_agree_with_eth_utils_and_eip55():
    for a in EIP55:
        assert checksum(a.lower()) == checksum(a.upper().replace("0X", "0x")) == a
        assert is_address(a) and is_address(a.lower())
    for _ in range(2_000):
        a = "0x" + os.urandom(20).hex()
        assert checksum(a) == to_checksum_address(a)
        assert is_address(checksum(a)) and is_address(a)


def test_a_wrong_checksum_or_shape_is_refused_like_eth_utils():
    good = EIP55[0]
    i = next(i for i, c in enumerate(good) if i > 1 and c.isalpha())
    wrong = good[:i] + good[i].swapcase() + good[i + 1 :]  # one letter's case flipped
    assert not is_address(wrong) and eth_is_address(wrong)  # eth_utils 5 no longer checks the case
    for v in [good[:-1], good + "0", "0x" + "g" * 40, "", None, 42]:
        assert not is_address(v) and not eth_is_address(v), v
    for v in [good[2:], b"\x00" * 20]:  # eth_utils takes these; the API's addresses are 0x and text
        assert not is_address(v) and eth_is_address(v), v
    with pytest.raises(ValueError):
        checksum("0x" + "g" * 40)
