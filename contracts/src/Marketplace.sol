// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {CreativeAssets} from "./CreativeAssets.sol";
import {LicenseMarket} from "./LicenseMarket.sol";

/// @title Marketplace: EIP-712 signed orders for mintloom assets and licences, settled on chain
/// @notice An `Order` is signed off chain and filled by anyone: a listing (the signer sells) of an
/// asset ERC-721 or a lot of licence ERC-1155s (partial fills), or an offer (the signer buys, in an
/// ERC-20) on one asset, one licence lot, or any asset of a campaign (a range of log leaves); or a
/// lot of a campaign family's RoyaltyShares (ERC-20), listed or wanted, filled in parts. A
/// `MerkleListing` is one signature by a brand (BRAND_ROLE) over a catalog root of an anchored
/// checkpoint's assets: any buyer proves one asset (RFC 9162 log proof, verified by
/// CreativeAssets.register, plus a catalog proof naming its metadata and price class) and in one
/// transaction the asset is registered and minted to them, or a licence issued, and paid for.
///
/// Share lots: only share tokens the admin registered (`setShareToken`: the families mintloom
/// deployed) trade; `unitPrice` is the price of one whole share (SHARE_UNIT base units) and a fill's
/// price must be exact (no rounding dust); no asset royalty is paid (shares carry revenue
/// themselves, and RoyaltyShares keeps revenue accrued before a sale with the seller).
///
/// Every asset or licence sale pays the asset's ERC-2981 royalty (CreativeAssets.royaltyInfo: its
/// split's receiver) out of the price; an optional protocol fee (on every sale, share lots too) goes
/// to the fee recipient; the seller gets the rest. ETH is pushed; a push that fails is kept for the payee to `withdraw` (it never blocks a sale).
/// Orders die by expiry, by `cancel` (per order) or by `incrementCounter` (every order signed with
/// an older counter); an asset listing also dies once its token is transferred (it names the
/// token's transfer count), which makes it single-use without a fill record (~20k gas less). Signatures bind this chain id and this contract (EIP-712 domain).
/// The reentrancy lock is transient storage (EIP-1153): the same lock for ~100 gas instead of ~5,000.
contract Marketplace is EIP712, AccessControl, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    bytes32 public constant BRAND_ROLE = keccak256("BRAND_ROLE");
    uint256 public constant MAX_FEE_BPS = 1000;
    bytes32 public constant ORDER_TYPEHASH = keccak256(
        "Order(address signer,uint8 side,uint8 kind,uint256 tokenId,uint256 termsId,uint64 fromLeaf,uint64 toLeaf,"
        "uint256 amount,address currency,uint256 unitPrice,uint64 expiry,uint256 salt,uint256 counter)"
    );
    bytes32 public constant MERKLE_LISTING_TYPEHASH = keccak256(
        "MerkleListing(address signer,uint64 checkpointSize,bytes32 catalogRoot,uint256 termsId,address currency,"
        "uint256[] prices,uint64 expiry,uint256 salt,uint256 counter)"
    );
    /// @notice Base units of one whole share (RoyaltyShares has 18 decimals): a share lot's
    /// `unitPrice` is per SHARE_UNIT, so prices of small shares do not round to zero.
    uint256 public constant SHARE_UNIT = 1e18;
    uint256 private constant CANCELLED = type(uint256).max;

    enum Side {
        Listing,
        Offer
    }

    enum Kind {
        Asset, // one CreativeAssets token (amount 1)
        Licence, // a lot of LicenseMarket licences of (tokenId, termsId)
        AssetRange, // offers only: any registered asset whose log leaf is in [fromLeaf, toLeaf)
        Shares // a lot of share units of the registered share token uint160(tokenId); no royalty
    }

    struct Order {
        address signer;
        Side side;
        Kind kind;
        uint256 tokenId; // the asset (Asset, Licence); 0 for AssetRange; Shares: the token's address
        uint256 termsId; // Licence: the terms; Asset listing: the token's transferCountOf when listed
        uint64 fromLeaf; // AssetRange only
        uint64 toLeaf; // AssetRange only
        uint256 amount; // units on sale or wanted (Asset: 1; Shares: base units)
        address currency; // address(0) = ETH (listings only: an offer is paid by transferFrom)
        uint256 unitPrice; // per unit; Shares: per whole share (SHARE_UNIT base units)
        uint64 expiry; // unix seconds, exclusive
        uint256 salt;
        uint256 counter; // the signer's counter when signed
    }

    /// @notice One signature lists every asset of a catalog (a subset of an anchored checkpoint).
    struct MerkleListing {
        address signer; // holds BRAND_ROLE
        uint64 checkpointSize; // the anchored checkpoint the log proofs are against
        bytes32 catalogRoot; // OZ Merkle root over catalogLeaf(cid, metadataDigest, priceClass)
        uint256 termsId; // 0: sells the asset (minted to the buyer); else a licence under these terms
        address currency;
        uint256[] prices; // per price class (output kind or format); per licence when termsId != 0
        uint64 expiry;
        uint256 salt;
        uint256 counter;
    }

    /// @notice The asset a buyer picks from a MerkleListing, with its proofs.
    struct MerkleItem {
        bytes32 cidDigest;
        bytes32 manifestHash;
        uint64 leafIndex;
        bool dagPb;
        uint256 parentTokenId;
        bytes32 metadataDigest;
        uint256 priceClass;
        bytes32[] logProof; // RFC 9162 inclusion proof against checkpointSize
        bytes32[] catalogProof; // OZ MerkleProof against catalogRoot
    }

    CreativeAssets private immutable _assets;
    LicenseMarket private immutable _licenses;
    address private immutable _feeRecipient;
    uint16 private immutable _feeBps;
    mapping(bytes32 orderHash => uint256) private _filled; // CANCELLED once cancelled
    mapping(address signer => uint256) private _counters;
    mapping(address payee => uint256) private _owedEth;
    uint256 private _totalOwedEth;
    mapping(address token => bool) private _shareTokens;

    event OrderFilled(
        bytes32 indexed orderHash,
        address indexed seller,
        address indexed buyer,
        uint256 tokenId,
        uint256 amount,
        address currency,
        uint256 price,
        uint256 royalty
    );
    event MerkleListingFilled(
        bytes32 indexed orderHash, uint256 indexed tokenId, address indexed buyer, uint256 amount, uint256 price
    );
    event RoyaltyPaid(uint256 indexed tokenId, address indexed receiver, address currency, uint256 amount);
    event OrderCancelled(bytes32 indexed orderHash, address indexed signer);
    event CounterIncremented(address indexed signer, uint256 counter);
    event PaymentDeferred(address indexed payee, uint256 amount);
    event Withdrawn(address indexed payee, uint256 amount);
    event ShareTokenSet(address indexed token, bool tradable);

    error InvalidSignature();
    error OrderExpired(uint64 expiry);
    error OrderCancelledOrStale(bytes32 orderHash);
    error Overfill(bytes32 orderHash, uint256 remaining, uint256 wanted);
    error WrongSide();
    error WrongKind();
    error InvalidAmount(uint256 amount);
    error NotSigner(address caller, address signer);
    error ValueMismatch(uint256 expected, uint256 given);
    error OfferNeedsToken();
    error TokenOutOfRange(uint256 tokenId);
    error TokenMismatch(uint256 wanted, uint256 given);
    error NotBrand(address signer);
    error NotInCatalog();
    error UnknownPriceClass(uint256 priceClass);
    error RoyaltyExceedsPrice(uint256 price, uint256 royalty, uint256 fee);
    error NothingToWithdraw();
    error TransferFailed();
    error InvalidFee();
    error UnknownShareToken(address token);
    error InexactSharePrice(uint256 amount, uint256 unitPrice);

    constructor(address admin, CreativeAssets assets, LicenseMarket licenses, address feeRecipient, uint16 feeBps)
        EIP712("mintloom Marketplace", "1")
    {
        if (feeBps > MAX_FEE_BPS || (feeBps != 0 && feeRecipient == address(0))) revert InvalidFee();
        _assets = assets;
        _licenses = licenses;
        _feeRecipient = feeRecipient;
        _feeBps = feeBps;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(BRAND_ROLE, admin);
    }

    // ----- filling -----

    /// @notice Buy `amount` units of listing `o` for `recipient`. ETH: msg.value must equal
    /// amount * unitPrice; ERC-20: the buyer approved this contract.
    function fillListing(Order calldata o, bytes calldata signature, uint256 amount, address recipient)
        external
        payable
        nonReentrant
    {
        if (o.side != Side.Listing) revert WrongSide();
        if (o.kind == Kind.AssetRange) revert WrongKind();
        bytes32 h = o.kind == Kind.Asset ? _checkAssetListing(o, signature, amount) : _useOrder(o, signature, amount);
        uint256 price = _priceOf(o, amount);
        _checkValue(o.currency, price);
        // the item moves first: for an asset listing that transfer is what ends the listing
        _transferItem(o, o.signer, recipient, o.tokenId, amount);
        uint256 royalty = _settle(msg.sender, o.signer, o.tokenId, o.currency, price, o.kind != Kind.Shares);
        emit OrderFilled(h, o.signer, recipient, o.tokenId, amount, o.currency, price, royalty);
    }

    /// @notice Sell `amount` units of `tokenId` to offer `o` (its signer pays in o.currency). For a
    /// campaign offer `tokenId` is any registered asset in its leaf range; else it must be o.tokenId.
    function acceptOffer(Order calldata o, bytes calldata signature, uint256 tokenId, uint256 amount)
        external
        nonReentrant
    {
        if (o.side != Side.Offer) revert WrongSide();
        if (o.currency == address(0)) revert OfferNeedsToken();
        _checkOfferToken(o, tokenId);
        bytes32 h = _useOrder(o, signature, amount);
        uint256 price = _priceOf(o, amount);
        uint256 royalty = _settle(o.signer, msg.sender, tokenId, o.currency, price, o.kind != Kind.Shares);
        _transferItem(o, msg.sender, o.signer, tokenId, amount);
        emit OrderFilled(h, msg.sender, o.signer, tokenId, amount, o.currency, price, royalty);
    }

    /// @notice Buy one asset of Merkle listing `o` (or `amount` licences of it when o.termsId != 0):
    /// the asset is registered with its log proof (minted to `recipient`, or to the brand when a
    /// licence is sold and it was not registered yet) and paid for, royalty included.
    function fillMerkleListing(
        MerkleListing calldata o,
        bytes calldata signature,
        MerkleItem calldata item,
        uint256 amount,
        address recipient
    ) external payable nonReentrant {
        bytes32 h = _checkMerkleListing(o, signature);
        if (amount == 0 || (o.termsId == 0 && amount != 1)) revert InvalidAmount(amount);
        if (item.priceClass >= o.prices.length) revert UnknownPriceClass(item.priceClass);
        bytes32 leaf = catalogLeaf(item.cidDigest, item.metadataDigest, item.priceClass);
        if (!MerkleProof.verifyCalldata(item.catalogProof, o.catalogRoot, leaf)) revert NotInCatalog();
        uint256 price = o.prices[item.priceClass] * amount;
        _checkValue(o.currency, price);
        uint256 tokenId = uint256(item.cidDigest);
        if (o.termsId == 0) {
            _registerTo(o.checkpointSize, item, recipient);
        } else {
            if (!_assets.isRegistered(tokenId)) _registerTo(o.checkpointSize, item, o.signer);
            _licenses.issueLicense(tokenId, o.termsId, amount, recipient);
        }
        _settle(msg.sender, o.signer, tokenId, o.currency, price, true);
        emit MerkleListingFilled(h, tokenId, recipient, amount, price);
    }

    // ----- cancelling -----

    /// @notice Cancel orders signed by the caller (each stops filling for good).
    function cancel(Order[] calldata orders) external {
        for (uint256 i = 0; i < orders.length; ++i) {
            if (orders[i].signer != msg.sender) revert NotSigner(msg.sender, orders[i].signer);
            _cancel(hashOrder(orders[i]));
        }
    }

    /// @notice Cancel a Merkle listing signed by the caller.
    function cancelMerkleListing(MerkleListing calldata o) external {
        if (o.signer != msg.sender) revert NotSigner(msg.sender, o.signer);
        _cancel(hashMerkleListing(o));
    }

    /// @notice Cancel every order the caller signed so far (orders name the counter they were signed at).
    function incrementCounter() external returns (uint256 counter) {
        counter = ++_counters[msg.sender];
        emit CounterIncremented(msg.sender, counter);
    }

    /// @notice Withdraw ETH whose push failed (see PaymentDeferred).
    function withdraw() external nonReentrant returns (uint256 amount) {
        amount = _owedEth[msg.sender];
        if (amount == 0) revert NothingToWithdraw();
        _owedEth[msg.sender] = 0;
        _totalOwedEth -= amount;
        emit Withdrawn(msg.sender, amount);
        (bool ok,) = payable(msg.sender).call{value: amount}("");
        if (!ok) revert TransferFailed();
    }

    /// @notice Let share token `token` (a family's RoyaltyShares that mintloom deployed) trade in
    /// share lots, or stop it (open lots of it then refuse to fill).
    function setShareToken(address token, bool tradable) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _shareTokens[token] = tradable;
        emit ShareTokenSet(token, tradable);
    }

    // ----- views -----

    /// @notice Whether share lots of `token` trade here.
    function isShareToken(address token) external view returns (bool) {
        return _shareTokens[token];
    }

    /// @notice What `amount` base units of a share lot at `unitPrice` per whole share cost, exactly
    /// (reverts InexactSharePrice when the price would round).
    function sharePrice(uint256 amount, uint256 unitPrice) public pure returns (uint256) {
        if (mulmod(amount, unitPrice, SHARE_UNIT) != 0) revert InexactSharePrice(amount, unitPrice);
        return Math.mulDiv(amount, unitPrice, SHARE_UNIT);
    }

    /// @notice EIP-712 digest of `o` (what its signer signs).
    function hashOrder(Order calldata o) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(ORDER_TYPEHASH, o)));
    }

    /// @notice EIP-712 digest of Merkle listing `o`.
    function hashMerkleListing(MerkleListing calldata o) public view returns (bytes32) {
        bytes32 structHash = keccak256(
            abi.encode(
                MERKLE_LISTING_TYPEHASH,
                o.signer,
                o.checkpointSize,
                o.catalogRoot,
                o.termsId,
                o.currency,
                keccak256(abi.encodePacked(o.prices)),
                o.expiry,
                o.salt,
                o.counter
            )
        );
        return _hashTypedDataV4(structHash);
    }

    /// @notice Leaf of a Merkle listing's catalog tree (OZ double-hashed leaf).
    function catalogLeaf(bytes32 cidDigest, bytes32 metadataDigest, uint256 priceClass) public pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(cidDigest, metadataDigest, priceClass))));
    }

    /// @notice The EIP-712 domain separator of this chain and contract.
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @notice Units of order `orderHash` filled so far (type(uint256).max once cancelled). An asset
    /// listing stays 0: it ends when its token's transfer count passes the one it names.
    function filled(bytes32 orderHash) external view returns (uint256) {
        return _filled[orderHash];
    }

    /// @notice The counter orders of `signer` must name to be valid.
    function counterOf(address signer) external view returns (uint256) {
        return _counters[signer];
    }

    /// @notice ETH `payee` can withdraw (pushes that failed).
    function owedEth(address payee) external view returns (uint256) {
        return _owedEth[payee];
    }

    /// @notice Sum of all withdrawable ETH (this contract holds at least this much).
    function totalOwedEth() external view returns (uint256) {
        return _totalOwedEth;
    }

    /// @notice Protocol fee recipient and rate (basis points of each price).
    function fee() external view returns (address recipient, uint16 bps) {
        return (_feeRecipient, _feeBps);
    }

    /// @notice The token contracts this market trades.
    function contracts() external view returns (CreativeAssets assets, LicenseMarket licenses) {
        return (_assets, _licenses);
    }

    // ----- internals -----

    /// @dev An asset listing is single-use without a storage write of its own: it names in
    /// `termsId` the token's CreativeAssets.transferCountOf when listed, and the sale's transfer
    /// raises that count, so it never matches again (not even once the token is back with the
    /// seller); any other transfer of the token ends it too. Cancel, counter and expiry as usual.
    function _checkAssetListing(Order calldata o, bytes calldata signature, uint256 amount)
        private
        view
        returns (bytes32 h)
    {
        if (amount != 1) revert InvalidAmount(amount);
        if (o.amount != 1) revert WrongKind();
        h = hashOrder(o);
        _checkLive(h, o.signer, o.counter, o.expiry, signature);
        if (_filled[h] == CANCELLED || _assets.transferCountOf(o.tokenId) != o.termsId) {
            revert OrderCancelledOrStale(h);
        }
    }

    /// @dev Checks signature, counter, expiry and remaining amount, then records the fill.
    function _useOrder(Order calldata o, bytes calldata signature, uint256 amount) private returns (bytes32 h) {
        bool lot = o.kind == Kind.Licence || o.kind == Kind.Shares;
        if (amount == 0 || (!lot && amount != 1)) revert InvalidAmount(amount);
        if (o.kind == Kind.Asset && o.amount != 1) revert WrongKind();
        if (o.kind == Kind.Shares) _shareToken(o.tokenId);
        h = hashOrder(o);
        _checkLive(h, o.signer, o.counter, o.expiry, signature);
        uint256 done = _filled[h];
        if (done == CANCELLED) revert OrderCancelledOrStale(h);
        if (amount > o.amount - done) revert Overfill(h, o.amount - done, amount);
        _filled[h] = done + amount;
    }

    function _checkMerkleListing(MerkleListing calldata o, bytes calldata signature) private view returns (bytes32 h) {
        if (!hasRole(BRAND_ROLE, o.signer)) revert NotBrand(o.signer);
        h = hashMerkleListing(o);
        _checkLive(h, o.signer, o.counter, o.expiry, signature);
        if (_filled[h] == CANCELLED) revert OrderCancelledOrStale(h);
    }

    function _checkLive(bytes32 h, address signer, uint256 counter, uint64 expiry, bytes calldata signature)
        private
        view
    {
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp >= expiry) revert OrderExpired(expiry);
        if (counter != _counters[signer]) revert OrderCancelledOrStale(h);
        if (!SignatureChecker.isValidSignatureNowCalldata(signer, h, signature)) revert InvalidSignature();
    }

    function _cancel(bytes32 h) private {
        _filled[h] = CANCELLED;
        emit OrderCancelled(h, msg.sender);
    }

    function _checkValue(address currency, uint256 price) private view {
        uint256 expected = currency == address(0) ? price : 0;
        if (msg.value != expected) revert ValueMismatch(expected, msg.value);
    }

    function _checkOfferToken(Order calldata o, uint256 tokenId) private view {
        if (o.kind != Kind.AssetRange) {
            if (tokenId != o.tokenId) revert TokenMismatch(o.tokenId, tokenId);
            return;
        }
        if (!_assets.isRegistered(tokenId)) revert TokenOutOfRange(tokenId);
        uint64 leaf = _assets.leafIndexOf(tokenId);
        if (leaf < o.fromLeaf || leaf >= o.toLeaf) revert TokenOutOfRange(tokenId);
    }

    function _registerTo(uint64 checkpointSize, MerkleItem calldata item, address to) private {
        if (item.dagPb) {
            _assets.registerDagPb(
                to,
                item.cidDigest,
                item.manifestHash,
                item.leafIndex,
                checkpointSize,
                item.logProof,
                item.parentTokenId,
                item.metadataDigest
            );
        } else {
            _assets.register(
                to,
                item.cidDigest,
                item.manifestHash,
                item.leafIndex,
                checkpointSize,
                item.logProof,
                item.parentTokenId,
                item.metadataDigest
            );
        }
    }

    /// @dev A registered share token named by a share lot's tokenId, else UnknownShareToken.
    function _shareToken(uint256 tokenId) private view returns (IERC20) {
        // casting to 'uint160' is safe: a tokenId with higher bits set is refused just below
        // forge-lint: disable-next-line(unsafe-typecast)
        address token = address(uint160(tokenId));
        if (tokenId >> 160 != 0 || !_shareTokens[token]) revert UnknownShareToken(token);
        return IERC20(token);
    }

    /// @dev The price of `amount` units: exact per whole share for a share lot, else per unit.
    function _priceOf(Order calldata o, uint256 amount) private pure returns (uint256) {
        return o.kind == Kind.Shares ? sharePrice(amount, o.unitPrice) : o.unitPrice * amount;
    }

    function _transferItem(Order calldata o, address from, address to, uint256 tokenId, uint256 amount) private {
        if (o.kind == Kind.Shares) {
            _shareToken(o.tokenId).safeTransferFrom(from, to, amount);
        } else if (o.kind == Kind.Licence) {
            _licenses.safeTransferFrom(from, to, _licenseId(o.tokenId, o.termsId), amount, "");
        } else {
            _assets.safeTransferFrom(from, to, tokenId);
        }
    }

    /// @dev Pays `price` from `payer`: royalty to the asset's ERC-2981 receiver (if `royaltyDue`: a
    /// share lot pays none, its shares carry revenue themselves), the fee, the rest to `seller`.
    /// ETH was received with the call (msg.value checked); ERC-20 moves by transferFrom.
    function _settle(
        address payer,
        address seller,
        uint256 tokenId,
        address currency,
        uint256 price,
        bool royaltyDue
    ) private returns (uint256 royalty) {
        address receiver;
        if (royaltyDue) {
            (receiver, royalty) = _assets.royaltyInfo(tokenId, price);
        }
        uint256 feeAmount = (price * _feeBps) / 10_000;
        if (royalty + feeAmount > price) revert RoyaltyExceedsPrice(price, royalty, feeAmount);
        uint256 proceeds = price - royalty - feeAmount;
        if (royalty != 0) emit RoyaltyPaid(tokenId, receiver, currency, royalty);
        if (currency == address(0)) {
            _pushEth(receiver, royalty);
            _pushEth(_feeRecipient, feeAmount);
            _pushEth(seller, proceeds);
        } else {
            IERC20 token = IERC20(currency);
            if (royalty != 0) token.safeTransferFrom(payer, receiver, royalty);
            if (feeAmount != 0) token.safeTransferFrom(payer, _feeRecipient, feeAmount);
            if (proceeds != 0) token.safeTransferFrom(payer, seller, proceeds);
        }
    }

    /// @dev A push that fails (payee reverts) is kept for `withdraw`, so no payee can block a sale.
    function _pushEth(address to, uint256 amount) private {
        if (amount == 0) return;
        (bool ok,) = payable(to).call{value: amount}("");
        if (ok) return;
        _owedEth[to] += amount;
        _totalOwedEth += amount;
        emit PaymentDeferred(to, amount);
    }

    function _licenseId(uint256 tokenId, uint256 termsId) private pure returns (uint256) {
        return uint256(keccak256(abi.encode(tokenId, termsId)));
    }
}
