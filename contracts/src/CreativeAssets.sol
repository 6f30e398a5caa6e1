// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {ERC2981} from "@openzeppelin/contracts/token/common/ERC2981.sol";
import {CidText} from "./CidText.sol";
import {MerkleProofs} from "./MerkleProofs.sol";
import {ProvenanceLog} from "./ProvenanceLog.sol";

/// @notice Decides whether a registered asset may get derivatives (implemented by LicenseMarket).
interface IDerivativeGuard {
    function isDerivable(uint256 parentTokenId) external view returns (bool);
}

/// @notice Names the ERC-2981 royalty receiver of a token (implemented by RoyaltyVault: the token's
/// split receiver, address(0) if none).
interface IRoyaltyRouter {
    function royaltyReceiverOf(uint256 tokenId) external view returns (address);
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
contract CreativeAssets is ERC721, ERC2981, AccessControl {
    bytes32 public constant REGISTRAR_ROLE = keccak256("REGISTRAR_ROLE");
    /// @dev CIDv1 prefix: version 1, codec, sha2-256 (0x12), 32-byte digest (0x20).
    bytes1 private constant CODEC_RAW = CidText.CODEC_RAW;
    bytes1 private constant CODEC_DAG_PB = CidText.CODEC_DAG_PB;

    struct Record {
        bytes32 manifestHash;
        uint256 parent;
        uint64 leafIndex;
        bool registered;
        bytes1 codec;
    }

    ProvenanceLog private immutable _log;
    IDerivativeGuard private _guard;
    IRoyaltyRouter private _router;
    mapping(uint256 tokenId => Record) private _records;
    mapping(uint256 tokenId => bytes32 digest) private _metadata; // sha2-256 of the metadata JSON
    uint256 private _count;

    event AssetRegistered(uint256 indexed tokenId, uint64 leafIndex, uint256 indexed parentTokenId, address indexed to);
    event DerivativeGuardSet(address guard);
    event RoyaltyRouterSet(address router);

    error AlreadyRegistered(uint256 tokenId);
    error NotInLog();
    error UnknownParent(uint256 parent);
    error DerivativeNotAllowed(uint256 parentTokenId);
    error UnknownAsset(uint256 tokenId);
    error ZeroDigest();
    error ZeroMetadata();

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
        if (_records[tokenId].registered) revert AlreadyRegistered(tokenId);
        if (parentTokenId != 0) {
            if (!_records[parentTokenId].registered) revert UnknownParent(parentTokenId);
            IDerivativeGuard guard = _guard;
            if (address(guard) == address(0) || !guard.isDerivable(parentTokenId)) {
                revert DerivativeNotAllowed(parentTokenId);
            }
        }
        bytes memory data = _leafData(codec, cidDigest, manifestHash);
        if (parentTokenId != 0) {
            data = abi.encodePacked(data, CidText.prefix(_records[parentTokenId].codec), bytes32(parentTokenId));
        }
        bytes32 leafHash = MerkleProofs.hashLeaf(data);
        if (!_log.verifyInclusion(leafHash, leafIndex, checkpointSize, proof)) revert NotInLog();

        _records[tokenId] = Record(manifestHash, parentTokenId, leafIndex, true, codec);
        unchecked {
            ++_count;
        }
        emit AssetRegistered(tokenId, leafIndex, parentTokenId, to);
        _safeMint(to, tokenId);
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
        _router = router;
        emit RoyaltyRouterSet(address(router));
    }

    /// @notice The royalty router (address(0) = none: every token pays the default receiver).
    function royaltyRouter() external view returns (IRoyaltyRouter) {
        return _router;
    }

    /// @notice ERC-2981: the default rate, paid to the token's split receiver if it has one.
    function royaltyInfo(uint256 tokenId, uint256 salePrice)
        public
        view
        override
        returns (address receiver, uint256 amount)
    {
        (receiver, amount) = super.royaltyInfo(tokenId, salePrice);
        IRoyaltyRouter router = _router;
        if (address(router) == address(0)) return (receiver, amount);
        address split = router.royaltyReceiverOf(tokenId);
        if (split != address(0)) receiver = split;
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
        return _records[tokenId].registered;
    }

    /// @notice Log leaf index of a registered asset; reverts UnknownAsset.
    function leafIndexOf(uint256 tokenId) external view returns (uint64) {
        return _record(tokenId).leafIndex;
    }

    /// @notice Parent token id of a registered asset (0 = none); reverts UnknownAsset.
    function parentOf(uint256 tokenId) external view returns (uint256) {
        return _record(tokenId).parent;
    }

    /// @notice Manifest hash of a registered asset; reverts UnknownAsset.
    function manifestHashOf(uint256 tokenId) external view returns (bytes32) {
        return _record(tokenId).manifestHash;
    }

    /// @notice Number of registered assets.
    function totalRegistered() external view returns (uint256) {
        return _count;
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
        bytes1 codec = _records[tokenId].codec == CODEC_DAG_PB ? CODEC_DAG_PB : CODEC_RAW;
        return CidText.text(codec, bytes32(tokenId));
    }

    /// @notice sha2-256 digest of the metadata JSON of a registered asset; reverts UnknownAsset.
    function metadataOf(uint256 tokenId) external view returns (bytes32) {
        _record(tokenId);
        return _metadata[tokenId];
    }

    /// @notice "ipfs://" + raw CIDv1 (base32) of the token's metadata JSON. Reverts for unminted tokens.
    function tokenURI(uint256 tokenId) public view override returns (string memory) {
        _requireOwned(tokenId);
        return string(abi.encodePacked("ipfs://", CidText.text(CODEC_RAW, _metadata[tokenId])));
    }

    function supportsInterface(bytes4 interfaceId) public view override(ERC721, ERC2981, AccessControl) returns (bool) {
        return super.supportsInterface(interfaceId);
    }

    /// @dev Written before `_register` (whose checks revert the whole call if the token exists).
    function _setMetadata(bytes32 cidDigest, bytes32 metadataDigest) private {
        if (metadataDigest == bytes32(0)) revert ZeroMetadata();
        _metadata[uint256(cidDigest)] = metadataDigest;
    }

    function _leafData(bytes1 codec, bytes32 cidDigest, bytes32 manifestHash) private pure returns (bytes memory) {
        return abi.encodePacked(CidText.prefix(codec), cidDigest, manifestHash);
    }

    function _record(uint256 tokenId) private view returns (Record storage r) {
        r = _records[tokenId];
        if (!r.registered) revert UnknownAsset(tokenId);
    }
}
