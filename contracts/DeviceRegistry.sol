// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Membership} from "./Membership.sol";
import {MemberGated} from "./MemberGated.sol";
import {Roles} from "./Roles.sol";

/// @title DeviceRegistry
/// @notice Members' devices (RFID/NFC readers, cold-chain loggers, vehicle gateways): each has a
/// GIAI (GS1 Global Individual Asset Identifier), an SM2 public key (GB/T 32918, the uncompressed
/// point x, y), an owner (the member who registered it), when it was registered and when it was
/// revoked. Anyone holding the chain alone can then check a device's signed readings: the key was
/// registered by a member and not revoked before the readings were taken.
contract DeviceRegistry is MemberGated {
    struct Device {
        address owner;
        uint40 since;
        uint40 revokedAt;
        bytes32 keyX;
        bytes32 keyY;
        string giai;
    }

    /// @notice keccak256(giai) => device
    mapping(bytes32 => Device) private _devices;
    /// @notice keccak256(owner, x, y) => that owner's device with this SM2 public key (one key, one
    /// device per owner). Not one per chain: this contract cannot check that a registrant holds the
    /// key (no SM2 here), so a chain-wide rule would let a member take another's key first and lock
    /// its holder out. A key registered by someone who does not hold it gains nothing: a device's
    /// batches are signed over its own GIAI, and only a batch naming the registered GIAI counts.
    mapping(bytes32 => bytes32) public deviceOfKey;
    uint256 public deviceCount;

    event DeviceRegistered(bytes32 indexed deviceId, address indexed owner, string giai, bytes32 keyX, bytes32 keyY);
    event DeviceRevoked(bytes32 indexed deviceId, address indexed by, uint40 at, string reason);

    error InvalidGiai(string giai);
    error InvalidKey();
    error DeviceExists(bytes32 deviceId);
    error KeyInUse(bytes32 deviceId);
    error UnknownDevice(bytes32 deviceId);
    error AlreadyRevoked(bytes32 deviceId);
    error NotDeviceOwner(bytes32 deviceId, address caller);

    constructor(Membership membership_) MemberGated(membership_) {}

    /// @notice Register a device for the calling member.
    /// @param giai the device's GIAI (1 to 30 characters, as GS1 AI 8004 allows)
    /// @param keyX x of the device's SM2 public key; @param keyY its y
    /// @return deviceId keccak256 of the GIAI
    function register(string calldata giai, bytes32 keyX, bytes32 keyY)
        external
        onlyRole(Roles.ALL)
        returns (bytes32 deviceId)
    {
        uint256 n = bytes(giai).length;
        if (n == 0 || n > 30) revert InvalidGiai(giai);
        if (keyX == 0 && keyY == 0) revert InvalidKey();
        deviceId = keccak256(bytes(giai));
        if (_devices[deviceId].owner != address(0)) revert DeviceExists(deviceId);
        bytes32 keyHash = keccak256(abi.encode(msg.sender, keyX, keyY));
        if (deviceOfKey[keyHash] != 0) revert KeyInUse(deviceOfKey[keyHash]);
        _devices[deviceId] = Device(msg.sender, uint40(block.timestamp), 0, keyX, keyY, giai);
        deviceOfKey[keyHash] = deviceId;
        deviceCount += 1;
        emit DeviceRegistered(deviceId, msg.sender, giai, keyX, keyY);
    }

    /// @notice Revoke a device for good: its owner or governance only. Readings it signs at or
    /// after `revokedAt` are no longer facts.
    function revoke(bytes32 deviceId, string calldata reason) external {
        Device storage d = _devices[deviceId];
        if (d.owner == address(0)) revert UnknownDevice(deviceId);
        if (msg.sender != d.owner && msg.sender != governance) revert NotDeviceOwner(deviceId, msg.sender);
        if (d.revokedAt != 0) revert AlreadyRevoked(deviceId);
        d.revokedAt = uint40(block.timestamp);
        emit DeviceRevoked(deviceId, msg.sender, d.revokedAt, reason);
    }

    /// @notice The device registered under `deviceId` (owner zero: none).
    function device(bytes32 deviceId) external view returns (Device memory) {
        return _devices[deviceId];
    }

    /// @notice Whether the device may sign now: registered, not revoked, its owner still a member.
    function isActive(bytes32 deviceId) external view returns (bool) {
        Device storage d = _devices[deviceId];
        return d.owner != address(0) && d.revokedAt == 0 && membership.hasAnyRole(d.owner, Roles.ALL);
    }
}
