// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {Membership} from "./Membership.sol";
import {MemberGated} from "./MemberGated.sol";
import {Roles} from "./Roles.sol";

/// @title OrderSettlement
/// @notice Escrow for social e-commerce orders. The platform (an operator member) escrows an
/// order's payment in the settlement token; on delivery confirmation, or after a timeout that
/// anyone may trigger, the amount is split between the merchant, up to three referral levels
/// and the platform fee, by basis points within caps set by governance. Each share is
/// `amount * bps / 10000` rounded down and the merchant receives the rest, so the shares always
/// sum to the amount. A refund before settlement returns the full amount to the payer.
/// Every payout is credited and pulled by its owner with {withdraw}.
contract OrderSettlement is MemberGated, ReentrancyGuard {
    using SafeERC20 for IERC20;

    enum Status {
        None,
        Escrowed,
        Settled,
        Refunded
    }

    struct Order {
        address merchant;
        Status status;
        uint64 settleAfter;
        address payer;
        uint16 platformFeeBps;
        uint8 levels;
        uint128 amount;
        uint16[3] referralBps;
        address[3] referrers;
    }

    uint256 public constant BPS = 10_000;
    uint256 public constant MAX_LEVELS = 3;

    IERC20 public immutable token;
    address public treasury;
    uint64 public settlementTimeout;
    uint16 public platformFeeCapBps;
    uint16[3] private _referralCapBps;
    mapping(bytes32 => Order) private _orders;
    /// @notice credited payouts (and refunds) waiting to be pulled
    mapping(address => uint256) public owed;
    /// @notice total of escrowed, unsettled orders
    uint256 public totalEscrowed;
    /// @notice total credited and not yet pulled
    uint256 public totalOwed;

    event CapsSet(uint16 platformFeeCapBps, uint16[3] referralCapBps);
    event TimeoutSet(uint64 settlementTimeout);
    event TreasurySet(address indexed treasury);
    event OrderEscrowed(
        bytes32 indexed orderId,
        address indexed merchant,
        address indexed payer,
        uint256 amount,
        address[] referrers,
        uint16[] referralBps,
        uint16 platformFeeBps,
        uint64 settleAfter
    );
    event OrderSettled(
        bytes32 indexed orderId,
        address indexed merchant,
        uint256 merchantShare,
        uint256[] referralShares,
        uint256 platformFee,
        bool byTimeout
    );
    event OrderRefunded(bytes32 indexed orderId, address indexed payer, uint256 amount);
    event PayoutWithdrawn(address indexed account, uint256 amount);

    error ZeroAmount();
    error OrderExists(bytes32 orderId);
    error UnknownOrder(bytes32 orderId);
    error OrderNotEscrowed(bytes32 orderId, Status status);
    error TooManyLevels(uint256 levels);
    error LengthMismatch(uint256 referrers, uint256 rates);
    error RateAboveCap(uint256 level, uint256 bps, uint256 cap);
    error CapsTooHigh(uint256 totalBps);
    error TimeoutNotReached(bytes32 orderId, uint64 settleAfter);
    error NotAMerchant(address account);
    error NothingOwed(address account);

    constructor(Membership membership_, IERC20 token_, address treasury_, uint64 timeout_)
        MemberGated(membership_)
    {
        if (address(token_) == address(0) || treasury_ == address(0)) revert ZeroAddress();
        token = token_;
        treasury = treasury_;
        settlementTimeout = timeout_;
        emit TreasurySet(treasury_);
        emit TimeoutSet(timeout_);
    }

    /// @notice Set the platform-fee cap and the cap for each referral level, in basis points;
    /// all caps together may not exceed 100%. Governance only.
    function setCaps(uint16 platformFeeCapBps_, uint16[3] calldata referralCapBps_) external onlyGovernance {
        uint256 total = uint256(platformFeeCapBps_) + referralCapBps_[0] + referralCapBps_[1] + referralCapBps_[2];
        if (total > BPS) revert CapsTooHigh(total);
        platformFeeCapBps = platformFeeCapBps_;
        _referralCapBps = referralCapBps_;
        emit CapsSet(platformFeeCapBps_, referralCapBps_);
    }

    /// @notice Set the delay after escrow from which anyone may settle an order. Governance only.
    function setTimeout(uint64 timeout_) external onlyGovernance {
        settlementTimeout = timeout_;
        emit TimeoutSet(timeout_);
    }

    /// @notice Set who receives platform fees. Governance only.
    function setTreasury(address treasury_) external onlyGovernance {
        if (treasury_ == address(0)) revert ZeroAddress();
        treasury = treasury_;
        emit TreasurySet(treasury_);
    }

    /// @notice The referral caps per level, in basis points.
    function referralCapBps() external view returns (uint16[3] memory) {
        return _referralCapBps;
    }

    /// @notice Escrow order `orderId`: takes `amount` fen from the caller (an operator) and
    /// fixes the split terms. A refund goes to `payer`. Order ids are unique forever.
    function escrow(
        bytes32 orderId,
        address merchant,
        address payer,
        uint128 amount,
        address[] calldata referrers,
        uint16[] calldata referralBps,
        uint16 platformFeeBps
    ) external nonReentrant onlyRole(Roles.OPERATOR) {
        if (amount == 0) revert ZeroAmount();
        if (payer == address(0)) revert ZeroAddress();
        if (_orders[orderId].status != Status.None) revert OrderExists(orderId);
        if (!membership.hasAnyRole(merchant, Roles.MERCHANT)) revert NotAMerchant(merchant);
        uint256 levels = referrers.length;
        if (levels > MAX_LEVELS) revert TooManyLevels(levels);
        if (referralBps.length != levels) revert LengthMismatch(levels, referralBps.length);
        if (platformFeeBps > platformFeeCapBps) revert RateAboveCap(0, platformFeeBps, platformFeeCapBps);

        Order storage o = _orders[orderId];
        for (uint256 i = 0; i < levels; i++) {
            if (referrers[i] == address(0)) revert ZeroAddress();
            if (referralBps[i] > _referralCapBps[i]) revert RateAboveCap(i + 1, referralBps[i], _referralCapBps[i]);
            o.referrers[i] = referrers[i];
            o.referralBps[i] = referralBps[i];
        }
        uint64 settleAfter = uint64(block.timestamp) + settlementTimeout;
        o.merchant = merchant;
        o.status = Status.Escrowed;
        o.settleAfter = settleAfter;
        o.payer = payer;
        o.platformFeeBps = platformFeeBps;
        o.levels = uint8(levels);
        o.amount = amount;
        totalEscrowed += amount;
        emit OrderEscrowed(orderId, merchant, payer, amount, referrers, referralBps, platformFeeBps, settleAfter);
        token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @notice Settle an order whose delivery the platform confirms; operators only.
    function confirm(bytes32 orderId) external onlyRole(Roles.OPERATOR) {
        _settle(orderId, false);
    }

    /// @notice Settle an order whose timeout has passed; anyone may call.
    function settleOnTimeout(bytes32 orderId) external {
        Order storage o = _orders[orderId];
        if (o.status == Status.Escrowed && block.timestamp < o.settleAfter) {
            revert TimeoutNotReached(orderId, o.settleAfter);
        }
        _settle(orderId, true);
    }

    /// @notice Refund an unsettled order in full to its payer; operators only.
    function refund(bytes32 orderId) external onlyRole(Roles.OPERATOR) {
        Order storage o = _requireEscrowed(orderId);
        o.status = Status.Refunded;
        uint256 amount = o.amount;
        totalEscrowed -= amount;
        _credit(o.payer, amount);
        emit OrderRefunded(orderId, o.payer, amount);
    }

    /// @notice Pull everything credited to the caller.
    function withdraw() external nonReentrant {
        uint256 amount = owed[msg.sender];
        if (amount == 0) revert NothingOwed(msg.sender);
        owed[msg.sender] = 0;
        totalOwed -= amount;
        emit PayoutWithdrawn(msg.sender, amount);
        token.safeTransfer(msg.sender, amount);
    }

    /// @notice Order `orderId` as stored.
    function orderOf(bytes32 orderId) external view returns (Order memory) {
        Order memory o = _orders[orderId];
        if (o.status == Status.None) revert UnknownOrder(orderId);
        return o;
    }

    /// @notice The split of `amount`: each referral share and the platform fee rounded down,
    /// the merchant's share the remainder. The parts sum to `amount` exactly.
    function split(uint256 amount, uint16[] memory referralBps, uint16 platformFeeBps)
        public
        pure
        returns (uint256 merchantShare, uint256[] memory referralShares, uint256 platformFee)
    {
        referralShares = new uint256[](referralBps.length);
        platformFee = (amount * platformFeeBps) / BPS;
        uint256 paid = platformFee;
        for (uint256 i = 0; i < referralBps.length; i++) {
            referralShares[i] = (amount * referralBps[i]) / BPS;
            paid += referralShares[i];
        }
        merchantShare = amount - paid;
    }

    function _settle(bytes32 orderId, bool byTimeout) private {
        Order storage o = _requireEscrowed(orderId);
        o.status = Status.Settled;
        uint256 amount = o.amount;
        uint256 levels = o.levels;
        uint16[] memory bps = new uint16[](levels);
        for (uint256 i = 0; i < levels; i++) {
            bps[i] = o.referralBps[i];
        }
        (uint256 merchantShare, uint256[] memory shares, uint256 fee) = split(amount, bps, o.platformFeeBps);
        totalEscrowed -= amount;
        totalOwed += amount;
        owed[o.merchant] += merchantShare;
        for (uint256 i = 0; i < levels; i++) {
            owed[o.referrers[i]] += shares[i];
        }
        owed[treasury] += fee;
        emit OrderSettled(orderId, o.merchant, merchantShare, shares, fee, byTimeout);
    }

    function _credit(address account, uint256 amount) private {
        owed[account] += amount;
        totalOwed += amount;
    }

    function _requireEscrowed(bytes32 orderId) private view returns (Order storage o) {
        o = _orders[orderId];
        if (o.status == Status.None) revert UnknownOrder(orderId);
        if (o.status != Status.Escrowed) revert OrderNotEscrowed(orderId, o.status);
    }
}
