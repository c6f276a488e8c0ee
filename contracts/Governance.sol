// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title Governance
/// @notice A k-of-n council of governors. Any governor proposes a call on a target contract;
/// the call runs when `threshold` distinct governors have approved it. Membership changes,
/// deposit minimums, commission caps and timeouts are all set through here, never by one key.
/// Approvals are counted afresh each time, from those who are governors then: a removed
/// governor's approvals count for nothing (unless the council adds it back).
contract Governance {
    struct Proposal {
        address target;
        bool executed;
        uint64 proposedAt;
        bytes data;
        address[] approvers; // everyone who approved, governor then or not now
    }

    /// @notice A proposal not executed within this long after it was made can no longer be approved.
    uint64 public constant PROPOSAL_LIFETIME = 14 days;

    mapping(address => bool) public isGovernor;
    uint256 public governorCount;
    uint256 public threshold;
    uint256 public proposalCount;
    mapping(uint256 => Proposal) private _proposals;
    mapping(uint256 => mapping(address => bool)) public hasApproved;

    event GovernorAdded(address indexed governor);
    event GovernorRemoved(address indexed governor);
    event ThresholdChanged(uint256 threshold);
    event ProposalCreated(uint256 indexed id, address indexed proposer, address indexed target, bytes data);
    event ProposalReason(uint256 indexed id, string reason);
    event ProposalApproved(uint256 indexed id, address indexed governor, uint256 approvals);
    event ProposalExecuted(uint256 indexed id, bytes result);
    /// @notice The council decided that `validator` seals the consortium's blocks (or no longer
    /// does); each organisation's node operator votes so with its own validator node.
    event ValidatorDecided(address indexed validator, bool authorized);

    error NotGovernor(address caller);
    error OnlySelf(address caller);
    error InvalidThreshold(uint256 threshold, uint256 governorCount);
    error AlreadyGovernor(address account);
    error UnknownProposal(uint256 id);
    error AlreadyApproved(uint256 id, address governor);
    error AlreadyExecuted(uint256 id);
    error ProposalExpired(uint256 id);
    error ZeroAddress();

    modifier onlyGovernor() {
        if (!isGovernor[msg.sender]) revert NotGovernor(msg.sender);
        _;
    }

    modifier onlySelf() {
        if (msg.sender != address(this)) revert OnlySelf(msg.sender);
        _;
    }

    /// @param governors_ the initial council, distinct and non-zero
    /// @param threshold_ approvals needed to execute a proposal, 1..governors_.length
    constructor(address[] memory governors_, uint256 threshold_) {
        for (uint256 i = 0; i < governors_.length; i++) {
            _addGovernor(governors_[i]);
        }
        _setThreshold(threshold_);
    }

    /// @notice Propose `data` to be called on `target`; the proposer's approval counts at once.
    /// @return id the proposal id (sequential from 1)
    function propose(address target, bytes calldata data) external onlyGovernor returns (uint256 id) {
        id = _propose(target, data);
    }

    /// @notice Propose as `propose` does, with the governor's reason for it recorded on chain.
    /// @return id the proposal id (sequential from 1)
    function proposeWithReason(address target, bytes calldata data, string calldata reason)
        external
        onlyGovernor
        returns (uint256 id)
    {
        id = _propose(target, data);
        emit ProposalReason(id, reason);
    }

    function _propose(address target, bytes calldata data) private returns (uint256 id) {
        if (target == address(0)) revert ZeroAddress();
        id = ++proposalCount;
        Proposal storage p = _proposals[id];
        p.target = target;
        p.data = data;
        p.proposedAt = uint64(block.timestamp);
        emit ProposalCreated(id, msg.sender, target, data);
        _approve(id, p);
    }

    /// @notice Approve proposal `id`. The approval that reaches the threshold executes the call;
    /// if the call reverts, the approval reverts with the target's error and may be retried.
    function approve(uint256 id) external onlyGovernor {
        Proposal storage p = _proposals[id];
        if (p.target == address(0)) revert UnknownProposal(id);
        _approve(id, p);
    }

    /// @notice The stored proposal `id`; `approvals` counts the approvers who are governors now.
    function proposal(uint256 id)
        external
        view
        returns (address target, bytes memory data, uint256 approvals, bool executed)
    {
        Proposal storage p = _proposals[id];
        return (p.target, p.data, _approvals(p), p.executed);
    }

    /// @notice Add a governor; callable only through an approved proposal.
    function addGovernor(address governor) external onlySelf {
        _addGovernor(governor);
    }

    /// @notice Remove a governor; the threshold must still be reachable afterwards.
    function removeGovernor(address governor) external onlySelf {
        if (!isGovernor[governor]) revert NotGovernor(governor);
        isGovernor[governor] = false;
        governorCount -= 1;
        if (threshold > governorCount) revert InvalidThreshold(threshold, governorCount);
        emit GovernorRemoved(governor);
    }

    /// @notice Record the council's decision on a block sealer; callable only through an approved
    /// proposal. The chain's signers change when the signers' nodes vote as decided.
    function setValidator(address validator, bool authorized) external onlySelf {
        if (validator == address(0)) revert ZeroAddress();
        emit ValidatorDecided(validator, authorized);
    }

    /// @notice Change the approval threshold; callable only through an approved proposal.
    function setThreshold(uint256 threshold_) external onlySelf {
        _setThreshold(threshold_);
    }

    function _approve(uint256 id, Proposal storage p) private {
        if (p.executed) revert AlreadyExecuted(id);
        if (block.timestamp > p.proposedAt + PROPOSAL_LIFETIME) revert ProposalExpired(id);
        if (hasApproved[id][msg.sender]) revert AlreadyApproved(id, msg.sender);
        hasApproved[id][msg.sender] = true;
        p.approvers.push(msg.sender);
        uint256 approvals = _approvals(p);
        emit ProposalApproved(id, msg.sender, approvals);
        if (approvals >= threshold) {
            p.executed = true;
            (bool ok, bytes memory result) = p.target.call(p.data);
            if (!ok) {
                assembly ("memory-safe") {
                    revert(add(result, 32), mload(result))
                }
            }
            emit ProposalExecuted(id, result);
        }
    }

    /// @dev The approvals of `p` by accounts that are governors now.
    function _approvals(Proposal storage p) private view returns (uint256 n) {
        address[] storage approvers = p.approvers;
        for (uint256 i = 0; i < approvers.length; i++) {
            if (isGovernor[approvers[i]]) n++;
        }
    }

    function _addGovernor(address governor) private {
        if (governor == address(0)) revert ZeroAddress();
        if (isGovernor[governor]) revert AlreadyGovernor(governor);
        isGovernor[governor] = true;
        governorCount += 1;
        emit GovernorAdded(governor);
    }

    function _setThreshold(uint256 threshold_) private {
        if (threshold_ == 0 || threshold_ > governorCount) revert InvalidThreshold(threshold_, governorCount);
        threshold = threshold_;
        emit ThresholdChanged(threshold_);
    }
}
