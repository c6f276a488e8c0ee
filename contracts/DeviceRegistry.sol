// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Membership} from "./Membership.sol";
import {MemberGated} from "./MemberGated.sol";
import {Roles} from "./Roles.sol";

/// @notice Who holds a GS1 company prefix (Provenance: assigned by governance).
interface IPrefixHolders {
    function prefixHolder(bytes32 key) external view returns (address);
}

/// @title DeviceRegistry
/// @notice Members' devices (RFID/NFC readers, cold-chain loggers, vehicle gateways): each has a
/// GIAI (GS1 Global Individual Asset Identifier), an SM2 public key (GB/T 32918, the uncompressed
/// point x, y), an owner (the member who registered it), when it was registered and when it was
/// revoked. Anyone holding the chain alone can then check a device's signed readings: the key was
/// registered by a member and not revoked before the readings were taken. A GIAI begins with its
/// owner's GS1 company prefix: under a prefix governance assigned, only its holder registers.
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
    /// @notice where GS1 company prefixes' holders are read (Provenance)
    IPrefixHolders public immutable prefixes;

    event DeviceRegistered(bytes32 indexed deviceId, address indexed owner, string giai, bytes32 keyX, bytes32 keyY);
    event DeviceRevoked(bytes32 indexed deviceId, address indexed by, uint40 at, string reason);

    error InvalidGiai(string giai);
    error InvalidKey();
    error DeviceExists(bytes32 deviceId);
    error KeyInUse(bytes32 deviceId);
    error UnknownDevice(bytes32 deviceId);
    error AlreadyRevoked(bytes32 deviceId);
    error NotDeviceOwner(bytes32 deviceId, address caller);
    error PrefixHeldByOther(string giai, address holder);

    constructor(Membership membership_, IPrefixHolders prefixes_) MemberGated(membership_) {
        prefixes = prefixes_;
    }

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
        address holder = prefixHolderOf(giai);
        if (holder != address(0) && holder != msg.sender) revert PrefixHeldByOther(giai, holder);
        deviceId = keccak256(bytes(giai));
        if (_devices[deviceId].owner != address(0)) revert DeviceExists(deviceId);
        bytes32 keyHash = keccak256(abi.encode(msg.sender, keyX, keyY));
        if (deviceOfKey[keyHash] != 0) revert KeyInUse(deviceOfKey[keyHash]);
        _devices[deviceId] = Device(msg.sender, uint40(block.timestamp), 0, keyX, keyY, giai);
        deviceOfKey[keyHash] = deviceId;
        deviceCount += 1;
        emit DeviceRegistered(deviceId, msg.sender, giai, keyX, keyY);
    }

    /// @notice Revoke a device for good: its owner, governance, or the holder of the company prefix
    /// its GIAI begins with (a device another member registered under it before it was assigned).
    /// Readings it signs at or after `revokedAt` are no longer facts.
    function revoke(bytes32 deviceId, string calldata reason) external {
        Device storage d = _devices[deviceId];
        if (d.owner == address(0)) revert UnknownDevice(deviceId);
        if (msg.sender != d.owner && msg.sender != governance && msg.sender != prefixHolderOf(d.giai)) {
            revert NotDeviceOwner(deviceId, msg.sender);
        }
        if (d.revokedAt != 0) revert AlreadyRevoked(deviceId);
        d.revokedAt = uint40(block.timestamp);
        emit DeviceRevoked(deviceId, msg.sender, d.revokedAt, reason);
    }

    /// @notice The member holding the GS1 company prefix GIAI `giai` begins with (its first 6 to 12
    /// characters, all digits), or address(0) when none is assigned; the shortest assigned prefix
    /// first, as Provenance reads a GTIN's.
    function prefixHolderOf(string memory giai) public view returns (address) {
        bytes memory g = bytes(giai);
        uint256 value;
        for (uint256 n = 1; n <= 12 && n <= g.length; ++n) {
            uint8 c = uint8(g[n - 1]);
            if (c < 48 || c > 57) break;
            value = value * 10 + (c - 48);
            if (n < 6) continue;
            address holder = prefixes.prefixHolder(keccak256(abi.encode(n, value)));
            if (holder != address(0)) return holder;
        }
        return address(0);
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
