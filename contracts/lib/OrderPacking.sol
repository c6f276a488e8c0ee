// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @dev The words {OrderSettlement} packs, each a named type with the library that alone knows
/// its bit layout: an order's storage record ({OrderRecord}), an order's packed terms
/// ({TermsWord}), the rate caps of one escrow call ({CapsWord}) and the shares of one settlement
/// as its `OrderSettled` event carries them ({SettledShares}). The types are plain uint256 in
/// storage, calldata and events, so the storage layout and the ABI are those of uint256.

/// @dev errors of a packed terms word (part of OrderSettlement's ABI)
error ZeroAmount();
error BadIndex(uint256 index);
error TooManyLevels(uint256 index, uint256 levels);
error RateAboveCap(uint256 index, uint256 level, uint256 bps, uint256 cap);

/// @dev an order's state, held in its record
enum Status {
    None,
    Escrowed,
    Delivered,
    Disputed,
    Settled,
    Refunded
}

/// @dev An order's storage word, from the high bit: the 160-bit commitment to its key and terms
/// | status 8 | deadline 40 (seconds) | amount refunded 48 (fen).
type OrderRecord is uint256;

/// @dev An order's packed terms, from the low bit: amount 48 | platform fee bps 16 | level 1, 2, 3
/// bps 16 each | levels 8 | merchant 16 | referrer 1, 2, 3 16 each | carrier 16 (0xFFFF: none) |
/// payer 16 | slot 32 | 8 unused bits (ignored everywhere); the 16-bit fields after `levels` are indices into
/// the call's accounts table.
type TermsWord is uint256;

/// @dev The rate caps of one escrow call, from the low bit: platform fee | level 1 | 2 | 3, 16 bits
/// each ({TermsWordLib.checkTerms} reads it).
type CapsWord is uint256;

/// @dev One settlement's shares, 48 bits each from the low end: merchant, level 1, 2, 3 and the
/// platform fee; bit 255 set when settled by timeout without a delivery.
type SettledShares is uint256;

library OrderRecordLib {
    uint256 private constant M40 = (1 << 40) - 1;
    uint256 private constant M48 = (1 << 48) - 1;
    uint256 private constant LOW96 = (1 << 96) - 1;

    function pack(uint256 termsHash_, Status s, uint64 deadline_, uint256 refunded_)
        internal
        pure
        returns (OrderRecord)
    {
        return OrderRecord.wrap((termsHash_ << 96) | (uint256(uint8(s)) << 88) | (uint256(deadline_) << 48) | refunded_);
    }

    /// @dev the 160-bit commitment to the order's key and terms
    function termsHash(OrderRecord r) internal pure returns (uint256) {
        return OrderRecord.unwrap(r) >> 96;
    }

    function status(OrderRecord r) internal pure returns (Status) {
        return Status(uint8(OrderRecord.unwrap(r) >> 88));
    }

    function deadline(OrderRecord r) internal pure returns (uint64) {
        return uint64((OrderRecord.unwrap(r) >> 48) & M40);
    }

    function refunded(OrderRecord r) internal pure returns (uint256) {
        return OrderRecord.unwrap(r) & M48;
    }

    /// @dev the record with its status replaced, terms commitment, deadline and refund kept
    function withStatus(OrderRecord r, Status s) internal pure returns (OrderRecord) {
        return OrderRecord.wrap((OrderRecord.unwrap(r) & ~(uint256(0xFF) << 88)) | (uint256(uint8(s)) << 88));
    }

    /// @dev the record with its terms commitment replaced, status, deadline and refund kept
    function withTermsHash(OrderRecord r, uint256 termsHash_) internal pure returns (OrderRecord) {
        return OrderRecord.wrap((OrderRecord.unwrap(r) & LOW96) | (termsHash_ << 96));
    }
}

