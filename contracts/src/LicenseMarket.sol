// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {Multicall} from "@openzeppelin/contracts/utils/Multicall.sol";
import {ERC1155} from "@openzeppelin/contracts/token/ERC1155/ERC1155.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {AnchoredRanges} from "./AnchoredRanges.sol";
import {CidText} from "./CidText.sol";
import {CreativeAssets, IDerivativeGuard} from "./CreativeAssets.sol";
import {LicenseTemplates} from "./LicenseTemplates.sol";
import {ProvenanceLog} from "./ProvenanceLog.sol";
import {RoyaltyVault} from "./RoyaltyVault.sol";

/// @title LicenseMarket: license terms attached to log leaves, sold as ERC-1155 license tokens
/// @notice ATTACHER_ROLE attaches registered LicenseTemplates terms to ranges of ProvenanceLog leaves
/// (one transaction per anchored checkpoint). Ranges are append-only; calling attachTerms again
/// with exactly the same range adds another terms id to it (at most MAX_TERMS_PER_RANGE).
///
/// `buyLicense` sells licenses of a registered CreativeAssets token under one of its attached terms:
/// the fee (mintingFee * amount) must be paid exactly — ETH via msg.value (less: FeeTooLow, more:
/// ExcessPayment; nothing is ever refunded or credited), ERC-20 via transferFrom from the buyer
/// (approve this market) — and goes straight into RoyaltyVault.depositFor with the token's LAP
/// royalty stack (`upstreamBpsOf`). The license token id is uint256(keccak256(abi.encode(tokenId,
/// termsId))).
///
/// ERC-1155 metadata: `uri(id)` is "ipfs://<directory CID>/{id}.json" (EIP-1155 `{id}`
/// substitution: the id as 64 lower-case hex digits, no 0x), the directory a UnixFS folder of one
/// licence JSON per license id that ATTACHER_ROLE publishes and names with `setMetadataRoot`
/// (until then the empty folder: a well-formed URI that resolves to nothing yet).
///
/// As the CreativeAssets derivative guard, an asset is derivable iff at least one of its attached,
/// unexpired terms has derivativesAllowed.
contract LicenseMarket is ERC1155, AccessControl, ReentrancyGuard, AnchoredRanges, IDerivativeGuard, Multicall {
    using SafeERC20 for IERC20;

    bytes32 public constant ATTACHER_ROLE = keccak256("ATTACHER_ROLE");
    uint256 public constant MAX_TERMS_PER_RANGE = 16;
    /// @notice May issue licences without the terms' fee (the Marketplace, which is paid by its own order).
    bytes32 public constant ISSUER_ROLE = keccak256("ISSUER_ROLE");

    CreativeAssets private immutable _assets;
    LicenseTemplates private immutable _templates;
    RoyaltyVault private immutable _vault;
    uint256[][] private _rangeTerms; // indexed by the stored leaf ranges' data slot
    bytes32 private _metadataRoot; // sha2-256 of the dag-pb root of the licence metadata folder

    event TermsAttached(uint256 indexed termsId, uint64 indexed checkpointSize, uint64 fromIndex, uint64 toIndex);
    event MetadataRootSet(bytes32 root, string uri);
    event LicensePurchased(
        uint256 indexed tokenId,
        uint256 indexed termsId,
        uint256 indexed licenseId,
        address buyer,
        address to,
        uint256 amount,
        address currency,
        uint256 fee
    );

    error UnknownTerms(uint256 termsId);
    error TermsAlreadyAttached(uint256 termsId);
    error TooManyTerms();
    error UnknownToken(uint256 tokenId);
    error TermsNotAttached(uint256 tokenId, uint256 termsId);
    error TermsExpired(uint64 expiry);
    error FeeTooLow(uint256 required, uint256 given);
    error ExcessPayment(uint256 required, uint256 given);
    error ZeroAmount();
    error DerivativeNotAllowed(uint256 parentTokenId);
    error ZeroMetadata();

    constructor(address admin, ProvenanceLog log, CreativeAssets assets, LicenseTemplates templates, RoyaltyVault vault)
        ERC1155("")
        AnchoredRanges(log)
    {
        _assets = assets;
        _templates = templates;
        _vault = vault;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(ATTACHER_ROLE, admin);
        _metadataRoot = sha256(hex"0a020801"); // the empty UnixFS directory node
    }

    /// @notice Name the licence metadata folder: `root` is the sha2-256 digest of its dag-pb
    /// (UnixFS directory) root block. Emits MetadataRootSet with the new `uri` template.
    function setMetadataRoot(bytes32 root) external onlyRole(ATTACHER_ROLE) {
        if (root == bytes32(0)) revert ZeroMetadata();
        _metadataRoot = root;
        emit MetadataRootSet(root, uri(0));
    }

    /// @notice The digest of the licence metadata folder's root block (see setMetadataRoot).
    function metadataRoot() external view returns (bytes32) {
        return _metadataRoot;
    }

    /// @notice EIP-1155 metadata URI template, the same for every id:
    /// "ipfs://<folder CIDv1>/{id}.json"; clients replace {id} by the id in 64 lower-case hex digits.
    function uri(uint256) public view override returns (string memory) {
        return string(abi.encodePacked("ipfs://", CidText.text(CidText.CODEC_DAG_PB, _metadataRoot), "/{id}.json"));
    }

    /// @notice Attach `termsId` to log leaves `[fromIndex, toIndex)` of anchored checkpoint
    /// `checkpointSize`. The range must share no leaf with a stored range (it may fill a gap), or
    /// equal a stored range exactly (then the terms are added to it).
    function attachTerms(uint64 checkpointSize, uint64 fromIndex, uint64 toIndex, uint256 termsId)
        external
        onlyRole(ATTACHER_ROLE)
    {
        if (!_templates.exists(termsId)) revert UnknownTerms(termsId);
        (bool found, uint256 pos) = _findRange(fromIndex);
        LeafRange memory r = found ? rangeAt(pos) : LeafRange(0, 0);
        if (found && r.fromIndex == fromIndex && r.toIndex == toIndex) {
            _checkAnchoredRange(checkpointSize, fromIndex, toIndex);
            uint256[] storage list = _rangeTerms[_slotAt(pos)];
            uint256 n = list.length;
            if (n >= MAX_TERMS_PER_RANGE) revert TooManyTerms();
            for (uint256 i = 0; i < n; ++i) {
                if (list[i] == termsId) revert TermsAlreadyAttached(termsId);
            }
            list.push(termsId);
        } else {
            _addRange(checkpointSize, fromIndex, toIndex, _rangeTerms.length);
            _rangeTerms.push().push(termsId);
        }
        emit TermsAttached(termsId, checkpointSize, fromIndex, toIndex);
    }

    /// @notice Terms ids attached to log leaf `leafIndex` (empty if none).
    function termsOfLeaf(uint64 leafIndex) public view returns (uint256[] memory) {
        (bool found, uint256 slot) = _findSlot(leafIndex);
        return found ? _rangeTerms[slot] : new uint256[](0);
    }

    /// @notice Terms ids attached to the leaf of registered asset `tokenId`; reverts UnknownToken.
    function termsOfToken(uint256 tokenId) public view returns (uint256[] memory) {
        if (!_assets.isRegistered(tokenId)) revert UnknownToken(tokenId);
        return termsOfLeaf(_assets.leafIndexOf(tokenId));
    }

    /// @notice Whether `termsId` is attached to the leaf of registered asset `tokenId`.
    function isAttached(uint256 tokenId, uint256 termsId) public view returns (bool) {
        uint256[] memory ids = termsOfToken(tokenId);
        for (uint256 i = 0; i < ids.length; ++i) {
            if (ids[i] == termsId) return true;
        }
        return false;
    }

    /// @notice True iff `parentTokenId` is registered and at least one of its attached, unexpired
    /// terms allows derivatives. Used by CreativeAssets.register.
    function isDerivable(uint256 parentTokenId) public view returns (bool) {
        if (!_assets.isRegistered(parentTokenId)) return false;
        uint256[] memory ids = termsOfLeaf(_assets.leafIndexOf(parentTokenId));
        for (uint256 i = 0; i < ids.length; ++i) {
            LicenseTemplates.Terms memory t = _templates.terms(ids[i]);
            // forge-lint: disable-next-line(block-timestamp)
            if (t.derivativesAllowed && (t.expiry == 0 || block.timestamp < t.expiry)) return true;
        }
        return false;
    }

    /// @notice Reverts DerivativeNotAllowed(parentTokenId) unless `isDerivable(parentTokenId)`.
    function checkDerivable(uint256 parentTokenId) external view {
        if (!isDerivable(parentTokenId)) revert DerivativeNotAllowed(parentTokenId);
    }

    /// @notice Revenue share (bps) asset `tokenId` claims from its derivatives: the highest
    /// revShareBps among its attached terms that allow derivatives (0 if none or unregistered).
    function revShareOf(uint256 tokenId) public view returns (uint16 bps) {
        if (!_assets.isRegistered(tokenId)) return 0;
        uint256[] memory ids = termsOfLeaf(_assets.leafIndexOf(tokenId));
        for (uint256 i = 0; i < ids.length; ++i) {
            LicenseTemplates.Terms memory t = _templates.terms(ids[i]);
            if (t.derivativesAllowed && t.revShareBps > bps) bps = t.revShareBps;
        }
    }

    /// @notice LAP royalty stack of `tokenId`: entry i is revShareOf(i-th ancestor, 0 = parent), up to
    /// RoyaltyVault.MAX_UPSTREAM_DEPTH ancestors, clamped so the sum never exceeds 10000.
    function upstreamBpsOf(uint256 tokenId) public view returns (uint16[] memory stack) {
        uint256 maxDepth = _vault.MAX_UPSTREAM_DEPTH();
        stack = new uint16[](maxDepth);
        uint256 depth = 0;
        uint256 sum = 0;
        uint256 current = tokenId;
        while (depth < maxDepth) {
            current = _assets.parentOf(current);
            if (current == 0) break;
            uint256 bps = revShareOf(current);
            if (sum + bps > 10_000) bps = 10_000 - sum;
            sum += bps;
            // casting to 'uint16' is safe because bps <= 10_000
            // forge-lint: disable-next-line(unsafe-typecast)
            stack[depth++] = uint16(bps);
        }
        assembly ("memory-safe") {
            mstore(stack, depth)
        }
    }

    /// @notice Buy `amount` licenses of asset `tokenId` under attached terms `termsId`, minted to `to`.
    /// @return licenseId uint256(keccak256(abi.encode(tokenId, termsId)))
    function buyLicense(uint256 tokenId, uint256 termsId, uint256 amount, address to)
        external
        payable
        nonReentrant
        returns (uint256 licenseId)
    {
        LicenseTemplates.Terms memory t = _sellableTerms(tokenId, termsId, amount);
        uint256 fee = t.mintingFee * amount;
        address currency = t.currency;
        if (currency == address(0)) {
            if (msg.value < fee) revert FeeTooLow(fee, msg.value);
            if (msg.value > fee) revert ExcessPayment(fee, msg.value);
        } else if (msg.value != 0) {
            revert ExcessPayment(0, msg.value);
        }
        licenseId = licenseIdOf(tokenId, termsId);

        if (fee != 0) _pay(tokenId, currency, fee);
        _mint(to, licenseId, amount, "");
        emit LicensePurchased(tokenId, termsId, licenseId, msg.sender, to, amount, currency, fee);
    }

    /// @notice Issue `amount` licenses of `tokenId` under attached, unexpired `termsId` to `to`
    /// without collecting the terms' fee: ISSUER_ROLE (the Marketplace) collects its signed price
    /// and pays the asset's royalty itself.
    function issueLicense(uint256 tokenId, uint256 termsId, uint256 amount, address to)
        external
        onlyRole(ISSUER_ROLE)
        nonReentrant
        returns (uint256 licenseId)
    {
        _sellableTerms(tokenId, termsId, amount);
        licenseId = licenseIdOf(tokenId, termsId);
        _mint(to, licenseId, amount, "");
        emit LicensePurchased(tokenId, termsId, licenseId, msg.sender, to, amount, address(0), 0);
    }

    /// @dev The terms `termsId` of `tokenId`, refused unless attached and unexpired, for a nonzero `amount`
    /// (bought with their fee or issued by the Marketplace at its signed price alike).
    function _sellableTerms(uint256 tokenId, uint256 termsId, uint256 amount)
        private
        view
        returns (LicenseTemplates.Terms memory t)
    {
        if (amount == 0) revert ZeroAmount();
        if (!isAttached(tokenId, termsId)) revert TermsNotAttached(tokenId, termsId);
        t = _templates.terms(termsId);
        // forge-lint: disable-next-line(block-timestamp)
        if (t.expiry != 0 && block.timestamp >= t.expiry) revert TermsExpired(t.expiry);
    }

    /// @notice ERC-1155 id of licenses of `tokenId` under `termsId`.
    function licenseIdOf(uint256 tokenId, uint256 termsId) public pure returns (uint256) {
        return uint256(keccak256(abi.encode(tokenId, termsId)));
    }

    /// @notice The contracts this market works with.
    function contracts() external view returns (CreativeAssets assets, LicenseTemplates templates, RoyaltyVault vault) {
        return (_assets, _templates, _vault);
    }

    function supportsInterface(bytes4 interfaceId) public view override(ERC1155, AccessControl) returns (bool) {
        return super.supportsInterface(interfaceId);
    }

    function _pay(uint256 tokenId, address currency, uint256 fee) private {
        uint16[] memory stack = upstreamBpsOf(tokenId);
        if (currency == address(0)) {
            _vault.depositFor{value: fee}(tokenId, currency, fee, stack);
            return;
        }
        IERC20 token = IERC20(currency);
        uint256 before = token.balanceOf(address(this));
        token.safeTransferFrom(msg.sender, address(this), fee);
        uint256 received = token.balanceOf(address(this)) - before;
        token.forceApprove(address(_vault), received);
        _vault.depositFor(tokenId, currency, received, stack);
    }
}
