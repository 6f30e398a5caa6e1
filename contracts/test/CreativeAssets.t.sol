// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IERC721} from "@openzeppelin/contracts/token/ERC721/IERC721.sol";
import {IERC721Metadata} from "@openzeppelin/contracts/token/ERC721/extensions/IERC721Metadata.sol";
import {IERC721Receiver} from "@openzeppelin/contracts/token/ERC721/IERC721Receiver.sol";
import {IERC1155} from "@openzeppelin/contracts/token/ERC1155/IERC1155.sol";
import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";
import {IERC721Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {IERC2981} from "@openzeppelin/contracts/interfaces/IERC2981.sol";
import {Fixture} from "./utils/Fixture.sol";
import {RefBase32} from "./utils/RefBase32.sol";
import {RefMerkle} from "./utils/RefMerkle.sol";
import {ProvenanceLog} from "../src/ProvenanceLog.sol";
import {CreativeAssets, IDerivativeGuard} from "../src/CreativeAssets.sol";
import {LicenseTemplates} from "../src/LicenseTemplates.sol";

contract RejectAllGuard is IDerivativeGuard {
    function isDerivable(uint256) external pure returns (bool) {
        return false;
    }
}

/// An ERC-721 receiver that reads the token's URI while it is being minted.
contract URIPeek is IERC721Receiver {
    string public seen;

    function onERC721Received(address, address, uint256 tokenId, bytes calldata) external returns (bytes4) {
        seen = IERC721Metadata(msg.sender).tokenURI(tokenId);
        return this.onERC721Received.selector;
    }
}

contract CreativeAssetsTest is Fixture {
    address internal alice = makeAddr("alice");

    function setUp() public override {
        super.setUp();
        _anchor(0, N);
    }

    function test_register() public {
        uint256 id = _tokenId(13);
        vm.expectEmit(true, true, true, true, address(assets));
        emit CreativeAssets.AssetRegistered(id, 13, 0, alice, manifests[13]);
        uint256 got = _register(13, alice, 0);
        vm.assertEq(got, id, "token id = digest");
        vm.assertEq(assets.ownerOf(id), alice, "owner");
        vm.assertTrue(assets.isRegistered(id), "registered");
        vm.assertEq(uint256(assets.leafIndexOf(id)), 13, "leaf index");
        vm.assertEq(assets.parentOf(id), 0, "no parent");
        vm.assertEq(assets.totalRegistered(), 1, "count");
        vm.assertFalse(assets.isRegistered(_tokenId(4)), "other not registered");
    }

    function test_leafDataMatchesLogFormat() public view {
        bytes memory data = assets.leafData(digests[0], manifests[0]);
        vm.assertEq(data.length, 68, "68 bytes");
        vm.assertEq(RefMerkle.leaf(data), leafHashes[0], "leaf hash");
        bytes memory derived = assets.derivativeLeafData(digests[1], manifests[1], digests[0]);
        vm.assertEq(derived.length, 104, "104 bytes with the parent CID");
        vm.assertEq(RefMerkle.leaf(derived), leafHashes[1], "derivative leaf hash");
    }

    /// @dev The attack: register a derivative without its parent (no upstream royalties) or under
    /// another parent. The leaf commits to the parent, so neither is in the log.
    function test_RevertWhen_derivativeOmitsOrSwapsItsParent() public {
        uint256 parent = _register(0, alice, 0);
        _attach(0, 1, templates.NON_COMMERCIAL_REMIX());
        uint256 decoy = _register(13, alice, 0);
        _attach(13, 14, templates.NON_COMMERCIAL_REMIX());
        bytes32[] memory proof = _proof(1, N);
        bytes32 d = digests[1];
        bytes32 m = manifests[1];
        vm.startPrank(admin);
        vm.expectRevert(CreativeAssets.NotInLog.selector);
        assets.register(alice, d, m, 1, uint64(N), proof, 0, META); // parent omitted
        vm.expectRevert(CreativeAssets.NotInLog.selector);
        assets.register(alice, d, m, 1, uint64(N), proof, decoy, META); // another derivable parent
        uint256 child = assets.register(alice, d, m, 1, uint64(N), proof, parent, META);
        vm.stopPrank();
        vm.assertEq(assets.parentOf(child), parent, "the proven parent");
    }

    function testFuzz_onlyTheProvenParentIsAccepted(uint256 k) public {
        _attach(0, N, templates.NON_COMMERCIAL_REMIX());
        uint256 pick = bound(k, 12, N - 1); // a registered, derivable original that is not the parent
        uint256 other = pick == 12 ? 0 : _register(pick, alice, 0); // …or no parent at all
        _register(0, alice, 0);
        bytes32[] memory proof = _proof(1, N);
        bytes32 d = digests[1];
        bytes32 m = manifests[1];
        vm.prank(admin);
        vm.expectRevert(CreativeAssets.NotInLog.selector);
        assets.register(alice, d, m, 1, uint64(N), proof, other, META);
    }

    function test_tokenURI_namesTheMetadataJson() public {
        bytes32 digest = sha256("hello world");
        bytes32 manifest = keccak256("m");
        bytes32 leafHash = RefMerkle.leaf(abi.encodePacked(bytes4(0x01551220), digest, manifest));
        ProvenanceLog log2 = new ProvenanceLog(admin, anchorer);
        CreativeAssets assets2 = new CreativeAssets(admin, log2, royaltyReceiver, 0);
        vm.prank(anchorer);
        log2.anchor(1, leafHash, new bytes32[](0));
        vm.prank(admin);
        uint256 id = assets2.register(alice, digest, manifest, 0, 1, new bytes32[](0), 0, META);
        // the raw CIDv1 `ipfs add --cid-version 1` gives the 18-byte file {"name":"fixture"}
        vm.assertEq(
            assets2.tokenURI(id), "ipfs://bafkreigajkyy43vef5sybifj7dnf2vqnlznf5yj4ixjhey7cik7puzdhdu", "tokenURI"
        );
        vm.assertEq(assets2.cidOf(id), "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e", "asset cid");
        vm.assertEq(assets2.metadataOf(id), META, "metadata digest");
    }

    /// A file over 256 KiB has a UnixFS (dag-pb) CID: registered as such it names that CID, and the
    /// codec is bound by the log leaf, so neither entry point accepts the other codec's leaf.
    function test_registerDagPb_namesTheUnixfsCid() public {
        // ipfs add --cid-version 1 --raw-leaves of 262145 bytes 0..250 repeated (ipfs-unixfs-importer)
        string memory cid = "bafybeiexg2oqkfnj56l7fcmawswqbijt5shq4b5rg6a546uwpkqqzwjioi";
        bytes32 digest = 0x97369d0515a9ef97f28980b4ad00a133ec8f0e07b13781de7a967aa10cd92872;
        bytes32 manifest = keccak256("m");
        bytes32[] memory leaves = new bytes32[](2);
        leaves[0] = RefMerkle.leaf(abi.encodePacked(bytes4(0x01701220), digest, manifest));
        leaves[1] = RefMerkle.leaf(abi.encodePacked(bytes4(0x01551220), digest ^ bytes32(uint256(1)), manifest));
        ProvenanceLog log2 = new ProvenanceLog(admin, anchorer);
        CreativeAssets assets2 = new CreativeAssets(admin, log2, royaltyReceiver, 0);
        bytes32 root = RefMerkle.root(leaves, 2); // sha256 is a precompile call: not under a prank
        vm.prank(anchorer);
        log2.anchor(2, root, new bytes32[](0));
        bytes32[] memory proof0 = RefMerkle.inclusion(leaves, 0, 2);
        bytes32[] memory proof1 = RefMerkle.inclusion(leaves, 1, 2);

        vm.startPrank(admin);
        vm.expectRevert(CreativeAssets.NotInLog.selector); // the dag-pb leaf is not a raw CID's
        assets2.register(alice, digest, manifest, 0, 2, proof0, 0, META);
        vm.expectRevert(CreativeAssets.NotInLog.selector); // nor the raw leaf a dag-pb CID's
        assets2.registerDagPb(alice, digest ^ bytes32(uint256(1)), manifest, 1, 2, proof1, 0, META);
        uint256 id = assets2.registerDagPb(alice, digest, manifest, 0, 2, proof0, 0, META);
        uint256 raw = assets2.register(alice, digest ^ bytes32(uint256(1)), manifest, 1, 2, proof1, 0, META);
        vm.stopPrank();

        vm.assertEq(id, uint256(digest), "token id = digest");
        vm.assertEq(assets2.cidOf(id), cid, "dag-pb cid");
        bytes memory rawCid = abi.encodePacked(bytes4(0x01551220), bytes32(raw));
        vm.assertEq(assets2.cidOf(raw), string(abi.encodePacked("b", RefBase32.encode(rawCid))), "raw cid");
    }

    function testFuzz_cidMatchesReferenceBase32(bytes32 digest) public view {
        bytes memory cid = abi.encodePacked(bytes4(0x01551220), digest);
        vm.assertEq(assets.cidOf(uint256(digest)), string(abi.encodePacked("b", RefBase32.encode(cid))), "base32");
    }

    function testFuzz_registerAnyLeaf(uint256 i, uint256 wrong) public {
        i = bound(i, 13, N - 1); // the originals after the fixture's derivation chains
        wrong = bound(wrong, 0, N - 1);
        bytes32[] memory proof = _proof(i, N);
        bytes32 d = digests[i];
        bytes32 m = manifests[i];
        if (wrong != i) {
            vm.prank(admin);
            vm.expectRevert(CreativeAssets.NotInLog.selector);
            assets.register(alice, d, m, uint64(wrong), uint64(N), proof, 0, META);
        }
        vm.prank(admin);
        uint256 id = assets.register(alice, d, m, uint64(i), uint64(N), proof, 0, META);
        vm.assertEq(uint256(assets.leafIndexOf(id)), i, "leaf index");
    }

    function test_RevertWhen_alreadyRegistered() public {
        uint256 id = _register(20, alice, 0);
        bytes32[] memory proof = _proof(20, N);
        bytes32 d = digests[20];
        bytes32 m = manifests[20];
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(CreativeAssets.AlreadyRegistered.selector, id));
        assets.register(alice, d, m, 20, uint64(N), proof, 0, META);
    }

    function test_RevertWhen_notInLog() public {
        bytes32[] memory proof = _proof(2, N);
        bytes32 d = digests[2];
        bytes32 m = manifests[2];
        vm.startPrank(admin);
        vm.expectRevert(CreativeAssets.NotInLog.selector);
        assets.register(alice, d, keccak256("forged manifest"), 2, uint64(N), proof, 0, META);
        vm.expectRevert(CreativeAssets.NotInLog.selector);
        assets.register(alice, d, m, 2, uint64(N - 1), proof, 0, META); // unanchored size
        vm.expectRevert(CreativeAssets.NotInLog.selector);
        assets.register(alice, d, m, 2, uint64(N), new bytes32[](0), 0, META);
        vm.stopPrank();
    }

    function test_RevertWhen_zeroDigest() public {
        vm.prank(admin);
        vm.expectRevert(CreativeAssets.ZeroDigest.selector);
        assets.register(alice, bytes32(0), bytes32(0), 0, uint64(N), new bytes32[](0), 0, META);
    }

    function test_RevertWhen_unknownParent() public {
        bytes32[] memory proof = _proof(2, N);
        bytes32 d = digests[2];
        bytes32 m = manifests[2];
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(CreativeAssets.UnknownParent.selector, 42));
        assets.register(alice, d, m, 2, uint64(N), proof, 42, META);
    }

    function test_derivativeAllowedByParentTerms() public {
        uint256 parent = _register(0, alice, 0);
        _attach(0, 1, templates.NON_COMMERCIAL_REMIX());
        uint256 child = _register(1, alice, parent);
        vm.assertEq(assets.parentOf(child), parent, "parent");
    }

    function test_RevertWhen_derivativeNotAllowed() public {
        uint256 parent = _register(0, alice, 0);
        bytes32[] memory proof = _proof(1, N);
        bytes32 d = digests[1];
        bytes32 m = manifests[1];
        // no terms attached at all
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(CreativeAssets.DerivativeNotAllowed.selector, parent));
        assets.register(alice, d, m, 1, uint64(N), proof, parent, META);
        // only terms without derivatives
        _attach(0, 1, templates.COMMERCIAL_USE());
        _attach(0, 1, templates.COMMERCIAL_NO_AI());
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(CreativeAssets.DerivativeNotAllowed.selector, parent));
        assets.register(alice, d, m, 1, uint64(N), proof, parent, META);
    }

    function test_RevertWhen_derivativeGuardUnsetOrRefuses() public {
        uint256 parent = _register(0, alice, 0);
        _attach(0, 1, templates.NON_COMMERCIAL_REMIX());
        bytes32[] memory proof = _proof(1, N);
        bytes32 d = digests[1];
        bytes32 m = manifests[1];
        RejectAllGuard rejecter = new RejectAllGuard();
        vm.startPrank(admin);
        assets.setDerivativeGuard(rejecter);
        vm.expectRevert(abi.encodeWithSelector(CreativeAssets.DerivativeNotAllowed.selector, parent));
        assets.register(alice, d, m, 1, uint64(N), proof, parent, META);
        assets.setDerivativeGuard(IDerivativeGuard(address(0)));
        vm.expectRevert(abi.encodeWithSelector(CreativeAssets.DerivativeNotAllowed.selector, parent));
        assets.register(alice, d, m, 1, uint64(N), proof, parent, META);
        vm.stopPrank();
        vm.assertEq(address(assets.derivativeGuard()), address(0), "guard unset");
    }

    function test_RevertWhen_unauthorized() public {
        bytes32[] memory proof = _proof(0, N);
        bytes32 d = digests[0];
        bytes32 m = manifests[0];
        bytes32 role = assets.REGISTRAR_ROLE();
        vm.prank(mallory);
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, mallory, role));
        assets.register(mallory, d, m, 0, uint64(N), proof, 0, META);
        bytes32 adminRole = assets.DEFAULT_ADMIN_ROLE();
        vm.prank(mallory);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, mallory, adminRole)
        );
        assets.setDerivativeGuard(IDerivativeGuard(address(0)));
    }

    function test_RevertWhen_unknownAssetViews() public {
        uint256 id = _tokenId(5);
        vm.expectRevert(abi.encodeWithSelector(CreativeAssets.UnknownAsset.selector, id));
        assets.leafIndexOf(id);
        vm.expectRevert(abi.encodeWithSelector(CreativeAssets.UnknownAsset.selector, id));
        assets.parentOf(id);
        vm.expectRevert(abi.encodeWithSelector(CreativeAssets.UnknownAsset.selector, id));
        assets.transferCountOf(id);
        vm.expectRevert(abi.encodeWithSelector(IERC721Errors.ERC721NonexistentToken.selector, id));
        assets.tokenURI(id);
    }

    /// @notice The packed token word keeps ERC-721 semantics: a single-token approval lets its
    /// spender move the token once and is cleared by the move; balances follow every transfer;
    /// the transfer count rises with each transfer, not with the mint; the leaf survives transfers.
    function test_packedWordKeepsErc721Semantics() public {
        address bob = makeAddr("bob");
        address carol = makeAddr("carol");
        uint256 id = _register(13, alice, 0);
        uint256 other = _register(14, alice, 0);
        vm.assertEq(assets.balanceOf(alice), 2, "two minted");
        vm.assertEq(assets.transferCountOf(id), 0, "a mint is no transfer");
        vm.assertEq(assets.getApproved(id), address(0), "no approval yet");
        vm.prank(alice);
        assets.approve(bob, id);
        vm.assertEq(assets.getApproved(id), bob, "approved");
        vm.prank(bob);
        assets.transferFrom(alice, carol, id);
        vm.assertEq(assets.getApproved(id), address(0), "the move cleared the approval");
        vm.assertEq(assets.ownerOf(id), carol, "moved");
        vm.assertEq(assets.balanceOf(alice), 1, "alice one left");
        vm.assertEq(assets.balanceOf(carol), 1, "carol one");
        vm.assertEq(assets.transferCountOf(id), 1, "one transfer");
        vm.assertEq(uint256(assets.leafIndexOf(id)), 13, "leaf kept");
        vm.assertEq(assets.transferCountOf(other), 0, "the other token untouched");
        // the cleared approval no longer moves it
        vm.expectRevert(abi.encodeWithSelector(IERC721Errors.ERC721InsufficientApproval.selector, bob, id));
        vm.prank(bob);
        assets.transferFrom(carol, bob, id);
        // an approval revoked by approving address(0) is gone too
        vm.prank(carol);
        assets.approve(bob, id);
        vm.prank(carol);
        assets.approve(address(0), id);
        vm.expectRevert(abi.encodeWithSelector(IERC721Errors.ERC721InsufficientApproval.selector, bob, id));
        vm.prank(bob);
        assets.transferFrom(carol, bob, id);
        vm.expectRevert(abi.encodeWithSelector(IERC721Errors.ERC721InvalidOwner.selector, address(0)));
        assets.balanceOf(address(0));
    }

    /// @notice royaltyInfo names the split receiver of the token's leaf (asked by leaf), the
    /// default receiver for a token without a split or not registered.
    function test_royaltyReceiverByLeaf() public {
        uint256 id = _register(10, alice, 0);
        vm.prank(admin);
        assets.setRoyaltyRouter(vault);
        (address receiver,) = assets.royaltyInfo(id, 10_000);
        vm.assertEq(receiver, royaltyReceiver, "no split yet: default receiver");
        address[] memory r = new address[](1);
        r[0] = alice;
        uint32[] memory sh = new uint32[](1);
        sh[0] = 10_000;
        uint256 split = vault.createSplit(r, sh);
        vm.prank(admin);
        vault.assignSplit(uint64(N), 10, 11, split);
        (receiver,) = assets.royaltyInfo(id, 10_000);
        vm.assertEq(receiver, vault.receiverOf(split), "the split assigned later is found by leaf");
        vm.assertEq(vault.royaltyReceiverOfLeaf(10), vault.receiverOf(split), "leaf 10");
        vm.assertEq(vault.royaltyReceiverOfLeaf(11), address(0), "leaf 11 has none");
        (receiver,) = assets.royaltyInfo(_tokenId(0), 10_000);
        vm.assertEq(receiver, royaltyReceiver, "unregistered token: default receiver");
    }

    function test_royaltyAndInterfaces() public {
        uint256 id = _register(0, alice, 0);
        (address receiver, uint256 amount) = assets.royaltyInfo(id, 10_000);
        vm.assertEq(receiver, royaltyReceiver, "receiver");
        vm.assertEq(amount, 500, "5%");
        vm.prank(admin);
        assets.setDefaultRoyalty(alice, 250);
        (receiver, amount) = assets.royaltyInfo(id, 10_000);
        vm.assertEq(receiver, alice, "new receiver");
        vm.assertEq(amount, 250, "2.5%");
        vm.assertTrue(assets.supportsInterface(type(IERC721).interfaceId), "721");
        vm.assertTrue(assets.supportsInterface(type(IERC2981).interfaceId), "2981");
        vm.assertTrue(assets.supportsInterface(type(IAccessControl).interfaceId), "AccessControl");
        vm.assertTrue(assets.supportsInterface(type(IERC721Metadata).interfaceId), "721 metadata");
        vm.assertTrue(assets.supportsInterface(type(IERC165).interfaceId), "165");
        vm.assertFalse(assets.supportsInterface(0xffffffff), "0xffffffff (ERC-165 says never)");
        vm.assertFalse(assets.supportsInterface(type(IERC1155).interfaceId), "not 1155");
    }

    /// tokenURI is the metadata JSON's raw CID, whatever its digest, never the asset's own CID.
    function testFuzz_tokenURI_isTheMetadataCid(uint256 i, bytes32 meta) public {
        vm.assume(meta != bytes32(0));
        i = bound(i, 13, N - 1); // the originals after the fixture's derivation chains
        (bytes32 d, bytes32 m, bytes32[] memory proof) = (digests[i], manifests[i], _proof(i, N));
        vm.prank(admin);
        uint256 id = assets.register(alice, d, m, uint64(i), uint64(N), proof, 0, meta);
        bytes memory cid = abi.encodePacked(bytes4(0x01551220), meta);
        vm.assertEq(assets.tokenURI(id), string(abi.encodePacked("ipfs://b", RefBase32.encode(cid))), "tokenURI");
        vm.assertEq(assets.metadataOf(id), meta, "metadataOf");
    }

    /// A token without metadata would have a tokenURI naming nothing: refused by name.
    function test_RevertWhen_metadataIsZero() public {
        (bytes32 d, bytes32 m, bytes32[] memory proof) = (digests[0], manifests[0], _proof(0, N));
        vm.prank(admin);
        vm.expectRevert(CreativeAssets.ZeroMetadata.selector);
        assets.register(alice, d, m, 0, uint64(N), proof, 0, bytes32(0));
        vm.prank(admin);
        vm.expectRevert(CreativeAssets.ZeroMetadata.selector);
        assets.registerDagPb(alice, d, m, 0, uint64(N), proof, 0, bytes32(0));
    }

    /// The metadata is fixed at registration: registering again (with other metadata) reverts and
    /// leaves the first one, and metadataOf of an unknown token reverts by name.
    function test_metadataIsImmutable() public {
        uint256 id = _register(0, alice, 0);
        (bytes32 d, bytes32 m, bytes32[] memory proof) = (digests[0], manifests[0], _proof(0, N));
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(CreativeAssets.AlreadyRegistered.selector, id));
        assets.register(alice, d, m, 0, uint64(N), proof, 0, keccak256("other metadata"));
        vm.assertEq(assets.metadataOf(id), META, "unchanged");
        vm.expectRevert(abi.encodeWithSelector(CreativeAssets.UnknownAsset.selector, _tokenId(2)));
        assets.metadataOf(_tokenId(2));
    }

    /// The mint's receiver hook already sees the final tokenURI (metadata is written before the mint).
    function test_receiverHookSeesTheMetadata() public {
        URIPeek peek = new URIPeek();
        uint256 id = _register(0, address(peek), 0);
        vm.assertEq(peek.seen(), assets.tokenURI(id), "tokenURI during onERC721Received");
        vm.assertEq(peek.seen(), "ipfs://bafkreigajkyy43vef5sybifj7dnf2vqnlznf5yj4ixjhey7cik7puzdhdu", "final");
    }
}
