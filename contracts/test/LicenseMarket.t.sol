// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IERC1155} from "@openzeppelin/contracts/token/ERC1155/IERC1155.sol";
import {IERC1155MetadataURI} from "@openzeppelin/contracts/token/ERC1155/extensions/IERC1155MetadataURI.sol";
import {IERC1155Receiver} from "@openzeppelin/contracts/token/ERC1155/IERC1155Receiver.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {Fixture} from "./utils/Fixture.sol";
import {RefBase32} from "./utils/RefBase32.sol";
import {AnchoredRanges} from "../src/AnchoredRanges.sol";
import {CreativeAssets} from "../src/CreativeAssets.sol";
import {LicenseMarket} from "../src/LicenseMarket.sol";
import {LicenseTemplates} from "../src/LicenseTemplates.sol";

/// @notice License receiver that tries to buy again from inside the ERC-1155 acceptance hook.
contract ReentrantLicensee is IERC1155Receiver {
    LicenseMarket internal immutable market;
    uint256 internal tokenId;
    uint256 internal termsId;
    bytes4 public reentryError;

    constructor(LicenseMarket m) {
        market = m;
    }

    function arm(uint256 t, uint256 terms) external {
        tokenId = t;
        termsId = terms;
    }

    function onERC1155Received(address, address, uint256, uint256, bytes calldata) external returns (bytes4) {
        if (reentryError == bytes4(0)) {
            try market.buyLicense(tokenId, termsId, 1, address(this)) {}
            catch (bytes memory reason) {
                reentryError = bytes4(reason);
            }
        }
        return this.onERC1155Received.selector;
    }

    function onERC1155BatchReceived(address, address, uint256[] calldata, uint256[] calldata, bytes calldata)
        external
        pure
        returns (bytes4)
    {
        return this.onERC1155BatchReceived.selector;
    }

    function supportsInterface(bytes4 id) external pure returns (bool) {
        return id == type(IERC1155Receiver).interfaceId;
    }
}

