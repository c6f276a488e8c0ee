// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {MemberGated} from "./MemberGated.sol";
import {Membership} from "./Membership.sol";
import {Roles} from "./Roles.sol";

/// @notice The Groth16 verifier snarkjs generates from the purchase circuit's key (build/zk).
interface IPurchaseVerifier {
    function verifyProof(
        uint256[2] calldata a,
        uint256[2][2] calldata b,
        uint256[2] calldata c,
        uint256[5] calldata publicSignals
    ) external view returns (bool);
}

/// @notice Who registered a product (Provenance): the one merchant whose batches' terms are its own.
interface IProductOwners {
    function productOwner(uint64 gtin) external view returns (address);
}

/// @notice Where proven claims are paid from: GuaranteeVault's merchants' deposits.
interface IClaimVault {
    function payProvenClaim(address merchant, address payTo, uint256 amount, bool aboveMinimum) external;
    function openProvenCase(address merchant, address payTo, uint96 amount) external returns (uint256 caseId);
    function cooldown() external view returns (uint64);
}

/// @title PurchaseProofs
/// @notice Shoppers speak about a batch they bought without saying who they are or which order:
/// a zero-knowledge proof shows that the prover holds the secret behind one leaf of the tree of
/// delivered purchases, with a nullifier per purpose and batch so each purchase speaks once per
/// purpose. No order number, shopper or payer ever reaches this contract. Three keys make a root
/// that pays: a carrier vouches for each leaf (the commitment its parcel's recipient showed), the
/// operator anchors exactly those leaves and the root (every leaf in the logs), and an auditor
/// recomputes the root from the logs and confirms it.
/// @dev Public signals, in the circuit's order: nullifier, root, batch, purpose, message. The
/// message binds what the proof says (rating and text hash, payout address and amount, statement)
/// so a proof cannot be replayed for other content.
contract PurchaseProofs is MemberGated {
    /// @dev BN254 scalar field: every public signal is below it.
    uint256 internal constant FIELD = 21888242871839275222246405745257275088548364400416034343698204186575808495617;
    /// @notice Gas given to the verifier. The generated verifier answers false, not a revert, when
    /// the pairing precompile runs out of gas: a call with less than this left reverts instead.
    uint256 public constant VERIFY_GAS = 260_000;
    uint256 public constant PURPOSE_REVIEW = 1;
    uint256 public constant PURPOSE_CLAIM = 2;
    uint256 public constant PURPOSE_DISPUTE = 3;

    IPurchaseVerifier public immutable verifier;
    /// @notice Provenance: a batch's claim terms are set by its product's owner (or governance).
    IProductOwners public immutable products;
    /// @notice Roots anchored so far; root => its anchor's sequence number (from 1).
    uint64 public anchors;
    /// @notice Leaves appended so far (the next leaf's index).
    uint64 public leafCount;
    /// @notice Roots anchored before this sequence number are void: a later anchor zeroed a leaf an
    /// earlier root held (a refunded purchase), an auditor confirmed a root with that zeroing in
    /// its tree, and the roots that still hold the leaf must no longer prove anything.
    uint64 public oldestValid;
    /// @notice The sequence number of the latest anchor that zeroed a leaf an earlier root held.
    uint64 public lastVoiding;
    /// @notice Per root, `lastVoiding` when it was anchored: confirming the root voids every root
    /// before that anchor. A zeroing voids nothing until an auditor confirms a root holding it, so
    /// one operator key cannot void confirmed roots with a root of no tree.
    mapping(uint256 root => uint64) public voidsBefore;
    mapping(uint256 root => uint64 seq) public rootSeq;
    mapping(uint256 root => bool) public revokedRoot;
    mapping(uint256 nullifier => bool) public nullifierUsed;
    mapping(uint256 batch => uint256) public reviewCount;
    mapping(uint256 batch => uint256) public ratingSum;
    mapping(uint256 batch => uint256) public claimCount;
    mapping(uint256 batch => uint256) public disputeCount;

    /// @notice What a proven claim on a batch pays, from whose deposit, until when, how many more
    /// times. One amount for every claim of the batch, so that the amount says nothing of the order.
    struct ClaimTerms {
        address merchant; // whose guarantee deposit pays
        uint96 amount; // fen per claim
        uint64 until; // the return window's end, or a recall's claim deadline
        uint32 left; // claims it still pays
        bool imposed; // set by governance (e.g. after a recall): the merchant cannot change it
        uint64 from; // claims pay from then: a merchant's own terms wait the vault's withdrawal cooldown
    }

    mapping(uint256 batch => ClaimTerms) public claimTerms;
    mapping(uint256 batch => uint256) public claimPaid;
    /// @notice The vault that pays claims, and how long a root must have stood before it pays one
    /// (the members' time to recompute it from the logs and revoke it if wrong); governance sets both.
    IClaimVault public claimVault;
    uint64 public constant MAX_CLAIM_DELAY = 1 << 32;
    uint64 public claimDelay;
    mapping(uint256 root => uint64) public anchoredAt;
    /// @notice Phase-2 contributions to the circuit's key anchored by members (`ledger zk ceremony`).
    mapping(bytes32 key => bool) public contributionAnchored;

    /// @notice Commitments carriers vouched for, in order: each one the recipient of a parcel
    /// showed at hand-over. The tree's leaves are exactly these, in this order: the operator
    /// anchors them, it cannot add any of its own.
    uint64 public vouched;
    /// @notice keccak256 chain over every vouched commitment: h = keccak256(abi.encode(h, c)).
    bytes32 public vouchedHash;
    /// @notice The chain's value after `count` commitments, at the end of each vouching call: an
    /// anchor's new leaves must end at one of these and carry the same chain.
    mapping(uint64 count => bytes32) public vouchedHashAt;
    /// @notice The same chain over the leaves anchored so far (zeroing does not change it).
    bytes32 public anchoredHash;
    /// @notice Roots an auditor recomputed from the logs and confirmed, with when: money moves
    /// (claims, disputes) only on a confirmed root, so neither the operator nor an auditor alone
    /// makes a root that pays.
    mapping(uint256 root => uint64) public confirmedAt;
    /// @notice At most this many commitments a vouching call (an anchor carries them in one log).
    uint256 public constant MAX_VOUCH = 500;

    event RootAnchored(uint64 indexed seq, uint256 root, uint64 firstLeaf, uint256[] leaves, uint64[] zeroed);
    event RootRevoked(uint256 indexed root, address by);
    event RootReinstated(uint256 indexed root);
    event Vouched(address indexed carrier, uint64 first, uint256[] commitments);
    event RootConfirmed(uint256 indexed root, address by);
    event ReviewRecorded(uint256 indexed batch, uint256 nullifier, uint8 rating, bytes32 textHash);
    event ClaimRecorded(uint256 indexed batch, uint256 nullifier, address payTo, uint256 amount);
    event ClaimTermsSet(
        uint256 indexed batch, address merchant, uint96 amount, uint64 until, uint32 left, bool imposed, uint64 from
    );
    event ClaimPayoutSet(address vault, uint64 delay);
    event ContributionAnchored(bytes32 indexed circuit, uint256 index, bytes32[2] hash, string name, address by);
    event DisputeRecorded(
        uint256 indexed batch, uint256 nullifier, bytes32 statementHash, uint256 caseId, address payTo, uint256 amount
    );

    error UnknownRoot(uint256 root);
    error StaleRoot(uint256 root);
    error NullifierUsed(uint256 nullifier);
    error InvalidProof();
    error NotInField(uint256 value);
    error BadRating(uint8 rating);
    error LeafOutOfRange(uint64 index);
    error RootTaken(uint256 root);
    error TreeMoved(uint64 expected, uint64 actual);
    error VerifyGasTooLow(uint256 left);
    error NoClaimTerms(uint256 batch);
    error ClaimWindowClosed(uint256 batch, uint64 until);
    error ClaimsExhausted(uint256 batch);
    error WrongClaimAmount(uint256 amount, uint256 terms);
    error RootTooNew(uint256 root, uint64 paysFrom);
    error TermsNotYours(uint256 batch, address merchant);
    error TermsLocked(uint256 batch);
    error TermsNotInForce(uint256 batch, uint64 from);
    error DelayTooLong(uint64 delay, uint64 max);
    error NoClaimVault();
    error EndsBeforeInForce(uint64 until, uint64 from);
    error ContributionKnown(bytes32 circuit, uint256 index);
    error NotVouched(uint64 count);
    error TooManyCommitments(uint256 count);
    error OperatorCannot(address account);
    error RootNotConfirmed(uint256 root);

    constructor(Membership membership_, IPurchaseVerifier verifier_, IProductOwners products_)
        MemberGated(membership_)
    {
        if (address(verifier_) == address(0) || address(products_) == address(0)) revert ZeroAddress();
        verifier = verifier_;
        products = products_;
    }

    /// @notice Append the commitments carriers vouched for since the last anchor (whole vouching
    /// calls, in their order: `NotVouched` otherwise), zero the leaves of refunded purchases, and
    /// anchor the tree's new root. The leaves travel in the event: members recompute the root from
    /// the logs, an auditor confirms it, anyone finding it wrong has it revoked.
    /// @param root Poseidon Merkle root (depth 20) after the change.
    /// @param leaves commitments appended, from index `leafCount`.
    /// @param zeroed indexes of leaves set to zero (refunded purchases; a vouched commitment no order
    /// of the operator's explains, zeroed as it joins). Zeroing a leaf an earlier root holds voids
    /// the earlier roots once an auditor confirms this root or a later one (`confirmRoot`).
    /// @param first the index the first new leaf takes: the root was computed over that tree.
    function anchor(uint256 root, uint256[] calldata leaves, uint64[] calldata zeroed, uint64 first)
        external
        onlyRole(Roles.OPERATOR)
    {
        if (root >= FIELD) revert NotInField(root);
        uint64 had = rootSeq[root];
        if (first != leafCount) revert TreeMoved(first, leafCount);
        uint64 count = first + uint64(leaves.length);
        bool voiding;
        for (uint256 i; i < zeroed.length; ++i) {
            if (zeroed[i] >= count) revert LeafOutOfRange(zeroed[i]);
            if (zeroed[i] < first) voiding = true; // a leaf an earlier root holds (zeroing a new one voids nothing)
        }
        if (leaves.length != 0) {
            bytes32 h = anchoredHash;
            for (uint256 i; i < leaves.length; ++i) {
                h = keccak256(abi.encode(h, leaves[i]));
            }
            if (vouchedHashAt[count] != h) revert NotVouched(count);
            anchoredHash = h;
        }
        leafCount = count;
        uint64 seq = had;
        if (had != 0) {
            // the latest tree again: every new leaf zeroed as it joined (vouched commitments no order
            // explains). Its number and age stay: nothing new proves on it, no stale root revives.
            if (had != anchors || voiding) revert RootTaken(root);
        } else {
            seq = ++anchors;
            rootSeq[root] = seq;
            anchoredAt[root] = uint64(block.timestamp);
            uint64 voids = voiding ? seq : lastVoiding;
            if (voiding) lastVoiding = seq;
            if (voids != 0) voidsBefore[root] = voids;
        }
        emit RootAnchored(seq, root, first, leaves, zeroed);
    }

    /// @notice A carrier vouches for the commitments the recipients of its parcels showed at
    /// hand-over (a code on the shopper's "my purchases" page); they join the tree, in this order,
    /// at the operator's next anchors. A carrier that is also an operator cannot: the one key
    /// would both make and anchor leaves. Nothing here names an order.
    function vouch(uint256[] calldata commitments) external onlyRole(Roles.LOGISTICS) {
        if (membership.hasAnyRole(msg.sender, Roles.OPERATOR)) revert OperatorCannot(msg.sender);
        uint256 n = commitments.length;
        if (n == 0 || n > MAX_VOUCH) revert TooManyCommitments(n);
        bytes32 h = vouchedHash;
        for (uint256 i; i < n; ++i) {
            uint256 c = commitments[i];
            if (c == 0 || c >= FIELD) revert NotInField(c);
            h = keccak256(abi.encode(h, c));
        }
        uint64 first = vouched;
        uint64 count = first + uint64(n);
        vouched = count;
        vouchedHash = h;
        vouchedHashAt[count] = h;
        emit Vouched(msg.sender, first, commitments);
    }

    /// @notice An auditor who recomputed `root` from the logs (`ledger zk verify --confirm`)
    /// confirms it: claims and disputes pay only on confirmed roots. An auditor that is also an
    /// operator cannot confirm.
    function confirmRoot(uint256 root) external onlyRole(Roles.AUDITOR) {
        if (membership.hasAnyRole(msg.sender, Roles.OPERATOR)) revert OperatorCannot(msg.sender);
        if (!rootValid(root)) revert UnknownRoot(root);
        if (confirmedAt[root] == 0) {
            confirmedAt[root] = uint64(block.timestamp);
            emit RootConfirmed(root, msg.sender);
        }
        uint64 voids = voidsBefore[root];
        if (voids > oldestValid) oldestValid = voids; // its tree zeroed leaves older roots still hold
    }

    /// @notice Anchor the hash of contribution `index` (from 1) to the phase-2 key of `circuit`
    /// (the r1cs file's sha256), as `snarkjs zkey verify` printed it after checking the key; any
    /// member. Each (circuit, index, hash) once: a later round of the same circuit anchors anew.
    function anchorContribution(bytes32 circuit, uint256 index, bytes32[2] calldata hash, string calldata name)
        external
        onlyRole(Roles.ALL)
    {
        bytes32 key = keccak256(abi.encode(circuit, index, hash));
        if (contributionAnchored[key]) revert ContributionKnown(circuit, index);
        contributionAnchored[key] = true;
        emit ContributionAnchored(circuit, index, hash, name, msg.sender);
    }

    /// @notice An auditor or operator who recomputed a root from the logs and found it wrong voids
    /// it at once: nothing proves on it from this block on (safety first, one key is enough).
    /// Governance may reinstate it (`reinstateRoot`), so one key that voids right roots delays
    /// shoppers until governance acts (and removes that member); it cannot void them for good.
    function revokeRoot(uint256 root) external onlyRole(Roles.AUDITOR | Roles.OPERATOR) {
        if (rootSeq[root] == 0) revert UnknownRoot(root);
        revokedRoot[root] = true;
        emit RootRevoked(root, msg.sender);
    }

    /// @notice Governance (a k-of-n proposal) reinstates a root voided by one member's key, after
    /// recomputing it from the logs itself.
    function reinstateRoot(uint256 root) external onlyGovernance {
        if (!revokedRoot[root]) revert UnknownRoot(root);
        revokedRoot[root] = false;
        emit RootReinstated(root);
    }

    /// @notice A verified buyer's review of `batch`: rating 1-5 and the hash of its text.
    function review(
        uint256[8] calldata proof,
        uint256 root,
        uint256 batch,
        uint256 nullifier,
        uint8 rating,
        bytes32 textHash
    ) external {
        if (rating < 1 || rating > 5) revert BadRating(rating);
        _spend(proof, [nullifier, root, batch, PURPOSE_REVIEW, reviewMessage(rating, textHash)]);
        reviewCount[batch] += 1;
        ratingSum[batch] += rating;
        emit ReviewRecorded(batch, nullifier, rating, textHash);
    }

    /// @notice The vault that pays proven claims and the age a root needs to pay one; governance.
    function setClaimPayout(IClaimVault vault, uint64 delay) external onlyGovernance {
        // a root's anchoring time plus a longer delay overflowed: every claim a panic, none paid
        if (delay > MAX_CLAIM_DELAY) revert DelayTooLong(delay, MAX_CLAIM_DELAY);
        claimVault = vault;
        claimDelay = delay;
        emit ClaimPayoutSet(address(vault), delay);
    }

    /// @notice The merchant's own promise on its batch `lot` of product `gtin`: a proven claim pays
    /// `amount` fen from the caller's deposit, until `until`, at most `count` more claims. Only the
    /// product's owner (Provenance) sets it, so no merchant names another's batch first; not once
    /// governance imposed terms. While its terms run (window open, claims left) a merchant may
    /// only extend them: the same amount (the one a shopper's proof binds), no earlier end, the
    /// same claims left; it cannot take its promise back in front of a claim. New terms pay from the
    /// end of the vault's withdrawal cooldown (`from`), so no merchant pays itself its deposit
    /// through claims sooner than it could withdraw it.
    function setClaimTerms(uint64 gtin, string calldata lot, uint96 amount, uint64 until, uint32 count) external {
        uint256 batch = batchOf(gtin, lot);
        _checkRole(msg.sender, Roles.MERCHANT);
        ClaimTerms storage t = claimTerms[batch];
        if (products.productOwner(gtin) != msg.sender || t.imposed) revert TermsNotYours(batch, msg.sender);
        bool live = t.merchant != address(0) && block.timestamp <= t.until && t.left != 0;
        if (live && (amount != t.amount || until < t.until || count != t.left)) revert TermsLocked(batch);
        // new terms pay once the vault's withdrawal cooldown has passed, as a withdrawal would: a
        // merchant's terms of its whole deposit, claimed by a purchase of its own, took the deposit
        // in two minutes (outside probe); live terms only run longer, from when they already paid
        if (address(claimVault) == address(0)) revert NoClaimVault();
        uint64 from = live ? t.from : uint64(block.timestamp) + claimVault.cooldown();
        if (until < from) revert EndsBeforeInForce(until, from); // terms that could never pay one claim
        _setTerms(batch, msg.sender, amount, until, count, false, from);
    }

    /// @notice Governance imposes what a proven claim on `batch` pays, from `merchant`'s deposit
    /// (e.g. after a recall); the merchant can no longer change it.
    function imposeClaimTerms(uint256 batch, address merchant, uint96 amount, uint64 until, uint32 count)
        external
        onlyGovernance
    {
        if (merchant == address(0)) revert ZeroAddress();
        _setTerms(batch, merchant, amount, until, count, true, uint64(block.timestamp));
    }

    function _setTerms(
        uint256 batch,
        address merchant,
        uint96 amount,
        uint64 until,
        uint32 count,
        bool imposed,
        uint64 from
    ) private {
        claimTerms[batch] = ClaimTerms(merchant, amount, until, count, imposed, from);
        emit ClaimTermsSet(batch, merchant, amount, until, count, imposed, from);
    }

    /// @notice The circuit's batch id of `lot` of `gtin`: SHA-256 of "<GTIN-14>/<lot>", top 248 bits
    /// (ledger.privacy.fields.batch_id).
    function batchOf(uint64 gtin, string calldata lot) public pure returns (uint256) {
        bytes memory digits = new bytes(14);
        uint64 n = gtin;
        for (uint256 i = 14; i > 0; i--) {
            digits[i - 1] = bytes1(uint8(48 + (n % 10)));
            n /= 10;
        }
        return uint256(sha256(abi.encodePacked(digits, "/", lot))) >> 8;
    }

    /// @notice A shopper's claim on `batch` (within the return window or after a recall), paid at
    /// once to `payTo`, an address the shopper names (unlinkable to the order), from the deposit
    /// the batch's claim terms name: the proof, not a key, moves the money, and only the terms'
    /// fixed amount, while the window is open and claims are left.
    function claim(uint256[8] calldata proof, uint256 root, uint256 batch, uint256 nullifier, address payTo, uint256 amount)
        external
    {
        if (payTo == address(0)) revert ZeroAddress();
        ClaimTerms storage t = claimTerms[batch];
        if (t.merchant == address(0) || address(claimVault) == address(0)) revert NoClaimTerms(batch);
        if (block.timestamp > t.until) revert ClaimWindowClosed(batch, t.until);
        if (block.timestamp < t.from) revert TermsNotInForce(batch, t.from);
        if (t.left == 0) revert ClaimsExhausted(batch);
        if (amount != t.amount) revert WrongClaimAmount(amount, t.amount);
        _paysOn(root);
        _spend(proof, [nullifier, root, batch, PURPOSE_CLAIM, claimMessage(payTo, amount)]);
        t.left -= 1;
        claimCount[batch] += 1;
        claimPaid[batch] += amount;
        emit ClaimRecorded(batch, nullifier, payTo, amount);
        claimVault.payProvenClaim(t.merchant, payTo, amount, !t.imposed);
    }

    /// @notice A shopper's own dispute about `batch`, by the hash of its statement, within the
    /// batch's claim window: it asks the terms' one amount (so the amount says nothing of the
    /// order) for `payTo`, an address the shopper names, and the vault freezes it from the
    /// merchant's deposit as a case. Arbiters who are not parties decide it (GuaranteeVault's
    /// closeCase/ruleCase: one up to the case threshold, a quorum above); upheld, it is paid to
    /// `payTo` and nowhere else. It does not use up the terms' paid claims.
    function dispute(
        uint256[8] calldata proof,
        uint256 root,
        uint256 batch,
        uint256 nullifier,
        bytes32 statementHash,
        address payTo
    ) external returns (uint256 caseId) {
        if (payTo == address(0)) revert ZeroAddress();
        ClaimTerms storage t = claimTerms[batch];
        if (t.merchant == address(0) || address(claimVault) == address(0)) revert NoClaimTerms(batch);
        if (block.timestamp > t.until) revert ClaimWindowClosed(batch, t.until);
        // as for a claim: only a root an auditor confirmed, and members have `claimDelay` to
        // revoke it before it can freeze anyone's deposit
        _paysOn(root);
        _spend(proof, [nullifier, root, batch, PURPOSE_DISPUTE, disputeMessage(statementHash, payTo)]);
        disputeCount[batch] += 1;
        caseId = claimVault.openProvenCase(t.merchant, payTo, t.amount);
        emit DisputeRecorded(batch, nullifier, statementHash, caseId, payTo, t.amount);
    }

    /// @notice The message a review's proof binds. Each message binds this chain and this contract:
    /// a proof spent on an earlier deployment (public calldata) cannot be spent again on a later
    /// one, whose tree may well have the same roots and whose nullifiers start empty.
    function reviewMessage(uint8 rating, bytes32 textHash) public view returns (uint256) {
        return uint256(keccak256(abi.encode("review", block.chainid, address(this), rating, textHash))) % FIELD;
    }

    /// @notice The message a claim's proof binds.
    function claimMessage(address payTo, uint256 amount) public view returns (uint256) {
        return uint256(keccak256(abi.encode("claim", block.chainid, address(this), payTo, amount))) % FIELD;
    }

    /// @notice The message a dispute's proof binds.
    function disputeMessage(bytes32 statementHash, address payTo) public view returns (uint256) {
        return uint256(keccak256(abi.encode("dispute", block.chainid, address(this), statementHash, payTo))) % FIELD;
    }

    /// @notice Whether `root` may prove now.
    function rootValid(uint256 root) public view returns (bool) {
        uint64 seq = rootSeq[root];
        return seq != 0 && seq >= oldestValid && !revokedRoot[root];
    }

    /// @dev Money moves on `root` only once an auditor confirmed it and `claimDelay` has passed
    /// since its anchor (the members' time to revoke it).
    function _paysOn(uint256 root) private view {
        if (confirmedAt[root] == 0) revert RootNotConfirmed(root);
        uint64 paysFrom = anchoredAt[root] + claimDelay;
        if (block.timestamp < paysFrom) revert RootTooNew(root, paysFrom);
    }

    function _spend(uint256[8] calldata p, uint256[5] memory pub) private {
        uint256 root = pub[1];
        if (rootSeq[root] == 0 || revokedRoot[root]) revert UnknownRoot(root);
        if (rootSeq[root] < oldestValid) revert StaleRoot(root);
        if (nullifierUsed[pub[0]]) revert NullifierUsed(pub[0]);
        for (uint256 i; i < 5; ++i) {
            if (pub[i] >= FIELD) revert NotInField(pub[i]);
        }
        // a call gets at most 63/64 of what is left: make sure the verifier gets all of VERIFY_GAS
        if (gasleft() < (VERIFY_GAS * 64) / 63 + 10_000) revert VerifyGasTooLow(gasleft());
        bool ok = verifier.verifyProof{gas: VERIFY_GAS}(
            [p[0], p[1]], [[p[2], p[3]], [p[4], p[5]]], [p[6], p[7]], pub
        );
        if (!ok) revert InvalidProof();
        nullifierUsed[pub[0]] = true;
    }
}
