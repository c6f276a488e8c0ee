// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Burnable} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Burnable.sol";
import {Membership} from "./Membership.sol";
import {MemberGated} from "./MemberGated.sol";
import {Roles} from "./Roles.sol";

/// @title SettlementToken
/// @notice A fiat-backed deposit token counted in fen: 2 decimals, 1 unit = 0.01 CNY.
/// Only issuer members mint; any holder may burn (redeem) its own.
contract SettlementToken is ERC20, ERC20Burnable, MemberGated {
    event Minted(address indexed issuer, address indexed to, uint256 amount);

    constructor(Membership membership_) ERC20("Traceledger Settlement Fen", "tCNY") MemberGated(membership_) {}

    /// @notice Two decimals: amounts are integer fen.
    function decimals() public pure override returns (uint8) {
        return 2;
    }

    /// @notice Mint `amount` fen to `to`; issuer members only.
    function mint(address to, uint256 amount) external onlyRole(Roles.ISSUER) {
        _mint(to, amount);
        emit Minted(msg.sender, to, amount);
    }
}
