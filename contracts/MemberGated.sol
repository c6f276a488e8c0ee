// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Membership} from "./Membership.sol";

/// @title MemberGated
/// @notice Base for contracts whose writers are consortium members with given roles and whose
/// parameters are set by {Governance}.
abstract contract MemberGated {
    Membership public immutable membership;
    address public immutable governance;

    /// @dev `account` holds none of the role flags in `anyOf`.
    error MissingRole(address account, uint256 anyOf);
    error NotGovernance(address caller);
    error ZeroAddress();

    modifier onlyRole(uint256 anyOf) {
        _checkRole(msg.sender, anyOf);
        _;
    }

    modifier onlyGovernance() {
        if (msg.sender != governance) revert NotGovernance(msg.sender);
        _;
    }

    constructor(Membership membership_) {
        if (address(membership_) == address(0)) revert ZeroAddress();
        membership = membership_;
        governance = membership_.governance();
    }

    function _checkRole(address account, uint256 anyOf) internal view {
        if (!membership.hasAnyRole(account, anyOf)) revert MissingRole(account, anyOf);
    }
}
