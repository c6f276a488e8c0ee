// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Burnable} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Burnable.sol";
import {Membership} from "./Membership.sol";
import {MemberGated} from "./MemberGated.sol";
import {Roles} from "./Roles.sol";

/// @title SettlementToken
/// @notice A fiat-backed deposit token counted in fen: 2 decimals, 1 unit = 0.01 CNY.
/// Only issuer members mint; any holder may burn (redeem) its own. Deposit references (issuances)
/// and payout references (redemptions) are counted apart: a holder who redeems against a deposit's
/// reference before the issuer mints against it no longer makes that deposit unmintable.
contract SettlementToken is ERC20, ERC20Burnable, MemberGated {
    event Minted(address indexed issuer, address indexed to, uint256 amount);
    event Issued(address indexed issuer, address indexed to, uint256 amount, bytes32 indexed referenceKey, string fiatReference);
    event Redeemed(address indexed holder, uint256 amount, bytes32 indexed referenceKey, string fiatReference);

    error ReferenceUsed(string fiatReference);
    error EmptyReference();
    error ZeroAmount();

    /// @notice Whether a fiat deposit reference (by `keccak256` of its text) was issued against.
    mapping(bytes32 => bool) public referenceUsed;
    /// @notice Whether a fiat payout reference (by `keccak256` of its text) was redeemed against.
    mapping(bytes32 => bool) public redemptionUsed;

    constructor(Membership membership_) ERC20("Traceledger Settlement Fen", "tCNY") MemberGated(membership_) {}

    /// @notice Two decimals: amounts are integer fen.
    function decimals() public pure override returns (uint8) {
        return 2;
    }

    /// @notice Mint `amount` fen to `to` against the fiat deposit `fiatReference` (a bank transfer's
    /// reference); issuer members only, once per reference, so a repeated request mints nothing twice.
    function issue(address to, uint256 amount, string calldata fiatReference) external onlyRole(Roles.ISSUER) {
        bytes32 key = _useReference(referenceUsed, fiatReference, amount);
        _mint(to, amount);
        emit Issued(msg.sender, to, amount, key, fiatReference);
    }

    /// @notice Burn `amount` of the caller's fen, redeemed for the fiat payout `fiatReference`;
    /// once per reference.
    function redeem(uint256 amount, string calldata fiatReference) external {
        bytes32 key = _useReference(redemptionUsed, fiatReference, amount);
        _burn(msg.sender, amount);
        emit Redeemed(msg.sender, amount, key, fiatReference);
    }

    function _useReference(mapping(bytes32 => bool) storage used, string calldata fiatReference, uint256 amount)
        private
        returns (bytes32 key)
    {
        if (amount == 0) revert ZeroAmount();
        if (bytes(fiatReference).length == 0) revert EmptyReference();
        key = keccak256(bytes(fiatReference));
        if (used[key]) revert ReferenceUsed(fiatReference);
        used[key] = true;
    }

    /// @notice Mint `amount` fen to `to`; issuer members only.
    function mint(address to, uint256 amount) external onlyRole(Roles.ISSUER) {
        _mint(to, amount);
        emit Minted(msg.sender, to, amount);
    }
}