contract LicenseMarketTest is Fixture {
    address internal alice = makeAddr("alice");
    address internal bob = makeAddr("bob");
    address internal carol = makeAddr("carol");
    address internal licensee = makeAddr("licensee");

    uint256 internal commercialUse;
    uint256 internal commercialRemix;
    uint256 internal nonCommercialRemix;

    function setUp() public override {
        super.setUp();
        _anchor(0, N);
        commercialUse = templates.COMMERCIAL_USE();
        commercialRemix = templates.COMMERCIAL_REMIX();
        nonCommercialRemix = templates.NON_COMMERCIAL_REMIX();
        vm.deal(buyer, 100 ether);
    }

    function _sellable(uint256 i, address owner, uint256 termsId) internal returns (uint256 tokenId) {
        _attach(i, i + 1, termsId);
        _assignSplit(i, i + 1, _split1(owner));
        tokenId = _register(i, owner, 0);
    }

    // ---------------------------------------------------------------- attachTerms

    function test_attachTermsAndLookup() public {
        vm.expectEmit(true, true, false, true, address(market));
        emit LicenseMarket.TermsAttached(commercialUse, uint64(N), 0, 8);
        _attach(0, 8, commercialUse);
        _attach(0, 8, commercialRemix); // same range: adds terms
        _attach(10, 12, nonCommercialRemix);
        uint256[] memory t = market.termsOfLeaf(7);
        vm.assertEq(t.length, 2, "two terms");
        vm.assertEq(t[0], commercialUse, "first");
        vm.assertEq(t[1], commercialRemix, "second");
        vm.assertEq(market.termsOfLeaf(8).length, 0, "gap");
        vm.assertEq(market.termsOfLeaf(11)[0], nonCommercialRemix, "third range");
        vm.assertEq(market.termsOfLeaf(12).length, 0, "after");
        uint256 id = _register(0, alice, 0); // an original inside the first two ranges
        vm.assertEq(market.termsOfToken(id).length, 2, "by token");
        vm.assertTrue(market.isAttached(id, commercialRemix), "attached");
        vm.assertFalse(market.isAttached(id, nonCommercialRemix), "not attached");
    }

    /// A campaign published after a later one: its range goes into the gap before, keeps its own
    /// terms, and a second terms id added to the inserted range lands on it, not on its neighbour.
    function test_attachTermsIntoAGap() public {
        vm.startPrank(admin);
        market.attachTerms(uint64(N), 12, 20, commercialUse);
        market.attachTerms(uint64(N), 0, 12, commercialRemix);
        market.attachTerms(uint64(N), 0, 12, nonCommercialRemix);
        vm.expectRevert(abi.encodeWithSelector(AnchoredRanges.RangeOverlap.selector, 11, 13));
        market.attachTerms(uint64(N), 11, 13, commercialUse);
        vm.stopPrank();
        vm.assertEq(market.rangeAt(0).fromIndex, 0, "inserted first");
        uint256[] memory first = market.termsOfLeaf(11);
        vm.assertEq(first.length, 2, "two terms on the inserted range");
        vm.assertEq(first[0], commercialRemix, "its own terms");
        vm.assertEq(first[1], nonCommercialRemix, "added to it");
        uint256[] memory later = market.termsOfLeaf(12);
        vm.assertEq(later.length, 1, "the later range untouched");
        vm.assertEq(later[0], commercialUse, "the later range's terms");
    }

    /// One transaction per checkpoint: every range of a checkpoint attached through Multicall.
    function test_attachRangesInOneMulticall() public {
        bytes[] memory calls = new bytes[](3);
        calls[0] = abi.encodeCall(LicenseMarket.attachTerms, (uint64(N), 0, 12, commercialRemix));
        calls[1] = abi.encodeCall(LicenseMarket.attachTerms, (uint64(N), 12, 20, commercialUse));
        calls[2] = abi.encodeCall(LicenseMarket.attachTerms, (uint64(N), 20, 21, nonCommercialRemix));
        vm.prank(admin);
        market.multicall(calls);
        vm.assertEq(market.termsOfLeaf(11)[0], commercialRemix, "first range");
        vm.assertEq(market.termsOfLeaf(12)[0], commercialUse, "second range");
        vm.assertEq(market.termsOfLeaf(20)[0], nonCommercialRemix, "third range");
        vm.assertEq(market.rangeCount(), 3, "three ranges");
        // the batch is atomic and keeps the caller: an outsider's multicall is refused as a whole
        calls = new bytes[](1);
        calls[0] = abi.encodeCall(LicenseMarket.attachTerms, (uint64(N), 21, 22, commercialUse));
        bytes32 role = market.ATTACHER_ROLE();
        vm.prank(mallory);
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, mallory, role));
        market.multicall(calls);
    }

    function test_RevertWhen_attachTermsErrors() public {
        vm.startPrank(admin);
        vm.expectRevert(abi.encodeWithSelector(LicenseMarket.UnknownTerms.selector, 0));
        market.attachTerms(uint64(N), 0, 4, 0);
        vm.expectRevert(abi.encodeWithSelector(LicenseMarket.UnknownTerms.selector, 99));
        market.attachTerms(uint64(N), 0, 4, 99);
        vm.expectRevert(abi.encodeWithSelector(AnchoredRanges.InvalidRange.selector, 4, 4));
        market.attachTerms(uint64(N), 4, 4, commercialUse);
        vm.expectRevert(abi.encodeWithSelector(AnchoredRanges.RangeNotAnchored.selector, uint64(N), uint64(N + 1)));
        market.attachTerms(uint64(N), 0, uint64(N + 1), commercialUse);
        vm.expectRevert(abi.encodeWithSelector(AnchoredRanges.RangeNotAnchored.selector, 8, 4));
        market.attachTerms(8, 0, 4, commercialUse);
        market.attachTerms(uint64(N), 0, 4, commercialUse);
        vm.expectRevert(abi.encodeWithSelector(LicenseMarket.TermsAlreadyAttached.selector, commercialUse));
        market.attachTerms(uint64(N), 0, 4, commercialUse);
        vm.expectRevert(abi.encodeWithSelector(AnchoredRanges.RangeOverlap.selector, 0, 5));
        market.attachTerms(uint64(N), 0, 5, commercialRemix);
        vm.expectRevert(abi.encodeWithSelector(AnchoredRanges.RangeOverlap.selector, 2, 4));
        market.attachTerms(uint64(N), 2, 4, commercialRemix);
        vm.stopPrank();
        bytes32 role = market.ATTACHER_ROLE();
        vm.prank(mallory);
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, mallory, role));
        market.attachTerms(uint64(N), 4, 8, commercialUse);
    }

    function test_RevertWhen_tooManyTermsOnRange() public {
        uint256 max = market.MAX_TERMS_PER_RANGE();
        for (uint256 i = 0; i < max; ++i) {
            uint256 id = templates.registerTerms(_terms(false, 0, i + 1, address(0), 0));
            _attach(0, 4, id);
        }
        uint256 extra = templates.registerTerms(_terms(false, 0, 999, address(0), 0));
        vm.prank(admin);
        vm.expectRevert(LicenseMarket.TooManyTerms.selector);
        market.attachTerms(uint64(N), 0, 4, extra);
    }

    // ---------------------------------------------------------------- buyLicense

    function test_buyLicenseEth() public {
        uint256 t = _sellable(0, alice, commercialUse);
        uint256 licenseId = uint256(keccak256(abi.encode(t, commercialUse)));
        vm.expectEmit(true, true, true, true, address(market));
        emit LicenseMarket.LicensePurchased(t, commercialUse, licenseId, buyer, licensee, 3, address(0), 3 * STANDARD_FEE);
        vm.prank(buyer);
        uint256 got = market.buyLicense{value: 3 * STANDARD_FEE}(t, commercialUse, 3, licensee);
        vm.assertEq(got, licenseId, "license id");
        vm.assertEq(market.licenseIdOf(t, commercialUse), licenseId, "licenseIdOf");
        vm.assertEq(market.balanceOf(licensee, licenseId), 3, "minted");
        vm.assertEq(vault.claimable(alice, address(0)), 3 * STANDARD_FEE, "owner credited");
        vm.assertEq(address(vault).balance, 3 * STANDARD_FEE, "vault holds fee");
        vm.assertEq(address(market).balance, 0, "market holds nothing");
        vm.prank(alice);
        vault.claim(address(0));
        vm.assertEq(alice.balance, 3 * STANDARD_FEE, "claimed");
    }

    function test_buyFreeLicenseNeedsNoSplit() public {
        _attach(0, 1, nonCommercialRemix);
        uint256 t = _register(0, alice, 0);
        vm.prank(buyer);
        uint256 licenseId = market.buyLicense(t, nonCommercialRemix, 1, licensee);
        vm.assertEq(market.balanceOf(licensee, licenseId), 1, "minted");
    }

    function test_RevertWhen_buyLicenseErrors() public {
        uint256 t = _sellable(0, alice, commercialUse);
        uint256 untermed = _register(20, alice, 0);
        vm.startPrank(buyer);
        vm.expectRevert(abi.encodeWithSelector(LicenseMarket.FeeTooLow.selector, 2 * STANDARD_FEE, STANDARD_FEE));
        market.buyLicense{value: STANDARD_FEE}(t, commercialUse, 2, licensee);
        vm.expectRevert(abi.encodeWithSelector(LicenseMarket.ExcessPayment.selector, STANDARD_FEE, STANDARD_FEE + 1));
        market.buyLicense{value: STANDARD_FEE + 1}(t, commercialUse, 1, licensee);
        vm.expectRevert(abi.encodeWithSelector(LicenseMarket.TermsNotAttached.selector, t, commercialRemix));
        market.buyLicense{value: STANDARD_FEE}(t, commercialRemix, 1, licensee);
        vm.expectRevert(abi.encodeWithSelector(LicenseMarket.TermsNotAttached.selector, untermed, commercialUse));
        market.buyLicense{value: STANDARD_FEE}(untermed, commercialUse, 1, licensee);
        vm.expectRevert(abi.encodeWithSelector(LicenseMarket.UnknownToken.selector, 42));
        market.buyLicense{value: STANDARD_FEE}(42, commercialUse, 1, licensee);
        vm.expectRevert(LicenseMarket.ZeroAmount.selector);
        market.buyLicense(t, commercialUse, 0, licensee);
        vm.stopPrank();
    }

    function test_RevertWhen_termsExpired() public {
        uint64 expiry = uint64(block.timestamp + 1 days);
        uint256 termsId = templates.registerTerms(_terms(true, 500, 1 ether, address(0), expiry));
        uint256 t = _sellable(0, alice, termsId);
        vm.prank(buyer);
        market.buyLicense{value: 1 ether}(t, termsId, 1, licensee); // still valid
        vm.assertTrue(market.isDerivable(t), "derivable before expiry");
        vm.warp(expiry);
        vm.prank(buyer);
        vm.expectRevert(abi.encodeWithSelector(LicenseMarket.TermsExpired.selector, expiry));
        market.buyLicense{value: 1 ether}(t, termsId, 1, licensee);
        vm.assertFalse(market.isDerivable(t), "expired terms allow no derivatives");
        vm.expectRevert(abi.encodeWithSelector(LicenseMarket.DerivativeNotAllowed.selector, t));
        market.checkDerivable(t);
    }

    function test_buyLicenseErc20() public {
        uint256 termsId = templates.registerTerms(_terms(false, 0, 250e6, address(usd), 0));
        uint256 t = _sellable(0, alice, termsId);
        usd.mint(buyer, 1000e6);
        vm.prank(buyer);
        usd.approve(address(market), 500e6);
        vm.prank(buyer);
        vm.expectRevert(abi.encodeWithSelector(LicenseMarket.ExcessPayment.selector, 0, 1));
        market.buyLicense{value: 1}(t, termsId, 2, licensee);
        vm.prank(buyer);
        uint256 licenseId = market.buyLicense(t, termsId, 2, licensee);
        vm.assertEq(market.balanceOf(licensee, licenseId), 2, "minted");
        vm.assertEq(usd.balanceOf(buyer), 500e6, "fee taken");
        vm.assertEq(usd.balanceOf(address(vault)), 500e6, "into the vault");
        vm.assertEq(usd.balanceOf(address(market)), 0, "nothing left in market");
        vm.assertEq(usd.allowance(address(market), address(vault)), 0, "allowance used up");
        vm.assertEq(vault.claimable(alice, address(usd)), 500e6, "owner credited");
        vm.prank(alice);
        vault.claim(address(usd));
        vm.assertEq(usd.balanceOf(alice), 500e6, "claimed");
        // no allowance left: the ERC-20 pull fails
        vm.prank(buyer);
        vm.expectRevert();
        market.buyLicense(t, termsId, 1, licensee);
    }

    function test_reentrantBuyIsBlocked() public {
        uint256 t = _sellable(0, alice, commercialUse);
        ReentrantLicensee attacker = new ReentrantLicensee(market);
        attacker.arm(t, commercialUse);
        vm.deal(address(attacker), 1 ether);
        vm.prank(buyer);
        uint256 licenseId = market.buyLicense{value: STANDARD_FEE}(t, commercialUse, 1, address(attacker));
        vm.assertEq(attacker.reentryError(), ReentrancyGuard.ReentrancyGuardReentrantCall.selector, "blocked");
        vm.assertEq(market.balanceOf(address(attacker), licenseId), 1, "only the outer purchase");
    }

    // ---------------------------------------------------------------- derivatives and LAP

    function test_derivativeGate() public {
        uint256 p = _sellable(0, alice, commercialUse);
        vm.assertFalse(market.isDerivable(p), "commercial use: no derivatives");
        vm.assertFalse(market.isDerivable(12345), "unregistered");
        vm.expectRevert(abi.encodeWithSelector(LicenseMarket.DerivativeNotAllowed.selector, p));
        market.checkDerivable(p);
        _attach(0, 1, commercialRemix);
        vm.assertTrue(market.isDerivable(p), "remix terms added");
        market.checkDerivable(p);
        uint256 c = _register(1, bob, p);
        vm.assertEq(assets.parentOf(c), p, "derivative registered");
    }

    /// @dev A <- B <- C. A offers commercial remix (10%), B a 20% remix, C commercial use.
    /// A sale of C pays B 20% and A 10% (absolute, LAP); a sale of B pays A 10%.
    function test_lapUpstreamThreeLevels() public {
        uint256 remix20 = templates.registerTerms(_terms(true, 2000, STANDARD_FEE, address(0), 0));
        uint256 a = _sellable(0, alice, commercialRemix);
        _attach(1, 2, remix20);
        _assignSplit(1, 2, _split1(bob));
        uint256 b = _register(1, bob, a);
        _attach(2, 3, commercialUse);
        _assignSplit(2, 3, _split1(carol));
        uint256 c = _register(2, carol, b);

        uint16[] memory stackC = market.upstreamBpsOf(c);
        vm.assertEq(stackC.length, 2, "two ancestors");
        vm.assertEq(uint256(stackC[0]), 2000, "parent B");
        vm.assertEq(uint256(stackC[1]), 1000, "grandparent A");
        vm.assertEq(market.upstreamBpsOf(b).length, 1, "B has one ancestor");
        vm.assertEq(market.upstreamBpsOf(a).length, 0, "A is a root");
        vm.assertEq(uint256(market.revShareOf(c)), 0, "C allows no derivatives");

        vm.prank(buyer);
        market.buyLicense{value: 10 * STANDARD_FEE}(c, commercialUse, 10, licensee);
        uint256 fee = 10 * STANDARD_FEE;
        vm.assertEq(vault.claimable(bob, address(0)), fee * 2000 / 10_000, "B: 20%");
        vm.assertEq(vault.claimable(alice, address(0)), fee * 1000 / 10_000, "A: 10%");
        vm.assertEq(vault.claimable(carol, address(0)), fee * 7000 / 10_000, "C: the rest");

        vm.prank(buyer);
        market.buyLicense{value: STANDARD_FEE}(b, remix20, 1, licensee);
        vm.assertEq(vault.claimable(alice, address(0)), fee / 10 + STANDARD_FEE / 10, "A: 10% of B's sale");
        vm.assertEq(vault.claimable(bob, address(0)), fee / 5 + STANDARD_FEE * 9 / 10, "B keeps 90% of its own sale");
        vm.assertEq(vault.totalOwed(address(0)), address(vault).balance, "conserved");
    }

    function test_lapDepthIsBoundedAndStackClamped() public {
        uint256 depth = vault.MAX_UPSTREAM_DEPTH();
        uint256 len = depth + 2;
        _attach(0, len, commercialRemix);
        address[] memory owners = new address[](len);
        uint256 parent = 0;
        for (uint256 i = 0; i < len; ++i) {
            owners[i] = address(uint160(0x1000 + i));
            _assignSplit(i, i + 1, _split1(owners[i]));
            parent = _register(i, owners[i], parent);
        }
        uint16[] memory stack = market.upstreamBpsOf(parent);
        vm.assertEq(stack.length, depth, "capped at MAX_UPSTREAM_DEPTH");
        vm.prank(buyer);
        market.buyLicense{value: STANDARD_FEE}(parent, commercialRemix, 1, licensee);
        vm.assertEq(vault.claimable(owners[0], address(0)), 0, "beyond depth: unpaid");
        vm.assertEq(vault.claimable(owners[1], address(0)), STANDARD_FEE / 10, "8th ancestor paid");
        vm.assertEq(vault.claimable(owners[len - 2], address(0)), STANDARD_FEE / 10, "parent paid");
        vm.assertEq(vault.claimable(owners[len - 1], address(0)), STANDARD_FEE - depth * (STANDARD_FEE / 10), "rest");

        // a stack that would exceed 100% is clamped
        uint256 greedy = templates.registerTerms(_terms(true, 6000, 0, address(0), 0));
        _attach(len, len + 2, greedy);
        uint256 g1 = _register(len, owners[0], 0);
        uint256 g2 = _register(len + 1, owners[1], g1);
        uint256 g3 = _register(len + 2, owners[2], g2);
        uint16[] memory clamped = market.upstreamBpsOf(g3);
        vm.assertEq(uint256(clamped[0]), 6000, "parent");
        vm.assertEq(uint256(clamped[1]), 4000, "clamped to 100%");
    }

    function testFuzz_lapChainConservesFee(uint16 revB, uint16 revA, uint8 amount) public {
        revA = uint16(bound(revA, 0, 10_000));
        revB = uint16(bound(revB, 0, 10_000));
        uint256 n = bound(amount, 1, 20);
        uint256 termsA = templates.registerTerms(_terms(true, revA, 1 ether, address(0), 0));
        uint256 termsB = templates.registerTerms(_terms(true, revB, 1 ether + 1, address(0), 0));
        uint256 a = _sellable(0, alice, termsA);
        _attach(1, 2, termsB);
        _assignSplit(1, 2, _split1(bob));
        uint256 b = _register(1, bob, a);
        _attach(2, 3, commercialUse);
        _assignSplit(2, 3, _split1(carol));
        uint256 c = _register(2, carol, b);
        uint256 fee = n * STANDARD_FEE;
        vm.prank(buyer);
        market.buyLicense{value: fee}(c, commercialUse, n, licensee);
        uint256 bpsA = revB + revA > 10_000 ? 10_000 - revB : revA;
        vm.assertEq(vault.claimable(bob, address(0)), fee * revB / 10_000, "B");
        vm.assertEq(vault.claimable(alice, address(0)), fee * bpsA / 10_000, "A (clamped)");
        vm.assertEq(
            vault.claimable(alice, address(0)) + vault.claimable(bob, address(0)) + vault.claimable(carol, address(0)),
            fee,
            "no wei lost or created"
        );
    }

    function test_supportsInterface() public view {
        vm.assertTrue(market.supportsInterface(type(IERC1155).interfaceId), "1155");
        vm.assertTrue(market.supportsInterface(type(IAccessControl).interfaceId), "AccessControl");
        vm.assertTrue(market.supportsInterface(type(IERC1155MetadataURI).interfaceId), "1155 metadata uri");
        vm.assertFalse(market.supportsInterface(0xffffffff), "0xffffffff");
    }

    /// EIP-1155: uri(id) MUST point at JSON; before publication it is the {id} template inside
    /// the empty UnixFS folder (was "": a metadata interface advertised with no metadata).
    function test_uri_isTheIdTemplateOfTheEmptyFolder() public view {
        vm.assertEq(
            market.uri(0), "ipfs://bafybeiczsscdsbs7ffqz55asqdf3smv6klcw3gofszvwlyarci47bgf354/{id}.json", "uri"
        );
        vm.assertEq(market.metadataRoot(), sha256(hex"0a020801"), "empty folder root");
    }

    /// The folder the publisher names is the dag-pb CID of its root, the same template for every id.
    function testFuzz_uri_templateOfThePublishedFolder(bytes32 root, uint256 id) public {
        vm.assume(root != bytes32(0));
        string memory want =
            string(abi.encodePacked("ipfs://b", RefBase32.encode(abi.encodePacked(bytes4(0x01701220), root)), "/{id}.json"));
        vm.expectEmit(true, true, true, true, address(market));
        emit LicenseMarket.MetadataRootSet(root, want);
        vm.prank(admin);
        market.setMetadataRoot(root);
        vm.assertEq(market.uri(id), want, "uri");
        vm.assertEq(market.metadataRoot(), root, "root");
    }

    /// A known dag-pb digest gives the CID text ipfs-unixfs-importer prints for it (the 262145-byte
    /// file of CreativeAssets' test_registerDagPb_namesTheUnixfsCid).
    function test_uri_knownFolderCid() public {
        vm.prank(admin);
        market.setMetadataRoot(0x97369d0515a9ef97f28980b4ad00a133ec8f0e07b13781de7a967aa10cd92872);
        vm.assertEq(
            market.uri(7), "ipfs://bafybeiexg2oqkfnj56l7fcmawswqbijt5shq4b5rg6a546uwpkqqzwjioi/{id}.json", "uri"
        );
    }

    function test_RevertWhen_strangerOrZeroSetsTheMetadataRoot() public {
        bytes32 role = market.ATTACHER_ROLE();
        vm.prank(mallory);
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, mallory, role));
        market.setMetadataRoot(keccak256("mine"));
        vm.prank(admin);
        vm.expectRevert(LicenseMarket.ZeroMetadata.selector);
        market.setMetadataRoot(bytes32(0));
        vm.assertEq(market.metadataRoot(), sha256(hex"0a020801"), "unchanged");
    }

    function test_RevertWhen_termsOfUnknownToken() public {
        vm.expectRevert(abi.encodeWithSelector(LicenseMarket.UnknownToken.selector, 5));
        market.termsOfToken(5);
    }
}
