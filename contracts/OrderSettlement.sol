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
import {
    BadIndex,
    CapsWord,
    CapsWordLib,
    OrderRecord,
    OrderRecordLib,
    RateAboveCap,
    SettledShares,
    Status,
    TermsWord,
    TooManyLevels,
    ZeroAmount
} from "./lib/OrderPacking.sol";

/// @title OrderSettlement
/// @notice Escrow for social e-commerce orders, settled on delivery, after a return window.
///
/// Lifecycle: the platform (an operator, the payer on chain) escrows an order; its carrier (a
/// logistics member named on the order) confirms delivery with the hash ID of the EPCIS event
/// that records it, or the platform does for an order without a carrier; delivery opens the
/// return window, within which the merchant or the platform may refund all or part and the
/// platform may raise a dispute that freezes the order until arbiters rule. Once the window has
/// closed, or the settlement timeout after escrow has passed without a delivery, anyone may
/// settle: what remains is split between the merchant, up to three referral levels and the
/// platform fee, each share `remaining * bps / 10000` rounded down and the merchant the rest, so
/// the parts always sum to what remains. Payouts and refunds are credited and pulled with
/// {withdraw}.
///
/// Batches and storage. Every entry point takes many orders. An order is named by `key`, a keyed
/// commitment to the platform's order number (no order number or shopper on chain), and is
/// passed as one packed word of terms that refers to addresses by index into the call's
/// `accounts` table (see {TermsWord} in lib/OrderPacking.sol for the layout). The contract keeps one storage word per open
/// order, in a slot the platform chooses among its own (slots are per payer): 160 bits of the hash of the key and the terms, the
/// status, a deadline and the amount refunded. A slot whose order is settled or refunded may be
/// reused by a new order, so a platform's slots grow to its peak of open orders and each later
/// order rewrites a word instead of creating one. Order keys are unique in the platform's books;
/// the chain does not remember keys whose slot was reused (reconciliation reports a repeat).
contract OrderSettlement is MemberGated, ReentrancyGuard, EIP712 {
    using SafeERC20 for IERC20;

    /// @dev an order's terms, decoded from its packed word and the accounts table
    struct Terms {
        bytes32 key;
        TermsWord word;
        uint256 amount;
        uint256 feeBps;
        uint256 levels;
        uint256[3] bps;
        uint256 merchantIdx;
        uint256[3] referrerIdx;
        uint256 carrierIdx;
        address merchant;
        address[3] referrers;
        address carrier;
        address payer;
        uint256 slot;
    }

    /// @dev what one escrow call carries from order to order
    struct EscrowRun {
        CapsWord caps;
        uint64 settleAfter;
        uint256 high;
        uint256 total;
        uint256[] checked;
    }

    uint256 public constant BPS = 10_000;
    uint256 public constant MAX_LEVELS = 3;
    /// @notice the carrier index of an order without a carrier
    uint256 public constant NO_CARRIER = 0xFFFF;
    uint256 public constant MAX_AMOUNT = (1 << 48) - 1;
    /// @notice the longest settlement timeout or return window (2^32 s, 136 years): a deadline has
    /// 40 bits in an order's record, and a longer period spilled into its status and terms
    uint64 public constant MAX_PERIOD = 1 << 32;
    /// @dev a ruling names the order's payer too: keys are unique only in each platform's books, and
    /// another platform's order under the same key must not take a ruling made for this one
    /// @notice A ruling names the order's instance, not only its key: the terms hash of its slot and
    /// the return window's end its delivery set. A key used again (a restored database, a reused
    /// order number) is another order, and no ruling signed for the first decides it.
    bytes32 public constant RULING_TYPEHASH =
        keccak256("Ruling(bytes32 order,address payer,uint256 refund,uint256 terms,uint64 deadline)");

    IERC20 public immutable token;
    address public treasury;
    /// @notice seconds after escrow from which an undelivered order may be settled by anyone
    uint64 public settlementTimeout;
    /// @notice seconds after delivery during which refunds and disputes are possible
    uint64 public returnWindow = 7 days;
    /// @notice a disputed order whose remaining amount is above this needs `arbiterQuorum` arbiters
    uint256 public rulingThreshold = 100_000;
    uint8 public arbiterQuorum = 2;
    uint16 public platformFeeCapBps;
    uint16[3] private _referralCapBps;
    /// @dev payer => slot => record: each platform account has slots of its own
    mapping(address => mapping(uint256 => OrderRecord)) private _slots;
    /// @notice payer => one above the highest slot it has used: where its new slots may start
    mapping(address => uint256) public slotHighWater;
    /// @notice credited payouts (and refunds) waiting to be pulled
    mapping(address => uint256) public owed;
    /// @notice total escrowed and neither settled nor refunded
    uint256 public totalEscrowed;
    /// @notice total credited and not yet pulled
    uint256 public totalOwed;
    /// @notice merchant => the most it pays each referral level of an order it sells, in basis
    /// points (level 1 in the low 16 bits): set by the merchant alone, so the platform's key cannot
    /// pay referrers of its choosing more of a merchant's proceeds than the merchant agreed to
    mapping(address => uint48) public referralTermsOf;

    event CapsSet(uint16 platformFeeCapBps, uint16[3] referralCapBps);
    event TimeoutSet(uint64 settlementTimeout);
    event ReturnWindowSet(uint64 returnWindow);
    event RulingSet(uint256 threshold, uint8 quorum);
    event TreasurySet(address indexed treasury);
    /// @notice the accounts table and settlement time of the escrows that follow in this transaction
    event EscrowBatch(address[] accounts, uint64 settleAfter);
    /// @notice `terms` is the packed word (amount in its low 48 bits), indices into the batch's accounts
    event OrderEscrowed(bytes32 indexed key, address indexed merchant, uint256 terms);
    event CarrierSet(bytes32 indexed key, address indexed carrier);
    event OrderDelivered(bytes32 indexed key, bytes32 epcisEvent, uint64 windowEnds);
    event OrderRefunded(bytes32 indexed key, uint256 amount, uint256 remaining);
    event OrderDisputed(bytes32 indexed key);
    event OrderRuled(bytes32 indexed key, uint256 refund, uint256 signers);
    /// @notice `shares`: merchant, level 1, 2, 3 and platform fee, 48 bits each from the low end;
    /// bit 255 set when settled by timeout without a delivery
    event OrderSettled(bytes32 indexed key, uint256 shares);
    /// @notice an order in a settlement batch that could not be settled yet (status, deadline)
    event SettleSkipped(bytes32 indexed key, Status status, uint64 deadline);
    event PayoutWithdrawn(address indexed account, uint256 amount);
    event ReferralTermsSet(address indexed merchant, uint16[3] bps);

    error AmountTooLarge(uint256 index, uint256 amount);
    error BadBatch(uint256 words);
    error SlotInUse(uint256 index, uint256 slot);
    error TermsMismatch(bytes32 key);
    error WrongStatus(bytes32 key, Status status);
    error CapsTooHigh(uint256 totalBps);
    error NotAMerchant(address account);
    error NotACarrier(address account);
    error PayerNotCaller(address payer);
    error NotTheCarrier(bytes32 key, address caller);
    error HasCarrier(bytes32 key);
    error WindowClosed(bytes32 key, uint64 windowEnds);
    error RefundTooLarge(bytes32 key, uint256 refund, uint256 remaining);
    error NotAllowed(bytes32 key, address caller);
    error TooFewSignatures(bytes32 key, uint256 signers, uint256 required);
    error NotAnArbiter(address signer);
    error PartyToOrder(bytes32 key, address signer);
    error SignersNotAscending(address signer);
    error BadQuorum(uint8 quorum);
    error NothingOwed(address account);
    error PeriodTooLong(uint64 period, uint64 max);
    error ReferralAboveTerms(uint256 index, uint256 level, uint256 bps, uint256 agreed);
    error ReferrerNotAllowed(uint256 index, uint256 level, address referrer);
    error NotAParty(address account);
    error AccountsNotAscending(uint256 index);

    constructor(Membership membership_, IERC20 token_, address treasury_, uint64 timeout_)
        MemberGated(membership_)
        EIP712("traceledger OrderSettlement", "1")
    {
        if (address(token_) == address(0) || treasury_ == address(0)) revert ZeroAddress();
        token = token_;
        treasury = treasury_;
        _checkPeriod(timeout_);
        settlementTimeout = timeout_;
        emit TreasurySet(treasury_);
        emit TimeoutSet(timeout_);
        emit ReturnWindowSet(returnWindow);
        emit RulingSet(rulingThreshold, arbiterQuorum);
    }

    // -- governance ---------------------------------------------------------------------------

    /// @notice Set the platform-fee cap and the cap for each referral level, in basis points;
    /// all caps together may not exceed 100%. Governance only.
    function setCaps(uint16 platformFeeCapBps_, uint16[3] calldata referralCapBps_) external onlyGovernance {
        uint256 total = uint256(platformFeeCapBps_) + referralCapBps_[0] + referralCapBps_[1] + referralCapBps_[2];
        if (total > BPS) revert CapsTooHigh(total);
        platformFeeCapBps = platformFeeCapBps_;
        _referralCapBps = referralCapBps_;
        emit CapsSet(platformFeeCapBps_, referralCapBps_);
    }

    /// @notice Set the delay after escrow from which anyone may settle an undelivered order.
    function setTimeout(uint64 timeout_) external onlyGovernance {
        _checkPeriod(timeout_);
        settlementTimeout = timeout_;
        emit TimeoutSet(timeout_);
    }

    /// @notice Set the return window opened by delivery. Governance only.
    function setReturnWindow(uint64 window_) external onlyGovernance {
        _checkPeriod(window_);
        returnWindow = window_;
        emit ReturnWindowSet(window_);
    }

    /// @notice Rulings on disputed amounts above `threshold` fen need `quorum` arbiters. Governance only.
    /// A quorum of one would let one arbiter key rule any order alone, however large (as the
    /// vault's case quorum, at least two).
    function setRuling(uint256 threshold, uint8 quorum) external onlyGovernance {
        if (quorum < 2) revert BadQuorum(quorum);
        rulingThreshold = threshold;
        arbiterQuorum = quorum;
        emit RulingSet(threshold, quorum);
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

    /// @notice The calling merchant's referral terms: the most each level of an order it sells may
    /// pay (basis points; the on-chain caps still apply). Orders escrowed later are held to them.
    function setReferralTerms(uint16[3] calldata bps) external {
        _checkRole(msg.sender, Roles.MERCHANT);
        referralTermsOf[msg.sender] = uint48(bps[0]) | (uint48(bps[1]) << 16) | (uint48(bps[2]) << 32);
        emit ReferralTermsSet(msg.sender, bps);
    }

    // -- the lifecycle --------------------------------------------------------------------------

    /// @notice Escrow orders: `orders` holds (key, packed terms) pairs. Takes the sum of their
    /// amounts from the caller, who must be each order's payer. All or nothing.
    function escrow(address[] calldata accounts, uint256[] calldata orders) external nonReentrant {
        _checkRole(msg.sender, Roles.OPERATOR);
        _checkAccounts(accounts);
        EscrowRun memory run = EscrowRun({
            caps: _capsWord(),
            settleAfter: uint64(block.timestamp) + settlementTimeout,
            high: slotHighWater[msg.sender],
            total: 0,
            checked: new uint256[]((accounts.length >> 7) + 1)
        });
        emit EscrowBatch(accounts, run.settleAfter);
        uint256 n = _pairs(orders);
        for (uint256 i = 0; i < n; ++i) {
            _escrowOne(bytes32(orders[2 * i]), TermsWord.wrap(orders[2 * i + 1]), i, accounts, run);
        }
        totalEscrowed += run.total;
        if (run.high != slotHighWater[msg.sender]) slotHighWater[msg.sender] = run.high;
        token.safeTransferFrom(msg.sender, address(this), run.total);
    }

    /// @notice Name the carrier of an escrowed order that has none; its payer (an operator) only.
    /// The order's packed word changes: its carrier index must then point at `carrier` in the
    /// caller's table.
    function setCarrier(address[] calldata accounts, bytes32 key, uint256 word, address carrier) external {
        _checkRole(msg.sender, Roles.OPERATOR);
        if (!membership.hasAnyRole(carrier, Roles.LOGISTICS)) revert NotACarrier(carrier);
        Terms memory t;
        _decode(t, key, word, accounts);
        _onlyPayer(t);
        (OrderRecord r, Status s) = _load(t);
        if (s != Status.Escrowed) revert WrongStatus(key, s);
        if (t.carrierIdx != NO_CARRIER) revert HasCarrier(key);
        t.carrier = carrier;
        _slots[t.payer][t.slot] = r.withTermsHash(_hash(t));
        emit CarrierSet(key, carrier);
    }

    /// @notice The carrier confirms delivery of its orders, each with the hash ID of the EPCIS
    /// event that records it; this opens each order's return window. All or nothing.
    function confirmDeliveries(address[] calldata accounts, uint256[] calldata orders, bytes32[] calldata events)
        external
    {
        _deliver(accounts, orders, events, true);
    }

    /// @notice The platform confirms delivery of orders that have no carrier; each order's payer
    /// (an operator) only.
    function confirmByPlatform(address[] calldata accounts, uint256[] calldata orders, bytes32[] calldata events)
        external
    {
        _checkRole(msg.sender, Roles.OPERATOR);
        _deliver(accounts, orders, events, false);
    }

    /// @notice Refund `amount` of an order before settlement: before delivery, or within the
    /// return window. The merchant of the order or its payer (an operator). A full refund ends the order.
    function refund(address[] calldata accounts, bytes32 key, uint256 word, uint256 amount) external nonReentrant {
        Terms memory t;
        _decode(t, key, word, accounts);
        if (msg.sender != t.merchant && (msg.sender != t.payer || !membership.hasAnyRole(msg.sender, Roles.OPERATOR)))
        {
            revert NotAllowed(key, msg.sender);
        }
        (OrderRecord r, Status s) = _load(t);
        uint64 deadline = r.deadline();
        if (s == Status.Delivered) {
            if (block.timestamp >= deadline) revert WindowClosed(key, deadline);
        } else if (s != Status.Escrowed) {
            revert WrongStatus(key, s);
        }
        uint256 refunded = r.refunded();
        uint256 remaining = t.amount - refunded;
        if (amount == 0) revert ZeroAmount();
        if (amount > remaining) revert RefundTooLarge(key, amount, remaining);
        _slots[t.payer][t.slot] =
            OrderRecordLib.pack(r.termsHash(), amount == remaining ? Status.Refunded : s, deadline, refunded + amount);
        _refundTo(t, amount, remaining - amount);
    }

    /// @notice Raise a dispute for the shopper within the return window; the order's payer (an
    /// operator) only. The order is frozen until arbiters rule.
    function dispute(address[] calldata accounts, bytes32 key, uint256 word) external {
        _checkRole(msg.sender, Roles.OPERATOR);
        Terms memory t;
        _decode(t, key, word, accounts);
        _onlyPayer(t);
        (OrderRecord r, Status s) = _load(t);
        if (s != Status.Delivered) revert WrongStatus(key, s);
        uint64 deadline = r.deadline();
        if (block.timestamp >= deadline) revert WindowClosed(key, deadline);
        _slots[t.payer][t.slot] = r.withStatus(Status.Disputed);
        emit OrderDisputed(key);
    }

    /// @notice Execute the arbiters' ruling on a disputed order: refund `refundAmount` of what
    /// remains to the payer and settle the rest at once. `signatures` are EIP-712 signatures of
    /// Ruling(order, payer, refund, terms, deadline) by distinct arbiters in ascending address order: one suffices when
    /// what remains is at most `rulingThreshold`, `arbiterQuorum` otherwise; no party to the order
    /// (its payer, merchant, referrers or carrier) signs a ruling on it. Anyone may submit.
    function rule(
        address[] calldata accounts,
        bytes32 key,
        uint256 word,
        uint256 refundAmount,
        bytes[] calldata signatures
    ) external nonReentrant {
        Terms memory t;
        _decode(t, key, word, accounts);
        (OrderRecord r, Status s) = _load(t);
        if (s != Status.Disputed) revert WrongStatus(key, s);
        uint256 remaining = t.amount - r.refunded();
        if (refundAmount > remaining) revert RefundTooLarge(key, refundAmount, remaining);
        bytes32 digest = rulingDigest(key, t.payer, refundAmount, r.termsHash(), r.deadline());
        _checkArbiters(t, digest, signatures, remaining > rulingThreshold ? arbiterQuorum : 1);
        emit OrderRuled(key, refundAmount, signatures.length);
        _executeRuling(accounts, t, r, refundAmount);
    }

    /// @notice Settle orders whose return window has closed, or whose settlement timeout has
    /// passed without a delivery; anyone may call. Orders not yet due (or disputed) are skipped
    /// with a {SettleSkipped} event; orders whose terms do not match revert the whole batch.
    function settle(address[] calldata accounts, uint256[] calldata orders) external nonReentrant {
        uint256 n = _pairs(orders);
        uint256[] memory credit = new uint256[](accounts.length);
        uint256 fees;
        uint256 paid;
        for (uint256 i = 0; i < n; ++i) {
            (uint256 fee, uint256 amount) = _settleOne(bytes32(orders[2 * i]), TermsWord.wrap(orders[2 * i + 1]), accounts, credit);
            fees += fee;
            paid += amount;
        }
        if (paid > 0) _payCredits(accounts, credit, fees, paid);
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

    // -- views ----------------------------------------------------------------------------------

    /// @notice The state of the order `key` with packed terms `word`; reverts {TermsMismatch}
    /// unless they are the terms stored in its slot.
    function orderState(address[] calldata accounts, bytes32 key, uint256 word)
        external
        view
        returns (Status status, uint64 deadline, uint256 refunded)
    {
        Terms memory t;
        _decode(t, key, word, accounts);
        (OrderRecord r, Status s) = _load(t);
        return (s, r.deadline(), r.refunded());
    }

    /// @notice The raw record of a payer's slot: terms hash (160 bits), status, deadline, refunded.
    function slotRecord(address payer, uint256 slot)
        external
        view
        returns (uint160 termsHash, Status status, uint64 deadline, uint256 refunded)
    {
        OrderRecord r = _slots[payer][slot];
        return (uint160(r.termsHash()), r.status(), r.deadline(), r.refunded());
    }

    /// @notice The EIP-712 digest arbiters sign for a ruling on the order `key` of `payer` whose slot
    /// holds `terms` (its terms hash) and `deadline` (see `slotRecord`).
    function rulingDigest(bytes32 key, address payer, uint256 refundAmount, uint256 terms, uint64 deadline)
        public
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(keccak256(abi.encode(RULING_TYPEHASH, key, payer, refundAmount, terms, deadline)));
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

    // -- internals ------------------------------------------------------------------------------

    function _deliver(address[] calldata accounts, uint256[] calldata orders, bytes32[] calldata events, bool byCarrier)
        private
    {
        uint256 n = _pairs(orders);
        if (events.length != n) revert BadBatch(events.length);
        // a carrier governance removed confirms nothing more (its orders: refunded by their payer, or
        // settled at the timeout); checked once a call, every order of it names the caller
        if (byCarrier) _checkRole(msg.sender, Roles.LOGISTICS);
        uint64 windowEnds = uint64(block.timestamp) + returnWindow;
        for (uint256 i = 0; i < n; ++i) {
            _deliverOne(bytes32(orders[2 * i]), TermsWord.wrap(orders[2 * i + 1]), events[i], accounts, byCarrier, windowEnds);
        }
    }

    function _deliverOne(
        bytes32 key,
        TermsWord w,
        bytes32 epcisEvent,
        address[] calldata accounts,
        bool byCarrier,
        uint64 windowEnds
    ) private {
        uint256 ci = w.carrierIdx();
        if (byCarrier) {
            if (ci == NO_CARRIER || _at(accounts, ci) != msg.sender) revert NotTheCarrier(key, msg.sender);
        } else {
            if (ci != NO_CARRIER) revert HasCarrier(key);
            if (_at(accounts, w.payerIdx()) != msg.sender) revert NotAllowed(key, msg.sender);
        }
        (uint256 h, address payer) = w.commitment(key, accounts);
        uint256 slot = w.slot();
        OrderRecord r = _slots[payer][slot];
        if (r.termsHash() != h) revert TermsMismatch(key);
        Status s = r.status();
        if (s != Status.Escrowed) revert WrongStatus(key, s);
        _slots[payer][slot] = OrderRecordLib.pack(h, Status.Delivered, windowEnds, r.refunded());
        emit OrderDelivered(key, epcisEvent, windowEnds);
    }

    /// @dev Check and record one new order in its slot.
    function _escrowOne(bytes32 key, TermsWord w, uint256 i, address[] calldata accounts, EscrowRun memory run)
        private
    {
        w.checkTerms(i, run.caps);
        _checkParties(w, accounts, run.checked);
        uint256 lv = w.levels();
        if (lv != 0) _checkReferralTerms(w, i, lv, _checkReferrerParties(w, i, lv, accounts));
        (uint256 h, address payer) = w.commitment(key, accounts);
        if (payer != msg.sender) revert PayerNotCaller(payer);
        uint256 slot = w.slot();
        Status s = _slots[msg.sender][slot].status();
        if (s != Status.None && s != Status.Settled && s != Status.Refunded) revert SlotInUse(i, slot);
        _slots[msg.sender][slot] = OrderRecordLib.pack(h, Status.Escrowed, run.settleAfter, 0);
        run.total += w.amount();
        if (slot >= run.high) run.high = slot + 1;
        emit OrderEscrowed(key, _at(accounts, w.merchantIdx()), TermsWord.unwrap(w));
    }

    /// @dev Settle one order if due (else emit {SettleSkipped}); its shares go into `credit`.
    function _settleOne(bytes32 key, TermsWord w, address[] calldata accounts, uint256[] memory credit)
        private
        returns (uint256 fee, uint256 amount)
    {
        (uint256 h, address payer) = w.commitment(key, accounts);
        uint256 slot = w.slot();
        OrderRecord r = _slots[payer][slot];
        if (r.termsHash() != h) revert TermsMismatch(key);
        Status s = r.status();
        uint64 deadline = r.deadline();
        if ((s != Status.Delivered && s != Status.Escrowed) || block.timestamp < deadline) {
            emit SettleSkipped(key, s, deadline);
            return (0, 0);
        }
        amount = w.amount() - r.refunded();
        _slots[payer][slot] = r.withStatus(Status.Settled);
        fee = _creditSplit(key, w, amount, credit, s == Status.Escrowed);
    }

    /// @dev Credit the split of `amount` by the packed word's rates; emit it; return the fee.
    function _creditSplit(bytes32 key, TermsWord w, uint256 amount, uint256[] memory credit, bool byTimeout)
        private
        returns (uint256 fee)
    {
        SettledShares shares;
        (fee, shares) = w.creditSplit(amount, credit, byTimeout);
        emit OrderSettled(key, SettledShares.unwrap(shares));
    }

    function _at(address[] calldata accounts, uint256 idx) private pure returns (address a) {
        if (idx >= accounts.length) revert BadIndex(idx);
        assembly {
            a := and(calldataload(add(accounts.offset, shl(5, idx))), 0xffffffffffffffffffffffffffffffffffffffff)
        }
    }

    /// @dev The caps as one word.
    function _capsWord() private view returns (CapsWord) {
        return CapsWordLib.pack(platformFeeCapBps, _referralCapBps);
    }

    /// @dev The merchant holds the merchant role and the carrier, if any, the logistics role;
    /// `checked` caches the checks by account index (2 bits each).
    function _checkParties(TermsWord w, address[] calldata accounts, uint256[] memory checked) private view {
        uint256 mi = w.merchantIdx();
        if (_once(checked, 2 * mi)) {
            address m = _at(accounts, mi);
            if (!membership.hasAnyRole(m, Roles.MERCHANT)) revert NotAMerchant(m);
        }
        uint256 ci = w.carrierIdx();
        if (ci != NO_CARRIER && _once(checked, 2 * ci + 1)) {
            address c = _at(accounts, ci);
            if (!membership.hasAnyRole(c, Roles.LOGISTICS)) revert NotACarrier(c);
        }
    }

    /// @dev The merchant of order `i`, once each referrer is checked to be someone other than it, the
    /// order's payer and the other levels' referrers (the payer naming itself took the merchant's
    /// referral share as a second fee; one address at every level was paid all three). By index: an
    /// escrow's accounts table holds each address once ({_checkAccounts}).
    function _checkReferrerParties(TermsWord w, uint256 i, uint256 lv, address[] calldata accounts)
        private
        pure
        returns (address merchant)
    {
        uint256 m = w.merchantIdx();
        uint256 p = w.payerIdx();
        uint256 r0 = w.referrerIdx(0);
        if (r0 == m || r0 == p) revert ReferrerNotAllowed(i, 1, _at(accounts, r0));
        if (lv > 1) {
            uint256 r1 = w.referrerIdx(1);
            if (r1 == m || r1 == p || r1 == r0) revert ReferrerNotAllowed(i, 2, _at(accounts, r1));
            if (lv > 2) {
                uint256 r2 = w.referrerIdx(2);
                if (r2 == m || r2 == p || r2 == r0 || r2 == r1) revert ReferrerNotAllowed(i, 3, _at(accounts, r2));
            }
        }
        merchant = _at(accounts, m);
    }

    /// @dev Each referral rate of order `i` within what its merchant agreed to pay that level.
    function _checkReferralTerms(TermsWord w, uint256 i, uint256 lv, address merchant) private view {
        uint256 agreed = referralTermsOf[merchant];
        for (uint256 l = 0; l < lv; l++) {
            uint256 bps = w.rateBps(l);
            uint256 most = (agreed >> (16 * l)) & 0xFFFF;
            if (bps > most) revert ReferralAboveTerms(i, l + 1, bps, most);
        }
    }

    /// @dev Only the order's payer acts on it for the platform: another operator's key may not
    /// refund, freeze, carry or deliver orders it did not pay for.
    function _onlyPayer(Terms memory t) private view {
        if (msg.sender != t.payer) revert NotAllowed(t.key, msg.sender);
    }

    function _checkPeriod(uint64 period) private pure {
        if (period > MAX_PERIOD) revert PeriodTooLong(period, MAX_PERIOD);
    }

    /// @dev An escrow's accounts table: each address once, in ascending order (so that two indexes
    /// name two parties), none the zero address, none this contract (a share owed to it could never
    /// be pulled).
    function _checkAccounts(address[] calldata accounts) private view {
        if (accounts.length != 0 && accounts[0] == address(0)) revert ZeroAddress(); // ascending: only the first
        uint160 previous;
        for (uint256 i = 0; i < accounts.length; i++) {
            address a = accounts[i];
            if (uint160(a) <= previous && i != 0) revert AccountsNotAscending(i);
            if (a == address(this)) revert NotAParty(a);
            previous = uint160(a);
        }
    }

    /// @dev Decode a packed word ({TermsWord}) through the accounts table.
    function _decode(Terms memory t, bytes32 key, uint256 word, address[] calldata accounts) private pure {
        TermsWord w = TermsWord.wrap(word);
        t.key = key;
        t.word = w;
        t.amount = w.amount();
        t.feeBps = w.feeBps();
        t.levels = w.levels();
        t.merchantIdx = w.merchantIdx();
        t.merchant = accounts[t.merchantIdx];
        for (uint256 i = 0; i < 3; i++) {
            t.bps[i] = w.rateBps(i);
            if (i < t.levels) {
                t.referrerIdx[i] = w.referrerIdx(i);
                t.referrers[i] = accounts[t.referrerIdx[i]];
            } else {
                t.referrers[i] = address(0);
            }
        }
        t.carrierIdx = w.carrierIdx();
        t.carrier = t.carrierIdx == NO_CARRIER ? address(0) : accounts[t.carrierIdx];
        t.payer = accounts[w.payerIdx()];
        t.slot = w.slot();
    }

    /// @dev The 160-bit commitment to an order's key and terms (slot excluded).
    function _hash(Terms memory t) private pure returns (uint256) {
        bytes32 h = keccak256(
            abi.encode(
                t.key, t.word.numeric(), t.merchant, t.referrers[0], t.referrers[1], t.referrers[2], t.carrier, t.payer
            )
        );
        return uint256(h) >> 96;
    }

    function _load(Terms memory t) private view returns (OrderRecord r, Status s) {
        r = _slots[t.payer][t.slot];
        if (r.termsHash() != _hash(t)) revert TermsMismatch(t.key);
        s = r.status();
    }

    function _pairs(uint256[] calldata orders) private pure returns (uint256) {
        if (orders.length == 0 || orders.length % 2 != 0) revert BadBatch(orders.length);
        return orders.length / 2;
    }

    /// @dev True the first time bit `idx` is seen in this call (2 bits per account: checked as
    /// a merchant, checked as a carrier).
    function _once(uint256[] memory seen, uint256 idx) private pure returns (bool first) {
        uint256 bit = 1 << (idx & 0xFF);
        uint256 w = seen[idx >> 8];
        first = w & bit == 0;
        if (first) seen[idx >> 8] = w | bit;
    }

    /// @dev Add an order's split of `amount` to the credits; return the platform fee.
    function _split(Terms memory t, uint256 amount, uint256[] memory credit, bool byTimeout)
        private
        returns (uint256 fee)
    {
        fee = (amount * t.feeBps) / BPS;
        uint256 merchantShare = amount - fee;
        SettledShares shares;
        for (uint256 l = 0; l < t.levels; l++) {
            uint256 share = (amount * t.bps[l]) / BPS;
            merchantShare -= share;
            credit[t.referrerIdx[l]] += share;
            shares = shares.withReferral(l, share);
        }
        credit[t.merchantIdx] += merchantShare;
        shares = shares.withEnds(merchantShare, fee);
        if (byTimeout) shares = shares.byTimeout();
        emit OrderSettled(t.key, SettledShares.unwrap(shares));
    }

    function _payCredits(address[] calldata accounts, uint256[] memory credit, uint256 fee, uint256 total) private {
        for (uint256 i = 0; i < credit.length; i++) {
            if (credit[i] > 0) owed[accounts[i]] += credit[i];
        }
        if (fee > 0) owed[treasury] += fee;
        totalEscrowed -= total;
        totalOwed += total;
    }

    function _executeRuling(address[] calldata accounts, Terms memory t, OrderRecord r, uint256 refundAmount)
        private
    {
        uint256 refunded = r.refunded();
        uint256 rest = t.amount - refunded - refundAmount;
        Status next = rest == 0 ? Status.Refunded : Status.Settled;
        _slots[t.payer][t.slot] = OrderRecordLib.pack(r.termsHash(), next, r.deadline(), refunded + refundAmount);
        if (refundAmount > 0) _refundTo(t, refundAmount, rest);
        if (rest > 0) {
            uint256[] memory credit = new uint256[](accounts.length);
            uint256 fee = _split(t, rest, credit, false);
            _payCredits(accounts, credit, fee, rest);
        }
    }

    function _refundTo(Terms memory t, uint256 amount, uint256 remaining) private {
        totalEscrowed -= amount;
        totalOwed += amount;
        owed[t.payer] += amount;
        emit OrderRefunded(t.key, amount, remaining);
    }

    function _checkArbiters(Terms memory t, bytes32 digest, bytes[] calldata signatures, uint256 required)
        private
        view
    {
        if (signatures.length < required) revert TooFewSignatures(t.key, signatures.length, required);
        address last = address(0);
        for (uint256 i = 0; i < signatures.length; i++) {
            address signer = ECDSA.recover(digest, signatures[i]);
            if (signer <= last) revert SignersNotAscending(signer);
            if (!membership.hasAnyRole(signer, Roles.ARBITER)) revert NotAnArbiter(signer);
            if (
                signer == t.payer || signer == t.merchant || signer == t.carrier || signer == t.referrers[0]
                    || signer == t.referrers[1] || signer == t.referrers[2]
            ) revert PartyToOrder(t.key, signer);
            last = signer;
        }
    }
}
