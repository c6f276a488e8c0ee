// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {Membership} from "./Membership.sol";
import {MemberGated} from "./MemberGated.sol";
import {Roles} from "./Roles.sol";

/// @title Provenance
/// @notice Products (GTIN-14, owned by a merchant), batches (lots) under them, and the hashes of
/// their supply-chain events. Events are stored off chain as canonical JSON; on chain goes either
/// one hash at a time into the batch's append-only hash chain, or a Merkle root over many.
/// Merkle leaves are `keccak256(bytes.concat(keccak256(abi.encode(eventHash))))` and pairs are
/// hashed sorted, as OpenZeppelin's StandardMerkleTree and {MerkleProof}.
contract Provenance is MemberGated {
    struct Batch {
        uint64 gtin;
        uint64 eventCount;
        bool recalled;
        bool exists;
        bytes32 head;
    }

    struct Anchor {
        address submitter;
        uint40 timestamp;
        uint56 leafCount;
    }

    /// @notice roles allowed to record events and anchor roots, besides the product's merchant
    uint256 public constant RECORDER_ROLES = Roles.PRODUCER | Roles.LOGISTICS | Roles.INSPECTOR;
    /// @notice roles allowed to recall any batch, besides the product's merchant
    uint256 public constant RECALL_ROLES = Roles.INSPECTOR | Roles.OPERATOR;

    /// @notice GTIN-14 => owning merchant
    mapping(uint64 => address) public productOwner;
    /// @notice gtin => recorder => authorised by the product's merchant to record about it
    mapping(uint64 => mapping(address => bool)) public authorisedRecorder;
    mapping(bytes32 => Batch) private _batches;
    mapping(bytes32 => Anchor) private _anchors;
    /// @notice SHA-256 of a code-signing public key => when it was revoked (0: never)
    mapping(bytes32 => uint64) public codeKeyRevokedAt;
    /// @notice keccak256(abi.encode(digits, value)) of a GS1 company prefix (6-12 digits, leading
    /// zeros count) => the member governance assigned it to (the licensee). A GTIN under an
    /// assigned prefix is its holder's to register or take back; under no assigned prefix, the
    /// first merchant to register it owns it.
    mapping(bytes32 => address) public prefixHolder;

    event ProductRegistered(uint64 indexed gtin, address indexed merchant);
    event PrefixAssigned(string prefix, address indexed holder);
    event ProductReclaimed(uint64 indexed gtin, address indexed from, address indexed holder);
    event CodeKeyRevoked(bytes32 indexed keyHash, uint64 at, string reason, address by);
    event RecorderSet(uint64 indexed gtin, address indexed recorder, bool allowed);
    event BatchRegistered(bytes32 indexed batchId, uint64 indexed gtin, string lot);
    event EventRecorded(
        bytes32 indexed batchId, uint64 indexed index, bytes32 eventHash, bytes32 head, address indexed recorder
    );
    event RootAnchored(bytes32 indexed root, uint256 leafCount, string uri, address indexed submitter);
    event BatchRecalled(bytes32 indexed batchId, address indexed by, string reason);

    error InvalidGtin(uint64 gtin);
    error ProductExists(uint64 gtin);
    error UnknownProduct(uint64 gtin);
    error NotProductOwner(uint64 gtin, address caller);
    error InvalidLot(string lot);
    error BatchExists(bytes32 batchId);
    error UnknownBatch(bytes32 batchId);
    error BatchIsRecalled(bytes32 batchId);
    error EmptyHash();
    error EmptyAnchor();
    error RootExists(bytes32 root);
    error UnknownRoot(bytes32 root);
    error EmptyReason();
    error NotARecorder(address account);
    error KeyRevoked(bytes32 keyHash);
    error NotAuthorisedRecorder(uint64 gtin, address account);
    error InvalidPrefix(string prefix);
    error PrefixHeldByOther(uint64 gtin, address holder);

    constructor(Membership membership_) MemberGated(membership_) {}

    /// @notice The id of batch `lot` of product `gtin`.
    function batchId(uint64 gtin, string memory lot) public pure returns (bytes32) {
        return keccak256(abi.encode(gtin, lot));
    }

    /// @notice Register product `gtin` (GTIN-14 with a valid check digit) as the caller's.
    function registerProduct(uint64 gtin) external onlyRole(Roles.MERCHANT) {
        if (!isValidGtin(gtin)) revert InvalidGtin(gtin);
        if (productOwner[gtin] != address(0)) revert ProductExists(gtin);
        address holder = prefixHolderOf(gtin);
        if (holder != address(0) && holder != msg.sender) revert PrefixHeldByOther(gtin, holder);
        productOwner[gtin] = msg.sender;
        emit ProductRegistered(gtin, msg.sender);
    }

    /// @notice Governance assigns GS1 company prefix `prefix` (6-12 digits, as GS1 licensed it) to
    /// `holder`, a merchant member (address(0): unassign). Checking the licence is governance's part.
    function assignPrefix(string calldata prefix, address holder) external onlyGovernance {
        bytes calldata b = bytes(prefix);
        if (b.length < 6 || b.length > 12) revert InvalidPrefix(prefix);
        uint256 value;
        for (uint256 i; i < b.length; ++i) {
            if (b[i] < "0" || b[i] > "9") revert InvalidPrefix(prefix);
            value = value * 10 + (uint8(b[i]) - 48);
        }
        if (holder != address(0)) _checkRole(holder, Roles.MERCHANT);
        prefixHolder[keccak256(abi.encode(b.length, value))] = holder;
        emit PrefixAssigned(prefix, holder);
    }

    /// @notice The member holding the company prefix of GTIN-14 `gtin` (the digits after the
    /// indicator digit), or address(0) when none of its 6-12 digit prefixes is assigned.
    function prefixHolderOf(uint64 gtin) public view returns (address) {
        for (uint256 n = 6; n <= 12; ++n) {
            address holder = prefixHolder[keccak256(abi.encode(n, (gtin / 10 ** (13 - n)) % 10 ** n))];
            if (holder != address(0)) return holder;
        }
        return address(0);
    }

    /// @notice The prefix's holder takes back a product another merchant registered under it (before
    /// the prefix was assigned). Codes the other merchant anchored for it no longer verify: a code
    /// is genuine only when anchored by the product's owner.
    function reclaimProduct(uint64 gtin) external {
        address from = productOwner[gtin];
        if (from == address(0)) revert UnknownProduct(gtin);
        address holder = prefixHolderOf(gtin);
        if (holder != msg.sender || from == msg.sender) revert PrefixHeldByOther(gtin, holder);
        productOwner[gtin] = msg.sender;
        emit ProductReclaimed(gtin, from, msg.sender);
    }

    /// @notice Register batch `lot` (1-20 characters, GS1 AI 10) of one of the caller's products.
    /// @return id the batch id, `batchId(gtin, lot)`
    function registerBatch(uint64 gtin, string calldata lot) external returns (bytes32 id) {
        _checkProductOwner(gtin);
        uint256 len = bytes(lot).length;
        if (len == 0 || len > 20) revert InvalidLot(lot);
        id = batchId(gtin, lot);
        Batch storage b = _batches[id];
        if (b.exists) revert BatchExists(id);
        b.gtin = gtin;
        b.exists = true;
        emit BatchRegistered(id, gtin, lot);
    }

    /// @notice Append `eventHash` to the hash chain of batch `id`: the new head is
    /// `keccak256(abi.encodePacked(previousHead, eventHash))`, starting from zero.
    /// @dev The product's merchant and the recorders it authorised ({setRecorder}) may record.
    /// @return head the new head of the chain
    function recordEvent(bytes32 id, bytes32 eventHash) external returns (bytes32 head) {
        Batch storage b = _batches[id];
        if (!b.exists) revert UnknownBatch(id);
        if (eventHash == bytes32(0)) revert EmptyHash();
        if (!mayRecord(b.gtin, msg.sender)) revert NotAuthorisedRecorder(b.gtin, msg.sender);
        head = keccak256(abi.encodePacked(b.head, eventHash));
        uint64 index = b.eventCount;
        b.head = head;
        b.eventCount = index + 1;
        emit EventRecorded(id, index, eventHash, head, msg.sender);
    }

    /// @notice The product's merchant authorises (or stops authorising) a producer, carrier or
    /// inspector to record events about the product; nobody else but the merchant may.
    function setRecorder(uint64 gtin, address recorder, bool allowed) external {
        _checkProductOwner(gtin);
        if (allowed && !membership.hasAnyRole(recorder, RECORDER_ROLES)) revert NotARecorder(recorder);
        authorisedRecorder[gtin][recorder] = allowed;
        emit RecorderSet(gtin, recorder, allowed);
    }

    /// @notice Revoke a code-signing key (by the SHA-256 of its raw public key): codes signed with
    /// it scan as forged from now on. The platform (operators) only; once.
    function revokeCodeKey(bytes32 keyHash, string calldata reason) external onlyRole(Roles.OPERATOR) {
        if (bytes(reason).length == 0) revert EmptyReason();
        if (codeKeyRevokedAt[keyHash] != 0) revert KeyRevoked(keyHash);
        codeKeyRevokedAt[keyHash] = uint64(block.timestamp);
        emit CodeKeyRevoked(keyHash, uint64(block.timestamp), reason, msg.sender);
    }

    /// @notice Whether `account` may record events about product `gtin`: its merchant, or a
    /// member the merchant authorised that still holds a recorder role.
    function mayRecord(uint64 gtin, address account) public view returns (bool) {
        address owner = productOwner[gtin];
        if (owner == address(0)) return false;
        if (account == owner) return true;
        return authorisedRecorder[gtin][account] && membership.hasAnyRole(account, RECORDER_ROLES);
    }

    /// @notice Anchor a Merkle `root` over `leafCount` event hashes whose data lives at `uri`.
    /// @dev Producers, logistics, inspectors, merchants and operators may anchor.
    function anchor(bytes32 root, uint256 leafCount, string calldata uri)
        external
        onlyRole(RECORDER_ROLES | Roles.MERCHANT | Roles.OPERATOR)
    {
        if (root == bytes32(0) || leafCount == 0 || leafCount > type(uint56).max) revert EmptyAnchor();
        if (_anchors[root].timestamp != 0) revert RootExists(root);
        _anchors[root] = Anchor(msg.sender, uint40(block.timestamp), uint56(leafCount));
        emit RootAnchored(root, leafCount, uri, msg.sender);
    }

    /// @notice Recall batch `id` with a reason; by its merchant, an inspector or an operator.
    function recall(bytes32 id, string calldata reason) external {
        Batch storage b = _batches[id];
        if (!b.exists) revert UnknownBatch(id);
        if (b.recalled) revert BatchIsRecalled(id);
        if (bytes(reason).length == 0) revert EmptyReason();
        if (productOwner[b.gtin] != msg.sender) _checkRole(msg.sender, RECALL_ROLES);
        b.recalled = true;
        emit BatchRecalled(id, msg.sender, reason);
    }

    /// @notice Whether `eventHash` is a leaf of anchored `root` by `proof`. Reverts for a root
    /// that was never anchored, so a proof against an unanchored root cannot pass for genuine.
    function verifyEvent(bytes32 root, bytes32 eventHash, bytes32[] calldata proof) external view returns (bool) {
        if (_anchors[root].timestamp == 0) revert UnknownRoot(root);
        return MerkleProof.verifyCalldata(proof, root, leafHash(eventHash));
    }

    /// @notice The Merkle leaf for `eventHash`.
    function leafHash(bytes32 eventHash) public pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(eventHash))));
    }

    /// @notice Batch `id`: its GTIN, number of chained events, chain head, recall flag.
    function batch(bytes32 id) external view returns (uint64 gtin, uint64 eventCount, bytes32 head, bool recalled) {
        Batch storage b = _batches[id];
        if (!b.exists) revert UnknownBatch(id);
        return (b.gtin, b.eventCount, b.head, b.recalled);
    }

    /// @notice Anchor of `root`: who submitted it, when, over how many leaves.
    function anchorOf(bytes32 root) external view returns (address submitter, uint256 timestamp, uint256 leafCount) {
        Anchor storage a = _anchors[root];
        if (a.timestamp == 0) revert UnknownRoot(root);
        return (a.submitter, a.timestamp, a.leafCount);
    }

    /// @notice Whether `gtin` has 14 digits whose last is the GS1 mod-10 check digit
    /// (weights 3,1,3,... from the right, excluding the check digit).
    function isValidGtin(uint64 gtin) public pure returns (bool) {
        if (gtin == 0 || gtin >= 1e14) return false;
        uint256 check = gtin % 10;
        uint256 rest = gtin / 10;
        uint256 sum;
        for (uint256 i = 0; i < 13; i++) {
            uint256 digit = rest % 10;
            rest /= 10;
            sum += i % 2 == 0 ? digit * 3 : digit;
        }
        return (10 - (sum % 10)) % 10 == check;
    }

    function _checkProductOwner(uint64 gtin) private view {
        address owner = productOwner[gtin];
        if (owner == address(0)) revert UnknownProduct(gtin);
        if (owner != msg.sender) revert NotProductOwner(gtin, msg.sender);
    }
}
