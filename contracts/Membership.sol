// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Roles} from "./Roles.sol";

/// @title Membership
/// @notice The consortium's members and their roles (bit flags from {Roles}). Only the
/// {Governance} council (k of n governors) admits, re-roles or removes a member.
contract Membership {
    /// @notice the Governance contract allowed to change membership
    address public immutable governance;
    mapping(address => uint256) private _roles;
    uint256 public memberCount;

    event MemberAdmitted(address indexed member, uint256 roles);
    event MemberRolesChanged(address indexed member, uint256 previousRoles, uint256 roles);
    event MemberRemoved(address indexed member, uint256 previousRoles);

    error NotGovernance(address caller);
    error AlreadyMember(address account);
    error NotMember(address account);
    error InvalidRoles(uint256 roles);
    error ZeroAddress();

    modifier onlyGovernance() {
        if (msg.sender != governance) revert NotGovernance(msg.sender);
        _;
    }

    constructor(address governance_) {
        if (governance_ == address(0)) revert ZeroAddress();
        governance = governance_;
    }

    /// @notice Admit `account` with `roles` (non-empty, only defined bits).
    function admit(address account, uint256 roles) external onlyGovernance {
        if (account == address(0)) revert ZeroAddress();
        if (_roles[account] != 0) revert AlreadyMember(account);
        _checkRoles(roles);
        _roles[account] = roles;
        memberCount += 1;
        emit MemberAdmitted(account, roles);
    }

    /// @notice Replace the roles of an existing member.
    function setRoles(address account, uint256 roles) external onlyGovernance {
        uint256 previous = _roles[account];
        if (previous == 0) revert NotMember(account);
        _checkRoles(roles);
        _roles[account] = roles;
        emit MemberRolesChanged(account, previous, roles);
    }

    /// @notice Remove a member; every role is lost at once.
    function remove(address account) external onlyGovernance {
        uint256 previous = _roles[account];
        if (previous == 0) revert NotMember(account);
        delete _roles[account];
        memberCount -= 1;
        emit MemberRemoved(account, previous);
    }

    /// @notice The role flags of `account` (0 for a non-member).
    function rolesOf(address account) external view returns (uint256) {
        return _roles[account];
    }

    /// @notice Whether `account` holds any of the role flags in `anyOf`.
    function hasAnyRole(address account, uint256 anyOf) external view returns (bool) {
        return _roles[account] & anyOf != 0;
    }

    function _checkRoles(uint256 roles) private pure {
        if (roles == 0 || roles & ~Roles.ALL != 0) revert InvalidRoles(roles);
    }
}
