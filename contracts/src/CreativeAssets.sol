// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";
import {IERC2981} from "@openzeppelin/contracts/interfaces/IERC2981.sol";
import {CidText} from "./CidText.sol";
import {MerkleProofs} from "./MerkleProofs.sol";
import {ProvenanceLog} from "./ProvenanceLog.sol";

/// @notice Decides whether a registered asset may get derivatives (implemented by LicenseMarket).
interface IDerivativeGuard {
    function isDerivable(uint256 parentTokenId) external view returns (bool);
}

/// @notice Names the ERC-2981 royalty receiver of a token (implemented by RoyaltyVault: the split
/// receiver of the token's log leaf, address(0) if none). Asked by leaf so it needs no call back.
interface IRoyaltyRouter {
    function royaltyReceiverOf(uint256 tokenId) external view returns (address);
    function royaltyReceiverOfLeaf(uint64 leafIndex) external view returns (address);
}

/// @title CreativeAssets: ERC-721 for assets proven to be in the ProvenanceLog
/// @notice Lazy registration: an asset is minted only when someone needs it on chain, by proving
/// its log leaf is included in an anchored checkpoint. The leaf is recomputed here from the asset's
/// CIDv1 (sha2-256; raw codec, or dag-pb for a file over 256 KiB, which IPFS imports as a UnixFS
/// DAG) and its manifest hash, so a token id (= the CID's sha256 digest) can only be minted for the
/// exact content the log committed to. The codec is kept so `cidOf` names the IPFS CID.
/// `tokenURI` names the token's metadata JSON (ERC-721 metadata schema, `image`/`animation_url` =
/// the asset CID), a raw-block CID whose digest the registrar fixes at registration: it is
/// immutable afterwards, and the JSON only names facts that exist by then (no later receipt).
/// A derivative's log leaf also commits to its parent's CID (CID ‖ manifest hash ‖ parent CID), so
/// the parent is proven with the leaf, not chosen by the registrar: omitting it or naming another
/// one gives a leaf that is not in the log (NotInLog). A derivative is accepted only if the
/// configured derivative guard (the LicenseMarket) says the parent's attached terms allow
/// derivatives; with no guard configured, derivatives are refused (fail-closed).
/// ERC-2981: `royaltyInfo` names the token's split receiver when a royalty router (the RoyaltyVault)
/// is set and the token has a split, else the default receiver; the rate is the default rate.
/// Gas: a token's owner, leaf index, codec, approval flag and transfer count share one storage word;
/// its manifest hash is in the log leaf and the AssetRegistered event, not in storage
/// (a registration writes it once; a sale reads the leaf for the royalty from the word the transfer
/// touches anyway), and the royalty router, rate and registration count share another.
contract CreativeAssets is ERC721, IERC2981, AccessControl {
    bytes32 public constant REGISTRAR_ROLE = keccak256("REGISTRAR_ROLE");
    /// @dev CIDv1 prefix: version 1, codec, sha2-256 (0x12), 32-byte digest (0x20).
    bytes1 private constant CODEC_RAW = CidText.CODEC_RAW;
    bytes1 private constant CODEC_DAG_PB = CidText.CODEC_DAG_PB;
    uint96 private constant ROYALTY_DENOMINATOR = 10_000;

    /// @dev Token word: owner (bits 0-159) | leaf index (160-223) | registered (224) | dag-pb (225)
    /// | single-token approval set (226) | transfers since the mint (228-255).
    uint256 private constant OWNER_MASK = (1 << 160) - 1;
    uint256 private constant LEAF_SHIFT = 160;
    uint256 private constant REGISTERED = 1 << 224;
    uint256 private constant DAG_PB = 1 << 225;
    uint256 private constant APPROVED = 1 << 226;
    uint256 private constant TRANSFER_SHIFT = 228;
    uint256 private constant MAX_TRANSFERS = (1 << 28) - 1;

    /// @dev One word, read by every royaltyInfo and written by every registration.
    struct RoyaltyConfig {
        IRoyaltyRouter router;
        uint16 bps;
        uint80 count; // registered assets
    }

    ProvenanceLog private immutable _log;
    IDerivativeGuard private _guard;
    RoyaltyConfig private _royalty;
    address private _defaultReceiver;
    mapping(uint256 tokenId => uint256 word) private _tokens;
    mapping(uint256 tokenId => uint256) private _parents; // written only for derivatives
    mapping(uint256 tokenId => bytes32 digest) private _metadata; // sha2-256 of the metadata JSON
    mapping(address owner => uint256) private _held;

    /// @notice The manifest hash is told here, not stored: the log leaf commits to it (each receipt
    /// names it) and the registration proved that leaf, so storing it again cost 22,100 gas a token.
    event AssetRegistered(
        uint256 indexed tokenId, uint64 leafIndex, uint256 indexed parentTokenId, address indexed to, bytes32 manifestHash
    );
    event DerivativeGuardSet(address guard);
    event RoyaltyRouterSet(address router);

    error AlreadyRegistered(uint256 tokenId);
    error NotInLog();
    error UnknownParent(uint256 parent);
    error DerivativeNotAllowed(uint256 parentTokenId);
    error UnknownAsset(uint256 tokenId);
    error ZeroDigest();
    error ZeroMetadata();
    error TooManyTransfers(uint256 tokenId);
    /// @dev As OpenZeppelin's ERC2981 names them.
    error ERC2981InvalidDefaultRoyalty(uint256 numerator, uint256 denominator);
    error ERC2981InvalidDefaultRoyaltyReceiver(address receiver);

    constructor(address admin, ProvenanceLog log, address royaltyReceiver, uint96 royaltyBps)
        ERC721("mintloom creative assets", "MLOOM")
    {
        _log = log;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(REGISTRAR_ROLE, admin);
        _setDefaultRoyalty(royaltyReceiver, royaltyBps);
    }

    /// @notice Mint the asset with raw CID digest `cidDigest` to `to`, proving its log leaf
    /// sha256(0x00 ‖ CIDv1 ‖ manifestHash [‖ parent CIDv1]) is at `leafIndex` in anchored checkpoint
    /// `checkpointSize`.
    /// @param parentTokenId the parent the leaf commits to (0 = none); must be registered and derivable
    /// @param metadataDigest sha2-256 of the token's metadata JSON (its raw CIDv1 digest), never 0
    /// @return tokenId uint256(cidDigest)
    function register(
        address to,
        bytes32 cidDigest,
        bytes32 manifestHash,
        uint64 leafIndex,
        uint64 checkpointSize,
        bytes32[] calldata proof,
        uint256 parentTokenId,
        bytes32 metadataDigest
    ) external onlyRole(REGISTRAR_ROLE) returns (uint256 tokenId) {
        _setMetadata(cidDigest, metadataDigest); // before the mint's receiver hook can read tokenURI
        return _register(to, CODEC_RAW, cidDigest, manifestHash, leafIndex, checkpointSize, proof, parentTokenId);
    }

    /// @notice `register` for an asset whose CID is a UnixFS DAG root (dag-pb codec, files over 256 KiB).
    function registerDagPb(
        address to,
        bytes32 cidDigest,
        bytes32 manifestHash,
        uint64 leafIndex,
        uint64 checkpointSize,
        bytes32[] calldata proof,
        uint256 parentTokenId,
        bytes32 metadataDigest
    ) external onlyRole(REGISTRAR_ROLE) returns (uint256 tokenId) {
        _setMetadata(cidDigest, metadataDigest);
        return _register(to, CODEC_DAG_PB, cidDigest, manifestHash, leafIndex, checkpointSize, proof, parentTokenId);
    }

    function _register(
        address to,
        bytes1 codec,
        bytes32 cidDigest,
        bytes32 manifestHash,
        uint64 leafIndex,
        uint64 checkpointSize,
        bytes32[] calldata proof,
        uint256 parentTokenId
    ) private returns (uint256 tokenId) {
        if (cidDigest == bytes32(0)) revert ZeroDigest();
        tokenId = uint256(cidDigest);
        if (isRegistered(tokenId)) revert AlreadyRegistered(tokenId);
        bytes memory data = _leafData(codec, cidDigest, manifestHash);
        if (parentTokenId != 0) {
            _checkParent(parentTokenId);
            data = abi.encodePacked(data, CidText.prefix(_codecOf(parentTokenId)), bytes32(parentTokenId));
            _parents[tokenId] = parentTokenId;
        }
        bytes32 leafHash = MerkleProofs.hashLeaf(data);
        if (!_log.verifyInclusion(leafHash, leafIndex, checkpointSize, proof)) revert NotInLog();

        _tokens[tokenId] = REGISTERED | (codec == CODEC_DAG_PB ? DAG_PB : 0) | (uint256(leafIndex) << LEAF_SHIFT);
        unchecked {
            ++_royalty.count;
        }
        emit AssetRegistered(tokenId, leafIndex, parentTokenId, to, manifestHash);
        _safeMint(to, tokenId);
    }

    function _checkParent(uint256 parentTokenId) private view {
        if (!isRegistered(parentTokenId)) revert UnknownParent(parentTokenId);
        IDerivativeGuard guard = _guard;
        if (address(guard) == address(0) || !guard.isDerivable(parentTokenId)) {
            revert DerivativeNotAllowed(parentTokenId);
        }
    }

    /// @notice Set the derivative guard (the LicenseMarket). Admin only.
    function setDerivativeGuard(IDerivativeGuard guard) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _guard = guard;
        emit DerivativeGuardSet(address(guard));
    }

    /// @notice Set the ERC-2981 default royalty. Admin only.
    function setDefaultRoyalty(address receiver, uint96 royaltyBps) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setDefaultRoyalty(receiver, royaltyBps);
    }

    /// @notice Set the royalty router (the RoyaltyVault) that names each token's split receiver. Admin only.
    function setRoyaltyRouter(IRoyaltyRouter router) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _royalty.router = router;
        emit RoyaltyRouterSet(address(router));
    }

    /// @notice The royalty router (address(0) = none: every token pays the default receiver).
    function royaltyRouter() external view returns (IRoyaltyRouter) {
        return _royalty.router;
    }

    /// @notice ERC-2981: the default rate, paid to the split receiver of the token's log leaf if it
    /// has one, else to the default receiver.
    function royaltyInfo(uint256 tokenId, uint256 salePrice) public view returns (address receiver, uint256 amount) {
        RoyaltyConfig memory c = _royalty;
        amount = (salePrice * c.bps) / ROYALTY_DENOMINATOR;
        uint256 word = _tokens[tokenId];
        if (address(c.router) != address(0) && word & REGISTERED != 0) {
            receiver = c.router.royaltyReceiverOfLeaf(uint64(word >> LEAF_SHIFT));
        }
        if (receiver == address(0)) receiver = _defaultReceiver;
    }

    /// @notice The derivative guard (address(0) = none: derivatives refused).
    function derivativeGuard() external view returns (IDerivativeGuard) {
        return _guard;
    }

    /// @notice The ProvenanceLog assets are proven against.
    function provenanceLog() external view returns (ProvenanceLog) {
        return _log;
    }

    /// @notice Whether `tokenId` is registered.
    function isRegistered(uint256 tokenId) public view returns (bool) {
        return _tokens[tokenId] & REGISTERED != 0;
    }

    /// @notice Log leaf index of a registered asset; reverts UnknownAsset.
    function leafIndexOf(uint256 tokenId) external view returns (uint64) {
        return uint64(_word(tokenId) >> LEAF_SHIFT);
    }

    /// @notice Parent token id of a registered asset (0 = none); reverts UnknownAsset.
    function parentOf(uint256 tokenId) external view returns (uint256) {
        _word(tokenId);
        return _parents[tokenId];
    }

    /// @notice Transfers of a registered asset since its mint (each one ends every signed order
    /// naming the older count); reverts UnknownAsset.
    function transferCountOf(uint256 tokenId) external view returns (uint256) {
        return _word(tokenId) >> TRANSFER_SHIFT;
    }

    /// @notice Number of registered assets.
    function totalRegistered() external view returns (uint256) {
        return _royalty.count;
    }

    /// @notice The 68-byte log leaf data of a raw CID: CIDv1 (0x01 0x55 0x12 0x20 ‖ digest) ‖ manifestHash.
    function leafData(bytes32 cidDigest, bytes32 manifestHash) public pure returns (bytes memory) {
        return _leafData(CODEC_RAW, cidDigest, manifestHash);
    }

    /// @notice The 104-byte log leaf data of a derivative with raw CIDs: CIDv1 ‖ manifestHash ‖ parent CIDv1.
    function derivativeLeafData(bytes32 cidDigest, bytes32 manifestHash, bytes32 parentDigest)
        public
        pure
        returns (bytes memory)
    {
        return abi.encodePacked(_leafData(CODEC_RAW, cidDigest, manifestHash), CidText.prefix(CODEC_RAW), parentDigest);
    }

    /// @notice CIDv1 (sha2-256) of `tokenId` as multibase base32 lower-case ("b…"): dag-pb if it was
    /// registered as a UnixFS DAG, else raw.
    function cidOf(uint256 tokenId) public view returns (string memory) {
        return CidText.text(_codecOf(tokenId), bytes32(tokenId));
    }

    /// @notice sha2-256 digest of the metadata JSON of a registered asset; reverts UnknownAsset.
    function metadataOf(uint256 tokenId) external view returns (bytes32) {
        _word(tokenId);
        return _metadata[tokenId];
    }

    /// @notice "ipfs://" + raw CIDv1 (base32) of the token's metadata JSON. Reverts for unminted tokens.
    function tokenURI(uint256 tokenId) public view override returns (string memory) {
        _requireOwned(tokenId);
        return string(abi.encodePacked("ipfs://", CidText.text(CODEC_RAW, _metadata[tokenId])));
    }

    /// @inheritdoc ERC721
    function balanceOf(address owner) public view override returns (uint256) {
        if (owner == address(0)) revert ERC721InvalidOwner(address(0));
        return _held[owner];
    }

    function supportsInterface(bytes4 interfaceId) public view override(ERC721, AccessControl, IERC165) returns (bool) {
        return interfaceId == type(IERC2981).interfaceId || super.supportsInterface(interfaceId);
    }

    // ----- ERC-721 storage: the owner lives in the token word -----

    function _ownerOf(uint256 tokenId) internal view override returns (address) {
        return address(uint160(_tokens[tokenId]));
    }

    /// @dev The single-token approval is read only when the word says one is set.
    function _getApproved(uint256 tokenId) internal view override returns (address) {
        return _tokens[tokenId] & APPROVED == 0 ? address(0) : super._getApproved(tokenId);
    }

    function _approve(address to, uint256 tokenId, address auth, bool emitEvent) internal override {
        super._approve(to, tokenId, auth, emitEvent);
        uint256 word = _tokens[tokenId];
        uint256 next = to == address(0) ? word & ~APPROVED : word | APPROVED;
        if (next != word) _tokens[tokenId] = next;
    }

    /// @dev OpenZeppelin's `_update` on the packed word: authorisation, approval cleared, balances,
    /// the transfer count raised (not by the mint), one word written.
    function _update(address to, uint256 tokenId, address auth) internal override returns (address from) {
        uint256 word = _tokens[tokenId];
        from = address(uint160(word));
        if (auth != address(0)) _checkAuthorized(from, auth, tokenId);
        if (from != address(0)) {
            if (word & APPROVED != 0) {
                super._approve(address(0), tokenId, address(0), false);
                word &= ~APPROVED;
            }
            if (word >> TRANSFER_SHIFT == MAX_TRANSFERS) revert TooManyTransfers(tokenId);
            unchecked {
                --_held[from];
                word += 1 << TRANSFER_SHIFT;
            }
        }
        if (to != address(0)) {
            unchecked {
                ++_held[to];
            }
        }
        _tokens[tokenId] = (word & ~OWNER_MASK) | uint160(to);
        emit Transfer(from, to, tokenId);
    }

    function _increaseBalance(address account, uint128 value) internal override {
        unchecked {
            _held[account] += value;
        }
    }

    // ----- internals -----

    /// @dev OpenZeppelin ERC2981's checks, on the packed royalty word.
    function _setDefaultRoyalty(address receiver, uint96 royaltyBps) private {
        if (royaltyBps > ROYALTY_DENOMINATOR) revert ERC2981InvalidDefaultRoyalty(royaltyBps, ROYALTY_DENOMINATOR);
        if (receiver == address(0)) revert ERC2981InvalidDefaultRoyaltyReceiver(address(0));
        _defaultReceiver = receiver;
        // casting to 'uint16' is safe because royaltyBps <= 10000 was checked above
        // forge-lint: disable-next-line(unsafe-typecast)
        _royalty.bps = uint16(royaltyBps);
    }

    /// @dev Written before `_register` (whose checks revert the whole call if the token exists).
    function _setMetadata(bytes32 cidDigest, bytes32 metadataDigest) private {
        if (metadataDigest == bytes32(0)) revert ZeroMetadata();
        _metadata[uint256(cidDigest)] = metadataDigest;
    }

    function _leafData(bytes1 codec, bytes32 cidDigest, bytes32 manifestHash) private pure returns (bytes memory) {
        return abi.encodePacked(CidText.prefix(codec), cidDigest, manifestHash);
    }

    function _codecOf(uint256 tokenId) private view returns (bytes1) {
        return _tokens[tokenId] & DAG_PB != 0 ? CODEC_DAG_PB : CODEC_RAW;
    }

    function _word(uint256 tokenId) private view returns (uint256 word) {
        word = _tokens[tokenId];
        if (word & REGISTERED == 0) revert UnknownAsset(tokenId);
    }
}
