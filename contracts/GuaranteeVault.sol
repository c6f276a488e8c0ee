// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {Membership} from "./Membership.sol";
import {MemberGated} from "./MemberGated.sol";
import {Roles} from "./Roles.sol";

/// @title GuaranteeVault
/// @notice Merchants lock guarantee deposits in the settlement token. Governance sets each
/// merchant's required minimum and the withdrawal cooldown; arbiters freeze part of a deposit
/// while a complaint is open and then release it or award it to the claimant, who pulls it.
/// A withdrawal is requested, waits the cooldown, is taken within `WITHDRAWAL_WINDOW` after it (or
/// asked again), and never leaves less than the minimum (plus what is frozen) while the merchant
/// holds the merchant role.
///
/// Cases are decided as rulings on orders are: a party to a case (its merchant or claimant)
/// never opens or decides it; the arbiter who opened a case (and so named its claimant) never
/// awards it alone: an award needs an arbiter other than the opener (issue 25: otherwise one
/// arbiter key names an address of its own as claimant and pays itself any merchant's deposit,
/// up to the threshold a case, case after case). One arbiter may decide a case of up to
/// `caseThreshold` fen (release it, or award one it did not open); a larger case needs
/// `caseQuorum` (at least two) distinct arbiters' EIP-712 signatures of CaseRuling(caseId, payOut)
/// either way, each checked to hold the arbiter role when it is executed: releasing a large case
/// denies its claimant as surely as awarding it takes from the merchant.
contract GuaranteeVault is MemberGated, ReentrancyGuard, EIP712 {
    using SafeERC20 for IERC20;

    struct Account {
        uint256 balance; // deposited and not yet withdrawn or awarded
        uint256 frozen; // part of balance held by open cases
        uint256 minimum; // required while the merchant is active
        uint256 pending; // amount of the requested withdrawal
        uint64 unlockAt; // when the requested withdrawal may be taken
    }

    struct Case {
        address merchant;
        uint96 amount;
        address claimant;
        bool open;
    }

    bytes32 private constant CASE_RULING_TYPEHASH = keccak256("CaseRuling(uint256 caseId,bool payOut)");

    /// @notice How long an unlocked withdrawal may be taken; then it lapses and is asked again. A
    /// request kept for ever let a merchant ask once and, weeks later, take its deposit the moment
    /// a complaint came, while the scan page had shown the same request pending all along.
    uint64 public constant WITHDRAWAL_WINDOW = 3 days;
    /// @notice The longest cooldown (2^32 s, ~136 years, as OrderSettlement's periods): a longer one
    /// overflowed every withdrawal request's unlock time and refused them all (outside probe)
    uint64 public constant MAX_COOLDOWN = 1 << 32;

    IERC20 public immutable token;
    uint64 public cooldown;
    /// @dev an award above this many fen needs `caseQuorum` arbiters (packed with `cooldown`)
    uint96 private caseThreshold = 100_000;
    uint8 private caseQuorum = 2;
    mapping(address => Account) private _accounts;
    mapping(uint256 => Case) public cases;
    /// @notice The arbiter who opened each case (it may not award the case alone).
    mapping(uint256 => address) public caseOpener;
    uint256 public caseCount;
    /// @notice awarded amounts waiting to be pulled by claimants
    mapping(address => uint256) public claimable;
    /// @notice The contract whose verified proofs pay shoppers' claims from deposits
    /// (PurchaseProofs, docs/zk.md): no key pays them, a proof and governance's terms do.
    address public claimsPayer;

    event MinimumSet(address indexed merchant, uint256 minimum);
    event CooldownSet(uint64 cooldown);
    event Deposited(address indexed merchant, uint256 amount, uint256 balance);
    event WithdrawalRequested(address indexed merchant, uint256 amount, uint64 unlockAt);
    event WithdrawalCancelled(address indexed merchant, uint256 amount);
    event Withdrawn(address indexed merchant, uint256 amount, uint256 balance);
    event CaseOpened(uint256 indexed caseId, address indexed merchant, address indexed claimant, uint256 amount);
    event CaseReleased(uint256 indexed caseId, address indexed merchant, uint256 amount);
    event CasePaidOut(uint256 indexed caseId, address indexed merchant, address indexed claimant, uint256 amount);
    event Claimed(address indexed claimant, uint256 amount);
    event CaseRulingSet(uint256 threshold, uint8 quorum);
    event CaseRuled(uint256 indexed caseId, bool payOut, uint256 signers);
    event ClaimsPayerSet(address payer);
    event ProvenClaimPaid(address indexed merchant, address payTo, uint256 amount);

    error ZeroAmount();
    error InsufficientAvailable(address merchant, uint256 requested, uint256 available);
    error WithdrawalAlreadyPending(address merchant, uint256 amount);
    error NoPendingWithdrawal(address merchant);
    error CooldownNotOver(address merchant, uint64 unlockAt);
    error WithdrawalLapsed(address merchant, uint64 lapsedAt);
    error UnknownCase(uint256 caseId);
    error CaseClosed(uint256 caseId);
    error NothingToClaim(address account);
    error PartyToCase(address account);
    error OpenerAlone(uint256 caseId, address opener);
    error TooFewSignatures(uint256 caseId, uint256 signers, uint256 required);
    error NotAnArbiter(address signer);
    error SignersNotAscending(address signer);
    error BadQuorum(uint8 quorum);
    error NotClaimsPayer(address caller);
    error CooldownTooLong(uint64 cooldown, uint64 max);

    constructor(Membership membership_, IERC20 token_, uint64 cooldown_)
        MemberGated(membership_)
        EIP712("traceledger GuaranteeVault", "1")
    {
        if (address(token_) == address(0)) revert ZeroAddress();
        token = token_;
        if (cooldown_ > MAX_COOLDOWN) revert CooldownTooLong(cooldown_, MAX_COOLDOWN);
        cooldown = cooldown_;
        emit CooldownSet(cooldown_);
        emit CaseRulingSet(caseThreshold, caseQuorum);
    }

    /// @notice Set the deposit `merchant` must keep locked while active; governance only.
    function setMinimum(address merchant, uint256 minimum) external onlyGovernance {
        _accounts[merchant].minimum = minimum;
        emit MinimumSet(merchant, minimum);
    }

    /// @notice Set the withdrawal cooldown in seconds; governance only.
    function setCooldown(uint64 cooldown_) external onlyGovernance {
        if (cooldown_ > MAX_COOLDOWN) revert CooldownTooLong(cooldown_, MAX_COOLDOWN);
        cooldown = cooldown_;
        emit CooldownSet(cooldown_);
    }

    /// @notice Awards above `threshold` fen need `quorum` (two or more) arbiters. Governance only.
    function setCaseRuling(uint96 threshold, uint8 quorum) external onlyGovernance {
        if (quorum < 2) revert BadQuorum(quorum);
        caseThreshold = threshold;
        caseQuorum = quorum;
        emit CaseRulingSet(threshold, quorum);
    }

    /// @notice Name the contract whose proofs pay shoppers' claims; governance only.
    function setClaimsPayer(address payer) external onlyGovernance {
        claimsPayer = payer;
        emit ClaimsPayerSet(payer);
    }

    /// @notice Pay `amount` fen of `merchant`'s deposit (not what open cases hold frozen) to
    /// `payTo`: only the claims payer calls it, once it has checked a shopper's proof against the
    /// batch's claim terms. The minimum does not protect a deposit from the claims it guarantees.
    /// `aboveMinimum`: the claim is on the merchant's own terms, so it keeps the merchant's minimum
    /// as a withdrawal does (standing terms of a whole deposit, claimed through a purchase of its own,
    /// were a withdrawal with no floor and no window for arbiters to freeze it); terms governance
    /// imposed (a recall) may take the deposit below it.
    function payProvenClaim(address merchant, address payTo, uint256 amount, bool aboveMinimum)
        external
        nonReentrant
    {
        if (msg.sender != claimsPayer || msg.sender == address(0)) revert NotClaimsPayer(msg.sender);
        if (amount == 0) revert ZeroAmount();
        // as for a case: the merchant paid from its own deposit would skip the withdrawal's cooldown
        // and floor, and paid to the vault the fen would belong to no one (outside probe: both paid)
        if (payTo == merchant || payTo == address(this)) revert PartyToCase(payTo);
        Account storage a = _accounts[merchant];
        uint256 free = aboveMinimum ? available(merchant) : a.balance - a.frozen;
        if (amount > free) revert InsufficientAvailable(merchant, amount, free);
        a.balance -= amount;
        emit ProvenClaimPaid(merchant, payTo, amount);
        token.safeTransfer(payTo, amount);
    }

    /// @notice Lock `amount` fen of the caller's tokens (approved beforehand); merchants only.
    function deposit(uint256 amount) external nonReentrant onlyRole(Roles.MERCHANT) {
        if (amount == 0) revert ZeroAmount();
        Account storage a = _accounts[msg.sender];
        a.balance += amount;
        emit Deposited(msg.sender, amount, a.balance);
        token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @notice Ask to withdraw `amount`; it may be taken after the cooldown, within the window.
    /// A lapsed request is replaced.
    function requestWithdrawal(uint256 amount) external {
        if (amount == 0) revert ZeroAmount();
        Account storage a = _accounts[msg.sender];
        if (a.pending != 0 && !_lapsed(a)) revert WithdrawalAlreadyPending(msg.sender, a.pending);
        uint256 free = available(msg.sender);
        if (amount > free) revert InsufficientAvailable(msg.sender, amount, free);
        uint64 unlockAt = uint64(block.timestamp) + cooldown;
        a.pending = amount;
        a.unlockAt = unlockAt;
        emit WithdrawalRequested(msg.sender, amount, unlockAt);
    }

    /// @notice Cancel the caller's pending withdrawal request.
    function cancelWithdrawal() external {
        Account storage a = _accounts[msg.sender];
        uint256 amount = a.pending;
        if (amount == 0) revert NoPendingWithdrawal(msg.sender);
        a.pending = 0;
        a.unlockAt = 0;
        emit WithdrawalCancelled(msg.sender, amount);
    }

    /// @notice Take the pending withdrawal once the cooldown is over. The minimum and frozen
    /// amounts are checked again now, since a case may have opened during the cooldown.
    function withdraw() external nonReentrant {
        Account storage a = _accounts[msg.sender];
        uint256 amount = a.pending;
        if (amount == 0) revert NoPendingWithdrawal(msg.sender);
        if (block.timestamp < a.unlockAt) revert CooldownNotOver(msg.sender, a.unlockAt);
        if (_lapsed(a)) revert WithdrawalLapsed(msg.sender, a.unlockAt + WITHDRAWAL_WINDOW);
        uint256 free = available(msg.sender);
        if (amount > free) revert InsufficientAvailable(msg.sender, amount, free);
        a.pending = 0;
        a.unlockAt = 0;
        a.balance -= amount;
        emit Withdrawn(msg.sender, amount, a.balance);
        token.safeTransfer(msg.sender, amount);
    }

    function _lapsed(Account storage a) private view returns (bool) {
        return block.timestamp > a.unlockAt + WITHDRAWAL_WINDOW;
    }

    /// @notice Open a complaint case against `merchant`, freezing `amount` of its deposit; the
    /// arbiter may be neither the merchant nor the claimant.
    /// @return caseId the new case's id (sequential from 1)
    function openCase(address merchant, address claimant, uint96 amount)
        external
        onlyRole(Roles.ARBITER)
        returns (uint256 caseId)
    {
        if (msg.sender == claimant || msg.sender == merchant) revert PartyToCase(msg.sender);
        caseId = _openFor(merchant, claimant, amount);
    }

    /// @notice A shopper's proven dispute becomes a case: `amount` of `merchant`'s deposit frozen
    /// for `payTo`, the address the shopper named. Only the claims payer calls it, once it has
    /// checked the shopper's proof against the batch's terms; arbiters then decide the case as any
    /// other ({closeCase}, {ruleCase}): no arbiter opened it, so one not a party may uphold it up
    /// to `caseThreshold`, a quorum above. An upheld case is paid with {claimFor}.
    function openProvenCase(address merchant, address payTo, uint96 amount) external returns (uint256 caseId) {
        if (msg.sender != claimsPayer || msg.sender == address(0)) revert NotClaimsPayer(msg.sender);
        caseId = _openFor(merchant, payTo, amount);
    }

    function _openFor(address merchant, address claimant, uint96 amount) private returns (uint256 caseId) {
        if (amount == 0) revert ZeroAmount();
        if (claimant == address(0)) revert ZeroAddress();
        // the merchant paid from its own deposit would skip the withdrawal's cooldown and floor
        if (claimant == merchant || claimant == address(this)) revert PartyToCase(claimant);
        Account storage a = _accounts[merchant];
        uint256 unfrozen = a.balance - a.frozen;
        if (amount > unfrozen) revert InsufficientAvailable(merchant, amount, unfrozen);
        a.frozen += amount;
        caseId = ++caseCount;
        cases[caseId] = Case(merchant, amount, claimant, true);
        caseOpener[caseId] = msg.sender;
        emit CaseOpened(caseId, merchant, claimant, amount);
    }

    /// @notice Close case `caseId` as the one arbiter deciding it (not a party to it): release
    /// the frozen amount back to the merchant, or (if `payOut`) award it to the claimant, who
    /// then pulls it with {claim}. A case above `caseThreshold` needs {ruleCase} either way; the
    /// arbiter who opened the case may release it, never award it.
    function closeCase(uint256 caseId, bool payOut) external onlyRole(Roles.ARBITER) {
        Case storage c = _openCase(caseId);
        _notParty(c, msg.sender);
        if (c.amount > caseThreshold) revert TooFewSignatures(caseId, 1, caseQuorum);
        if (payOut && msg.sender == caseOpener[caseId]) revert OpenerAlone(caseId, msg.sender);
        _close(caseId, c, payOut);
    }

    /// @notice Execute the arbiters' ruling on case `caseId`: `signatures` are EIP-712 signatures
    /// of CaseRuling(caseId, payOut) by distinct arbiters, none a party to the case, in ascending
    /// address order; a case above `caseThreshold` needs `caseQuorum` of them (released or paid
    /// out), a smaller one one; an award needs one signer who did not open the case. Anyone may
    /// submit.
    function ruleCase(uint256 caseId, bool payOut, bytes[] calldata signatures) external {
        Case storage c = _openCase(caseId);
        uint256 required = c.amount > caseThreshold ? caseQuorum : 1;
        if (signatures.length < required) revert TooFewSignatures(caseId, signatures.length, required);
        bytes32 digest = caseRulingDigest(caseId, payOut);
        address last = address(0);
        address opener = caseOpener[caseId];
        bool other = !payOut;
        for (uint256 i = 0; i < signatures.length; i++) {
            address signer = ECDSA.recover(digest, signatures[i]);
            if (signer <= last) revert SignersNotAscending(signer);
            if (!membership.hasAnyRole(signer, Roles.ARBITER)) revert NotAnArbiter(signer);
            _notParty(c, signer);
            if (signer != opener) other = true;
            last = signer;
        }
        if (!other) revert OpenerAlone(caseId, opener);
        emit CaseRuled(caseId, payOut, signatures.length);
        _close(caseId, c, payOut);
    }

    /// @notice Cases above `threshold` fen need `quorum` arbiters' signatures, released or paid out.
    function caseRuling() external view returns (uint256 threshold, uint8 quorum) {
        return (caseThreshold, caseQuorum);
    }

    /// @notice The EIP-712 digest arbiters sign to rule on a case.
    function caseRulingDigest(uint256 caseId, bool payOut) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(CASE_RULING_TYPEHASH, caseId, payOut)));
    }

    function _openCase(uint256 caseId) private view returns (Case storage c) {
        c = cases[caseId];
        if (c.merchant == address(0)) revert UnknownCase(caseId);
        if (!c.open) revert CaseClosed(caseId);
    }

    function _notParty(Case storage c, address account) private view {
        if (account == c.claimant || account == c.merchant) revert PartyToCase(account);
    }

    function _close(uint256 caseId, Case storage c, bool payOut) private {
        c.open = false;
        Account storage a = _accounts[c.merchant];
        a.frozen -= c.amount;
        if (payOut) {
            a.balance -= c.amount;
            claimable[c.claimant] += c.amount;
            emit CasePaidOut(caseId, c.merchant, c.claimant, c.amount);
        } else {
            emit CaseReleased(caseId, c.merchant, c.amount);
        }
    }

    /// @notice Pull what the caller was awarded.
    function claim() external nonReentrant {
        _pay(msg.sender);
    }

    /// @notice Pay `claimant` what it was awarded, to itself only; anyone may send it (a shopper's
    /// fresh payout address holds no gas, and funding it would link it to whoever funded it).
    function claimFor(address claimant) external nonReentrant {
        _pay(claimant);
    }

    function _pay(address claimant) private {
        uint256 amount = claimable[claimant];
        if (amount == 0) revert NothingToClaim(claimant);
        claimable[claimant] = 0;
        emit Claimed(claimant, amount);
        token.safeTransfer(claimant, amount);
    }

    /// @notice What `merchant` could withdraw now: balance less frozen, less the minimum while
    /// it holds the merchant role.
    function available(address merchant) public view returns (uint256) {
        Account storage a = _accounts[merchant];
        uint256 locked = a.frozen;
        if (membership.hasAnyRole(merchant, Roles.MERCHANT)) locked += a.minimum;
        return a.balance > locked ? a.balance - locked : 0;
    }

    /// @notice The deposit account of `merchant`.
    function accountOf(address merchant)
        external
        view
        returns (uint256 balance, uint256 frozen, uint256 minimum, uint256 pending, uint64 unlockAt)
    {
        Account storage a = _accounts[merchant];
        return (a.balance, a.frozen, a.minimum, a.pending, a.unlockAt);
    }
}
