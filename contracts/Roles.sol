// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title Roles
/// @notice Bit flags for consortium member roles. A member holds any combination.
library Roles {
    uint256 internal constant OPERATOR = 1 << 0;
    uint256 internal constant MERCHANT = 1 << 1;
    uint256 internal constant PRODUCER = 1 << 2;
    uint256 internal constant LOGISTICS = 1 << 3;
    uint256 internal constant INSPECTOR = 1 << 4;
    uint256 internal constant AUDITOR = 1 << 5;
    uint256 internal constant ARBITER = 1 << 6;
    uint256 internal constant ISSUER = 1 << 7;
    /// @dev Every defined role; any bit outside this mask is invalid.
    uint256 internal constant ALL = (1 << 8) - 1;
}