library TermsWordLib {
    uint256 private constant M16 = 0xFFFF;
    uint256 private constant M48 = (1 << 48) - 1;
    uint256 private constant MADDR = (1 << 160) - 1;
    /// @dev bits the terms commitment covers directly: amount, fee, rates, levels
    uint256 private constant NUMERIC = (1 << 120) - 1;
    uint256 private constant FEE = 48;
    uint256 private constant RATES = 64;
    uint256 private constant LEVELS = 112;
    uint256 private constant MERCHANT = 120;
    uint256 private constant REFERRERS = 136;
    uint256 private constant CARRIER = 184;
    uint256 private constant PAYER = 200;
    uint256 private constant SLOT = 216;
    /// @dev the carrier index of an order without a carrier
    uint256 internal constant NO_CARRIER = 0xFFFF;

    function amount(TermsWord w) internal pure returns (uint256) {
        return TermsWord.unwrap(w) & M48;
    }

    function feeBps(TermsWord w) internal pure returns (uint256) {
        return (TermsWord.unwrap(w) >> FEE) & M16;
    }

    /// @dev the rate of referral level `l` + 1 (0..2), in basis points
    function rateBps(TermsWord w, uint256 l) internal pure returns (uint256) {
        return (TermsWord.unwrap(w) >> (RATES + 16 * l)) & M16;
    }

    function levels(TermsWord w) internal pure returns (uint256) {
        return (TermsWord.unwrap(w) >> LEVELS) & 0xFF;
    }

    function merchantIdx(TermsWord w) internal pure returns (uint256) {
        return (TermsWord.unwrap(w) >> MERCHANT) & M16;
    }

    /// @dev the account index of the referrer of level `l` + 1 (0..2)
    function referrerIdx(TermsWord w, uint256 l) internal pure returns (uint256) {
        return (TermsWord.unwrap(w) >> (REFERRERS + 16 * l)) & M16;
    }

    function carrierIdx(TermsWord w) internal pure returns (uint256) {
        return (TermsWord.unwrap(w) >> CARRIER) & M16;
    }

    function payerIdx(TermsWord w) internal pure returns (uint256) {
        return (TermsWord.unwrap(w) >> PAYER) & M16;
    }

    /// @dev the 32-bit slot field (bits 216-247), the one width every entry point reads (batch
    /// and one-order alike); the top 8 bits are ignored, so no word can put an order in a slot
    /// that the one-order calls (carrier, refund, dispute, ruling, state) cannot name
    function slot(TermsWord w) internal pure returns (uint256) {
        return (TermsWord.unwrap(w) >> SLOT) & 0xFFFFFFFF;
    }

    /// @dev the bits the terms commitment covers directly
    function numeric(TermsWord w) internal pure returns (uint256) {
        return TermsWord.unwrap(w) & NUMERIC;
    }

    /// @dev The 160-bit commitment to (key, amount and rates, merchant, referrers, carrier, payer)
    /// of a packed word, the payer, and the first index out of the accounts table
    /// (type(uint256).max if none): the keccak of the ABI encoding of those eight words, as
    /// OrderSettlement's `_hash` of the decoded terms.
    function commitment(TermsWord w, bytes32 key, address[] calldata accounts)
        internal
        pure
        returns (uint256 h, address payer)
    {
        uint256 bad = type(uint256).max;
        assembly {
            let n := accounts.length
            let table := accounts.offset
            let p := mload(0x40) // scratch above the free memory pointer, never allocated
            mstore(p, key)
            mstore(add(p, 0x20), and(w, NUMERIC))
            let idx := and(shr(MERCHANT, w), M16)
            if iszero(lt(idx, n)) { bad := idx }
            mstore(add(p, 0x40), and(calldataload(add(table, shl(5, idx))), MADDR))
            let lv := and(shr(LEVELS, w), 0xff)
            for { let l := 0 } lt(l, 3) { l := add(l, 1) } {
                let a := 0
                if lt(l, lv) {
                    idx := and(shr(add(REFERRERS, mul(16, l)), w), M16)
                    if iszero(lt(idx, n)) { bad := idx }
                    a := and(calldataload(add(table, shl(5, idx))), MADDR)
                }
                mstore(add(p, add(0x60, shl(5, l))), a)
            }
            idx := and(shr(CARRIER, w), M16)
            let c := 0
            if iszero(eq(idx, NO_CARRIER)) {
                if iszero(lt(idx, n)) { bad := idx }
                c := and(calldataload(add(table, shl(5, idx))), MADDR)
            }
            mstore(add(p, 0xc0), c)
            idx := and(shr(PAYER, w), M16)
            if iszero(lt(idx, n)) { bad := idx }
            payer := and(calldataload(add(table, shl(5, idx))), MADDR)
            mstore(add(p, 0xe0), payer)
            h := shr(96, keccak256(p, 0x100))
        }
        if (bad != type(uint256).max) revert BadIndex(bad);
    }

    /// @dev Amount, levels and rates of the word of order `i` of a batch within the caps.
    function checkTerms(TermsWord w, uint256 i, CapsWord caps) internal pure {
        uint256 word = TermsWord.unwrap(w);
        if (word & M48 == 0) revert ZeroAmount();
        uint256 lv = (word >> LEVELS) & 0xFF;
        if (lv > 3) revert TooManyLevels(i, lv);
        uint256 fee = (word >> FEE) & M16;
        uint256 c = CapsWord.unwrap(caps);
        if (fee > c & M16) revert RateAboveCap(i, 0, fee, c & M16);
        for (uint256 l = 0; l < 3; l++) {
            uint256 bps = (word >> (RATES + 16 * l)) & M16;
            uint256 cap = l < lv ? (c >> (16 * (l + 1))) & M16 : 0;
            if (bps > cap) revert RateAboveCap(i, l + 1, bps, cap);
        }
    }

    /// @dev Add the split of `amount` by the word's rates to `credit` (by account index); return
    /// the platform fee and the shares. Each share is `amount * bps / 10000` rounded down and the
    /// merchant has the rest. The indices must have been checked against the accounts table
    /// ({commitment}) and `credit` have the table's length; rates sum to at most 100% (caps), so
    /// nothing overflows.
    function creditSplit(TermsWord w, uint256 amount_, uint256[] memory credit, bool byTimeout)
        internal
        pure
        returns (uint256 fee, SettledShares shares)
    {
        assembly {
            let base := add(credit, 0x20)
            fee := div(mul(amount_, and(shr(FEE, w), M16)), 10000)
            let rest := sub(amount_, fee)
            shares := shl(192, fee)
            let lv := and(shr(LEVELS, w), 0xff)
            for { let l := 0 } lt(l, lv) { l := add(l, 1) } {
                let share := div(mul(amount_, and(shr(add(RATES, mul(16, l)), w), M16)), 10000)
                rest := sub(rest, share)
                let at := add(base, shl(5, and(shr(add(REFERRERS, mul(16, l)), w), M16)))
                mstore(at, add(mload(at), share))
                shares := or(shares, shl(mul(48, add(l, 1)), share))
            }
            let at := add(base, shl(5, and(shr(MERCHANT, w), M16)))
            mstore(at, add(mload(at), rest))
            shares := or(shares, rest)
            if byTimeout { shares := or(shares, shl(255, 1)) }
        }
    }
}

library CapsWordLib {
    function pack(uint16 platformFee, uint16[3] memory referral) internal pure returns (CapsWord) {
        return CapsWord.wrap(
            uint256(platformFee) | uint256(referral[0]) << 16 | uint256(referral[1]) << 32 | uint256(referral[2]) << 48
        );
    }
}

library SettledSharesLib {
    /// @dev the shares with the merchant's and the platform fee's added
    function withEnds(SettledShares s, uint256 merchant, uint256 fee) internal pure returns (SettledShares) {
        return SettledShares.wrap(SettledShares.unwrap(s) | merchant | (fee << 192));
    }

    /// @dev the shares with referral level `l` + 1's (0..2) added
    function withReferral(SettledShares s, uint256 l, uint256 share) internal pure returns (SettledShares) {
        return SettledShares.wrap(SettledShares.unwrap(s) | (share << (48 * (l + 1))));
    }

    function byTimeout(SettledShares s) internal pure returns (SettledShares) {
        return SettledShares.wrap(SettledShares.unwrap(s) | (1 << 255));
    }
}

using OrderRecordLib for OrderRecord global;
using TermsWordLib for TermsWord global;
using CapsWordLib for CapsWord global;
using SettledSharesLib for SettledShares global;
