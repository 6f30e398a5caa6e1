// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {Multicall} from "@openzeppelin/contracts/utils/Multicall.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {AnchoredRanges} from "./AnchoredRanges.sol";
import {CreativeAssets, IRoyaltyRouter} from "./CreativeAssets.sol";
import {ProvenanceLog} from "./ProvenanceLog.sol";
import {SplitReceiver, SplitReceiverCode} from "./SplitReceiver.sol";

/// @title RoyaltyVault: revenue splits with pull payments
/// @notice A split is an immutable list of up to 32 recipients with shares in basis points summing
/// to 10000. Deposits (ETH or ERC-20) are credited to the recipients' internal balances exactly:
/// each gets floor(amount * share / 10000) and the rounding remainder goes to the first recipient,
/// so the credited total always equals the amount received. Recipients withdraw with `claim`.
///
/// Splits are assigned to ranges of ProvenanceLog leaves (SPLIT_ASSIGNER_ROLE, one transaction per
/// anchored checkpoint); a registered CreativeAssets token uses the split of its leaf.
///
/// `depositFor` implements a Liquid Absolute Percentage (LAP) royalty stack: ancestor i of the token
/// (i = 0 is the parent, following CreativeAssets.parentOf) receives upstreamBps[i] of the whole
/// amount, at most MAX_UPSTREAM_DEPTH = 8 ancestors deep (deeper ancestors are not paid; this bounds
/// gas), and the token's own split receives the rest. An ancestor without an assigned split cannot be
/// paid; its share stays with the token's split. ERC-20 amounts are measured as the balance change,
/// so fee-on-transfer tokens are credited what actually arrived.
///
/// Royalties from any ERC-2981 marketplace: each split has its own receiver address (`receiverOf`,
/// a CREATE2 clone of SplitReceiver deployed by `createSplit`), which CreativeAssets.royaltyInfo
/// names through `royaltyReceiverOf`. It accepts plain ETH transfers (2300-gas safe) and ERC-20
/// transfers; `flush` (anyone) moves what it holds, force-sent ETH included, into the split's
/// balances. The vault itself accepts ETH only from its receivers.
contract RoyaltyVault is AccessControl, ReentrancyGuard, AnchoredRanges, Multicall, IRoyaltyRouter {
    using SafeERC20 for IERC20;

    bytes32 public constant SPLIT_ASSIGNER_ROLE = keccak256("SPLIT_ASSIGNER_ROLE");
    uint256 public constant MAX_RECIPIENTS = 32;
    /// @notice Maximum number of ancestors paid by `depositFor` (bounds the walk up the chain).
    uint256 public constant MAX_UPSTREAM_DEPTH = 8;
    uint256 public constant TOTAL_BPS = 10_000;

    struct Split {
        address[] recipients;
        uint32[] sharesBps;
    }

    CreativeAssets private immutable _assets;
    Split[] private _splits; // id = position + 1
    mapping(address account => mapping(address currency => uint256)) private _balances;
    mapping(address currency => uint256) private _totalOwed;
    mapping(address receiver => uint256 splitId) private _receiverSplits;
    address private immutable _receiverImplementation;
    bytes32 private immutable _receiverCodeHash;

    event SplitCreated(uint256 indexed splitId, address[] recipients, uint32[] sharesBps);
    event SplitAssigned(uint256 indexed splitId, uint64 indexed checkpointSize, uint64 fromIndex, uint64 toIndex);
    event Deposited(uint256 indexed splitId, address indexed currency, address indexed from, uint256 amount);
    event UpstreamPaid(
        uint256 indexed tokenId,
        uint256 indexed ancestorTokenId,
        uint256 indexed splitId,
        address currency,
        uint256 amount
    );
    event Claimed(address indexed account, address indexed currency, uint256 amount);
    event Flushed(uint256 indexed splitId, address indexed currency, address indexed receiver, uint256 amount);

    error InvalidSplit();
    error UnknownSplit(uint256 splitId);
    error ZeroAmount();
    error ValueMismatch(uint256 expected, uint256 given);
    error NothingToClaim();
    error TransferFailed();
    error UnknownToken(uint256 tokenId);
    error NoSplit(uint256 tokenId);
    error InvalidUpstream();
    error UnsolicitedEth(address from);
    error ReceiverDeployFailed(uint256 splitId);

    constructor(address admin, ProvenanceLog log, CreativeAssets assets) AnchoredRanges(log) {
        _assets = assets;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(SPLIT_ASSIGNER_ROLE, admin);
        address impl = address(new SplitReceiver());
        _receiverImplementation = impl;
        _receiverCodeHash = keccak256(SplitReceiverCode.creationCode(impl));
    }

    /// @notice Only this vault's split receivers send it plain ETH (in `flush`); anything else
    /// would arrive unattributed, so it is refused.
    receive() external payable {
        if (_receiverSplits[msg.sender] == 0) revert UnsolicitedEth(msg.sender);
    }

    /// @notice Create an immutable split. Reverts InvalidSplit unless 1..32 distinct non-zero
    /// recipients with non-zero shares summing to 10000.
    function createSplit(address[] calldata recipients, uint32[] calldata sharesBps)
        external
        returns (uint256 splitId)
    {
        uint256 n = recipients.length;
        if (n == 0 || n > MAX_RECIPIENTS || n != sharesBps.length) revert InvalidSplit();
        uint256 sum = 0;
        for (uint256 i = 0; i < n; ++i) {
            address r = recipients[i];
            if (r == address(0) || sharesBps[i] == 0) revert InvalidSplit();
            for (uint256 j = 0; j < i; ++j) {
                if (recipients[j] == r) revert InvalidSplit();
            }
            sum += sharesBps[i];
        }
        if (sum != TOTAL_BPS) revert InvalidSplit();
        _splits.push(Split(recipients, sharesBps));
        splitId = _splits.length;
        _deployReceiver(splitId);
        emit SplitCreated(splitId, recipients, sharesBps);
    }

    /// @notice Move everything split `splitId`'s receiver holds in `currency` (address(0) = ETH)
    /// into the split's balances; returns the amount credited (0 if it held nothing). Anyone may call.
    function flush(uint256 splitId, address currency) external nonReentrant returns (uint256 received) {
        _requireSplit(splitId);
        address receiver = receiverOf(splitId);
        uint256 before = _balanceOf(currency);
        SplitReceiver(payable(receiver)).pull(currency);
        received = _balanceOf(currency) - before;
        if (received == 0) return 0;
        _credit(splitId, currency, received);
        emit Flushed(splitId, currency, receiver, received);
    }

    /// @notice The address that receives split `splitId`'s royalties (deterministic: CREATE2 by
    /// this vault with salt splitId, known before and after the split exists).
    function receiverOf(uint256 splitId) public view returns (address) {
        bytes32 h = keccak256(abi.encodePacked(bytes1(0xff), address(this), bytes32(splitId), _receiverCodeHash));
        return address(uint160(uint256(h)));
    }

    /// @notice The split a receiver address belongs to (0 = not one of this vault's receivers).
    function splitOfReceiver(address receiver) external view returns (uint256) {
        return _receiverSplits[receiver];
    }

    /// @notice ERC-2981 receiver of registered asset `tokenId`: its split's receiver, or address(0)
    /// if it has no split (CreativeAssets then names its default receiver).
    function royaltyReceiverOf(uint256 tokenId) external view returns (address) {
        uint256 s = splitOfToken(tokenId);
        return s == 0 ? address(0) : receiverOf(s);
    }

    /// @notice `royaltyReceiverOf` by log leaf (CreativeAssets.royaltyInfo asks this way: no call back).
    function royaltyReceiverOfLeaf(uint64 leafIndex) external view returns (address) {
        uint256 s = splitOfLeaf(leafIndex);
        return s == 0 ? address(0) : receiverOf(s);
    }

    /// @notice Assign `splitId` to log leaves `[fromIndex, toIndex)` of anchored checkpoint
    /// `checkpointSize`. The range may go after the last one or fill a gap; it may not overlap one.
    function assignSplit(uint64 checkpointSize, uint64 fromIndex, uint64 toIndex, uint256 splitId)
        external
        onlyRole(SPLIT_ASSIGNER_ROLE)
    {
        _requireSplit(splitId);
        _addRange(checkpointSize, fromIndex, toIndex, splitId); // a range's data slot is its split id
        emit SplitAssigned(splitId, checkpointSize, fromIndex, toIndex);
    }

    /// @notice Deposit `amount` of `currency` (address(0) = ETH, then msg.value must equal amount)
    /// and credit it to the recipients of `splitId`. ERC-20 needs an allowance for this vault.
    function deposit(uint256 splitId, address currency, uint256 amount) external payable nonReentrant {
        _requireSplit(splitId);
        uint256 received = _receive(currency, amount);
        _credit(splitId, currency, received);
        emit Deposited(splitId, currency, msg.sender, received);
    }

    /// @notice Deposit revenue earned by asset `tokenId`, paying its ancestors by LAP first:
    /// ancestor i (0 = parent) receives upstreamBps[i] / 10000 of the amount (if it has a split),
    /// the token's split the rest. Reverts InvalidUpstream if more than MAX_UPSTREAM_DEPTH entries
    /// or their sum exceeds 10000; UnknownToken / NoSplit if the token is unregistered or has no split.
    function depositFor(uint256 tokenId, address currency, uint256 amount, uint16[] calldata upstreamBps)
        external
        payable
        nonReentrant
    {
        if (!_assets.isRegistered(tokenId)) revert UnknownToken(tokenId);
        uint256 ownSplit = splitOfToken(tokenId);
        if (ownSplit == 0) revert NoSplit(tokenId);
        if (upstreamBps.length > MAX_UPSTREAM_DEPTH) revert InvalidUpstream();
        uint256 bpsSum = 0;
        for (uint256 i = 0; i < upstreamBps.length; ++i) {
            bpsSum += upstreamBps[i];
        }
        if (bpsSum > TOTAL_BPS) revert InvalidUpstream();

        uint256 received = _receive(currency, amount);
        uint256 paidUp = _payUpstream(tokenId, currency, received, upstreamBps);
        uint256 own = received - paidUp;
        if (own != 0) _credit(ownSplit, currency, own);
        emit Deposited(ownSplit, currency, msg.sender, own);
    }

    /// @notice Withdraw msg.sender's whole balance of `currency` (address(0) = ETH).
    function claim(address currency) external nonReentrant returns (uint256 amount) {
        amount = _balances[msg.sender][currency];
        if (amount == 0) revert NothingToClaim();
        _balances[msg.sender][currency] = 0;
        _totalOwed[currency] -= amount;
        emit Claimed(msg.sender, currency, amount);
        if (currency == address(0)) {
            (bool ok,) = payable(msg.sender).call{value: amount}("");
            if (!ok) revert TransferFailed();
        } else {
            IERC20(currency).safeTransfer(msg.sender, amount);
        }
    }

    /// @notice Balance of `currency` that `account` can claim.
    function claimable(address account, address currency) external view returns (uint256) {
        return _balances[account][currency];
    }

    /// @notice Sum of all claimable balances of `currency` (the vault holds at least this much).
    function totalOwed(address currency) external view returns (uint256) {
        return _totalOwed[currency];
    }

    /// @notice Recipients and shares of `splitId`; reverts UnknownSplit.
    function split(uint256 splitId) external view returns (address[] memory recipients, uint32[] memory sharesBps) {
        Split storage s = _requireSplit(splitId);
        return (s.recipients, s.sharesBps);
    }

    /// @notice Number of splits (ids 1..count).
    function splitCount() external view returns (uint256) {
        return _splits.length;
    }

    /// @notice Split assigned to log leaf `leafIndex` (0 = none).
    function splitOfLeaf(uint64 leafIndex) public view returns (uint256) {
        (, uint256 splitId) = _findSlot(leafIndex);
        return splitId;
    }

    /// @notice Split of registered asset `tokenId` via its leaf (0 = none or unregistered).
    function splitOfToken(uint256 tokenId) public view returns (uint256) {
        if (!_assets.isRegistered(tokenId)) return 0;
        return splitOfLeaf(_assets.leafIndexOf(tokenId));
    }

    /// @notice The CreativeAssets contract whose tokens and parent links `depositFor` uses.
    function creativeAssets() external view returns (CreativeAssets) {
        return _assets;
    }

    function _deployReceiver(uint256 splitId) private {
        bytes memory code = SplitReceiverCode.creationCode(_receiverImplementation);
        address r;
        assembly ("memory-safe") {
            r := create2(0, add(code, 0x20), mload(code), splitId)
        }
        if (r == address(0)) revert ReceiverDeployFailed(splitId);
        _receiverSplits[r] = splitId;
    }

    function _balanceOf(address currency) private view returns (uint256) {
        return currency == address(0) ? address(this).balance : IERC20(currency).balanceOf(address(this));
    }

    function _payUpstream(uint256 tokenId, address currency, uint256 amount, uint16[] calldata upstreamBps)
        private
        returns (uint256 paid)
    {
        uint256 current = tokenId;
        for (uint256 i = 0; i < upstreamBps.length; ++i) {
            current = _assets.parentOf(current);
            if (current == 0) break;
            uint256 s = splitOfToken(current);
            uint256 share = Math.mulDiv(amount, upstreamBps[i], TOTAL_BPS);
            if (s == 0 || share == 0) continue;
            _credit(s, currency, share);
            paid += share;
            emit UpstreamPaid(tokenId, current, s, currency, share);
        }
    }

    function _receive(address currency, uint256 amount) private returns (uint256 received) {
        if (amount == 0) revert ZeroAmount();
        if (currency == address(0)) {
            if (msg.value != amount) revert ValueMismatch(amount, msg.value);
            return amount;
        }
        if (msg.value != 0) revert ValueMismatch(0, msg.value);
        IERC20 token = IERC20(currency);
        uint256 before = token.balanceOf(address(this));
        token.safeTransferFrom(msg.sender, address(this), amount);
        received = token.balanceOf(address(this)) - before;
        if (received == 0) revert ZeroAmount();
    }

    /// @dev Accounting only (no transfers): bounded by MAX_RECIPIENTS.
    function _credit(uint256 splitId, address currency, uint256 amount) private {
        Split storage s = _splits[splitId - 1];
        uint256 n = s.recipients.length;
        uint256 rest = amount;
        for (uint256 i = 1; i < n; ++i) {
            uint256 part = Math.mulDiv(amount, s.sharesBps[i], TOTAL_BPS);
            _balances[s.recipients[i]][currency] += part;
            rest -= part;
        }
        _balances[s.recipients[0]][currency] += rest;
        _totalOwed[currency] += amount;
    }

    function _requireSplit(uint256 splitId) private view returns (Split storage) {
        if (splitId == 0 || splitId > _splits.length) revert UnknownSplit(splitId);
        return _splits[splitId - 1];
    }
}
