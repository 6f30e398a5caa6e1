// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {MarketFixture} from "./utils/MarketFixture.sol";
import {Marketplace} from "../src/Marketplace.sol";
import {CreativeAssets} from "../src/CreativeAssets.sol";

/// @notice Pays royalties the way common marketplaces do: ask ERC-2981, then a plain 2300-gas
/// `transfer` of ETH or an ERC-20 `transfer` to whatever receiver it names.
contract CommonMarketplace {
    function payEth(CreativeAssets assets, uint256 tokenId, uint256 price) external payable {
        (address receiver, uint256 royalty) = assets.royaltyInfo(tokenId, price);
        payable(receiver).transfer(royalty);
    }

    function payEthByCall(CreativeAssets assets, uint256 tokenId, uint256 price) external payable {
        (address receiver, uint256 royalty) = assets.royaltyInfo(tokenId, price);
        (bool ok,) = receiver.call{value: royalty}("");
        require(ok, "royalty call failed");
    }

    function payToken(CreativeAssets assets, uint256 tokenId, uint256 price, address token) external {
        (address receiver, uint256 royalty) = assets.royaltyInfo(tokenId, price);
        (bool ok, bytes memory ret) = token.call(abi.encodeWithSignature("transfer(address,uint256)", receiver, royalty));
        require(ok && (ret.length == 0 || abi.decode(ret, (bool))), "royalty transfer failed");
    }
}

/// @notice Sends its balance to `to` by SELFDESTRUCT (no code runs at `to`).
contract ForceSender {
    constructor(address payable to) payable {
        selfdestruct(to);
    }
}

/// @notice A payee that refuses ETH until told otherwise (pushes to it must not block a sale).
contract RefusingPayee {
    bool public accepting;

    function setAccepting(bool a) external {
        accepting = a;
    }

    function withdrawFrom(Marketplace m) external returns (uint256) {
        return m.withdraw();
    }

    receive() external payable {
        require(accepting, "refused");
    }
}

contract MarketplaceTest is MarketFixture {
    uint256 internal constant PRICE = 1 ether;

    // ----- listings -----

    function test_fillListingPaysRoyaltyFeeAndSeller() public {
        uint256 tokenId = _ownedBySeller(20);
        Marketplace.Order memory o = _listing(20, PRICE);
        bytes memory sig = _sig(SELLER_PK, mkt.hashOrder(o));
        vm.deal(buyer, PRICE);
        vm.prank(buyer);
        mkt.fillListing{value: PRICE}(o, sig, 1, buyer);

        vm.assertEq(assets.ownerOf(tokenId), buyer, "buyer owns it");
        address receiver = vault.receiverOf(splitId);
        vm.assertEq(receiver.balance, PRICE * 500 / 10_000, "5% royalty at the split receiver");
        vm.assertEq(feeTo.balance, PRICE / 100, "1% fee");
        vm.assertEq(seller.balance, PRICE - PRICE * 500 / 10_000 - PRICE / 100, "seller gets the rest");
        vm.assertEq(assets.transferCountOf(tokenId), 1, "the sale raised the transfer count that ends the listing");

        vault.flush(splitId, address(0));
        vm.assertEq(vault.claimable(alice, address(0)), PRICE * 300 / 10_000, "alice 60% of the royalty");
        vm.assertEq(vault.claimable(bob, address(0)), PRICE * 200 / 10_000, "bob 40%");
        vm.prank(alice);
        vault.claim(address(0));
        vm.assertEq(alice.balance, PRICE * 300 / 10_000, "claimed");
    }

    function test_RevertWhen_listingFilledTwice() public {
        uint256 tokenId = _ownedBySeller(20);
        Marketplace.Order memory o = _listing(20, PRICE);
        bytes memory sig = _sig(SELLER_PK, mkt.hashOrder(o));
        vm.deal(buyer, 3 * PRICE);
        vm.prank(buyer);
        mkt.fillListing{value: PRICE}(o, sig, 1, buyer);
        // the buyer hands the token back: the stale listing still must not sell it again
        vm.prank(buyer);
        assets.transferFrom(buyer, seller, tokenId);
        bytes32 h = mkt.hashOrder(o);
        vm.expectRevert(abi.encodeWithSelector(Marketplace.OrderCancelledOrStale.selector, h));
        vm.prank(buyer);
        mkt.fillListing{value: PRICE}(o, sig, 1, buyer);
    }

    /// @notice Any transfer ends a token's open listings: one the seller signed, then gave the
    /// token away and got it back, does not sell it behind their back.
    function test_RevertWhen_listingOutlivedATransfer() public {
        uint256 tokenId = _ownedBySeller(20);
        Marketplace.Order memory o = _listing(20, PRICE);
        bytes memory sig = _sig(SELLER_PK, mkt.hashOrder(o));
        vm.prank(seller);
        assets.transferFrom(seller, bob, tokenId);
        vm.prank(bob);
        assets.transferFrom(bob, seller, tokenId);
        vm.deal(buyer, PRICE);
        vm.expectRevert(abi.encodeWithSelector(Marketplace.OrderCancelledOrStale.selector, mkt.hashOrder(o)));
        vm.prank(buyer);
        mkt.fillListing{value: PRICE}(o, sig, 1, buyer);
    }

    /// @notice A resale names the token's current transfer count; one naming another count is
    /// refused (a listing cannot be made valid for a later owner's token state).
    function test_resaleNamesTheCurrentTransferCount() public {
        uint256 tokenId = _ownedBySeller(20);
        Marketplace.Order memory o = _listing(20, PRICE);
        vm.deal(bidder, PRICE);
        vm.prank(bidder);
        mkt.fillListing{value: PRICE}(o, _sig(SELLER_PK, mkt.hashOrder(o)), 1, bidder);
        vm.prank(bidder);
        assets.setApprovalForAll(address(mkt), true);
        Marketplace.Order memory r = _listing(20, PRICE);
        r.signer = bidder;
        r.salt = 99;
        uint256[3] memory counts = [uint256(0), 2, 1]; // only the current count, 1, sells
        for (uint256 i = 0; i < 3; ++i) {
            uint256 count = counts[i];
            r.termsId = count;
            bytes memory sig = _sig(BUYER_PK, mkt.hashOrder(r));
            vm.deal(alice, PRICE);
            if (count != 1) {
                vm.expectRevert(abi.encodeWithSelector(Marketplace.OrderCancelledOrStale.selector, mkt.hashOrder(r)));
            }
            vm.prank(alice);
            mkt.fillListing{value: PRICE}(r, sig, 1, alice);
        }
        vm.assertEq(assets.ownerOf(tokenId), alice, "resold once, at count 1");
        vm.assertEq(assets.transferCountOf(tokenId), 2, "two sales");
    }

    function test_RevertWhen_listingExpired() public {
        _ownedBySeller(20);
        Marketplace.Order memory o = _listing(20, PRICE);
        bytes memory sig = _sig(SELLER_PK, mkt.hashOrder(o));
        vm.warp(o.expiry);
        vm.deal(buyer, PRICE);
        vm.expectRevert(abi.encodeWithSelector(Marketplace.OrderExpired.selector, o.expiry));
        vm.prank(buyer);
        mkt.fillListing{value: PRICE}(o, sig, 1, buyer);
    }

    function test_RevertWhen_listingCancelled() public {
        _ownedBySeller(20);
        Marketplace.Order memory o = _listing(20, PRICE);
        bytes memory sig = _sig(SELLER_PK, mkt.hashOrder(o));
        Marketplace.Order[] memory list = new Marketplace.Order[](1);
        list[0] = o;
        vm.expectRevert(abi.encodeWithSelector(Marketplace.NotSigner.selector, mallory, seller));
        vm.prank(mallory);
        mkt.cancel(list);
        vm.prank(seller);
        mkt.cancel(list);
        vm.deal(buyer, PRICE);
        vm.expectRevert(abi.encodeWithSelector(Marketplace.OrderCancelledOrStale.selector, mkt.hashOrder(o)));
        vm.prank(buyer);
        mkt.fillListing{value: PRICE}(o, sig, 1, buyer);
    }

    function test_RevertWhen_counterIncremented() public {
        _ownedBySeller(20);
        _ownedBySeller(21);
        Marketplace.Order memory a = _listing(20, PRICE);
        Marketplace.Order memory b = _listing(21, PRICE);
        bytes memory sigA = _sig(SELLER_PK, mkt.hashOrder(a));
        bytes memory sigB = _sig(SELLER_PK, mkt.hashOrder(b));
        vm.prank(seller);
        mkt.incrementCounter();
        vm.deal(buyer, 2 * PRICE);
        vm.startPrank(buyer);
        vm.expectRevert(abi.encodeWithSelector(Marketplace.OrderCancelledOrStale.selector, mkt.hashOrder(a)));
        mkt.fillListing{value: PRICE}(a, sigA, 1, buyer);
        vm.expectRevert(abi.encodeWithSelector(Marketplace.OrderCancelledOrStale.selector, mkt.hashOrder(b)));
        mkt.fillListing{value: PRICE}(b, sigB, 1, buyer);
        vm.stopPrank();
    }

    function test_RevertWhen_signatureFromAnotherChain() public {
        _ownedBySeller(20);
        Marketplace.Order memory o = _listing(20, PRICE);
        bytes memory sig = _sig(SELLER_PK, mkt.hashOrder(o)); // signed for this chain
        vm.chainId(block.chainid + 1);
        vm.deal(buyer, PRICE);
        vm.expectRevert(Marketplace.InvalidSignature.selector);
        vm.prank(buyer);
        mkt.fillListing{value: PRICE}(o, sig, 1, buyer);
    }

    function test_RevertWhen_signatureForAnotherMarketplace() public {
        _ownedBySeller(20);
        Marketplace other = _deployMarket(feeTo, FEE_BPS);
        Marketplace.Order memory o = _listing(20, PRICE);
        bytes memory sig = _sig(SELLER_PK, other.hashOrder(o));
        vm.deal(buyer, PRICE);
        vm.expectRevert(Marketplace.InvalidSignature.selector);
        vm.prank(buyer);
        mkt.fillListing{value: PRICE}(o, sig, 1, buyer);
    }

    function test_RevertWhen_signerForgedOrPriceChanged() public {
        _ownedBySeller(20);
        Marketplace.Order memory o = _listing(20, PRICE);
        bytes memory forged = _sig(MALLORY_PK, mkt.hashOrder(o));
        bytes memory sig = _sig(SELLER_PK, mkt.hashOrder(o));
        vm.deal(buyer, PRICE);
        vm.startPrank(buyer);
        vm.expectRevert(Marketplace.InvalidSignature.selector);
        mkt.fillListing{value: PRICE}(o, forged, 1, buyer);
        o.unitPrice = 1 wei; // the buyer rewrites the price
        vm.expectRevert(Marketplace.InvalidSignature.selector);
        mkt.fillListing{value: 1}(o, sig, 1, buyer);
        vm.stopPrank();
    }

    function test_RevertWhen_valueMismatch() public {
        _ownedBySeller(20);
        Marketplace.Order memory o = _listing(20, PRICE);
        bytes memory sig = _sig(SELLER_PK, mkt.hashOrder(o));
        vm.deal(buyer, 2 * PRICE);
        vm.expectRevert(abi.encodeWithSelector(Marketplace.ValueMismatch.selector, PRICE, PRICE - 1));
        vm.prank(buyer);
        mkt.fillListing{value: PRICE - 1}(o, sig, 1, buyer);
    }

    // ----- licence lots -----

    function test_licenceLotPartialFills() public {
        _register(20, admin, 0);
        uint256 licenseId = _licencesToSeller(20, 10);
        Marketplace.Order memory o = _lot(20, 10, 0.1 ether, address(0));
        bytes memory sig = _sig(SELLER_PK, mkt.hashOrder(o));
        vm.deal(buyer, 2 ether);
        vm.startPrank(buyer);
        mkt.fillListing{value: 0.4 ether}(o, sig, 4, buyer);
        mkt.fillListing{value: 0.6 ether}(o, sig, 6, buyer);
        bytes32 h = mkt.hashOrder(o);
        vm.expectRevert(abi.encodeWithSelector(Marketplace.Overfill.selector, h, 0, 1));
        mkt.fillListing{value: 0.1 ether}(o, sig, 1, buyer);
        vm.stopPrank();
        vm.assertEq(market.balanceOf(buyer, licenseId), 10, "all ten licences");
        vm.assertEq(vault.receiverOf(splitId).balance, 0.05 ether, "royalty on every partial fill");
    }

    function test_licenceLotInErc20() public {
        _register(20, admin, 0);
        uint256 licenseId = _licencesToSeller(20, 3);
        Marketplace.Order memory o = _lot(20, 3, 100e6, address(usd));
        bytes memory sig = _sig(SELLER_PK, mkt.hashOrder(o));
        usd.mint(buyer, 300e6);
        vm.startPrank(buyer);
        usd.approve(address(mkt), 300e6);
        mkt.fillListing(o, sig, 3, buyer);
        vm.stopPrank();
        vm.assertEq(market.balanceOf(buyer, licenseId), 3, "licences");
        address receiver = vault.receiverOf(splitId);
        vm.assertEq(usd.balanceOf(receiver), 15e6, "royalty");
        vm.assertEq(usd.balanceOf(feeTo), 3e6, "fee");
        vm.assertEq(usd.balanceOf(seller), 282e6, "seller");
        vault.flush(splitId, address(usd));
        vm.assertEq(vault.claimable(alice, address(usd)), 9e6, "alice credited in the token");
    }

    // ----- offers -----

    function _offer(Marketplace.Kind kind, uint256 tokenId, uint256 amount, uint256 unitPrice)
        internal
        view
        returns (Marketplace.Order memory o)
    {
        o = _listing(0, unitPrice);
        o.signer = bidder;
        o.side = Marketplace.Side.Offer;
        o.kind = kind;
        o.tokenId = tokenId;
        o.amount = amount;
        o.currency = address(usd);
    }

    function test_acceptOfferOnToken() public {
        uint256 tokenId = _ownedBySeller(20);
        Marketplace.Order memory o = _offer(Marketplace.Kind.Asset, tokenId, 1, 1000e6);
        bytes memory sig = _sig(BUYER_PK, mkt.hashOrder(o));
        usd.mint(bidder, 1000e6);
        vm.prank(bidder);
        usd.approve(address(mkt), 1000e6);
        vm.expectRevert(abi.encodeWithSelector(Marketplace.TokenMismatch.selector, tokenId, _tokenId(0)));
        vm.prank(seller);
        mkt.acceptOffer(o, sig, _tokenId(0), 1);
        vm.prank(seller);
        mkt.acceptOffer(o, sig, tokenId, 1);
        vm.assertEq(assets.ownerOf(tokenId), bidder, "bidder owns it");
        vm.assertEq(usd.balanceOf(seller), 940e6, "seller paid");
        vm.assertEq(usd.balanceOf(vault.receiverOf(splitId)), 50e6, "royalty");
    }

    function test_collectionOfferOnCampaign() public {
        uint256 inside = _ownedBySeller(20);
        uint256 second = _ownedBySeller(21);
        uint256 outside = _ownedBySeller(25);
        Marketplace.Order memory o = _offer(Marketplace.Kind.AssetRange, 0, 2, 10e6);
        o.fromLeaf = 16;
        o.toLeaf = 24;
        bytes memory sig = _sig(BUYER_PK, mkt.hashOrder(o));
        usd.mint(bidder, 100e6);
        vm.prank(bidder);
        usd.approve(address(mkt), 100e6);
        vm.startPrank(seller);
        vm.expectRevert(abi.encodeWithSelector(Marketplace.TokenOutOfRange.selector, outside));
        mkt.acceptOffer(o, sig, outside, 1);
        vm.expectRevert(abi.encodeWithSelector(Marketplace.InvalidAmount.selector, 2));
        mkt.acceptOffer(o, sig, inside, 2);
        mkt.acceptOffer(o, sig, inside, 1);
        mkt.acceptOffer(o, sig, second, 1);
        vm.stopPrank();
        vm.assertEq(assets.ownerOf(inside), bidder, "first");
        vm.assertEq(assets.ownerOf(second), bidder, "second");
        vm.assertEq(mkt.filled(mkt.hashOrder(o)), 2, "two of two");
    }

    function test_RevertWhen_offerInEthOrFromWrongSide() public {
        uint256 tokenId = _ownedBySeller(20);
        Marketplace.Order memory o = _offer(Marketplace.Kind.Asset, tokenId, 1, 1 ether);
        o.currency = address(0);
        bytes memory sig = _sig(BUYER_PK, mkt.hashOrder(o));
        vm.expectRevert(Marketplace.OfferNeedsToken.selector);
        vm.prank(seller);
        mkt.acceptOffer(o, sig, tokenId, 1);
        vm.expectRevert(Marketplace.WrongSide.selector);
        vm.prank(seller);
        mkt.fillListing(o, sig, 1, seller);
    }

    // ----- royalty receivers -----

    function test_royaltyByPlainTransferReachesTheSplit() public {
        uint256 tokenId = _register(20, buyer, 0);
        CommonMarketplace other = new CommonMarketplace();
        vm.deal(address(this), 2 ether);
        other.payEth{value: 0.05 ether}(assets, tokenId, 1 ether); // 2300-gas transfer
        other.payEthByCall{value: 0.05 ether}(assets, tokenId, 1 ether);
        usd.mint(address(other), 50e6);
        other.payToken(assets, tokenId, 1000e6, address(usd));
        vm.assertEq(vault.flush(splitId, address(0)), 0.1 ether, "both ETH payments flushed");
        vm.assertEq(vault.flush(splitId, address(usd)), 50e6, "token payment flushed");
        vm.assertEq(vault.claimable(alice, address(0)), 0.06 ether, "alice ETH");
        vm.assertEq(vault.claimable(bob, address(usd)), 20e6, "bob token");
        vm.assertEq(vault.flush(splitId, address(0)), 0, "nothing left to flush");
    }

    function test_forceSentEthIsRecoverableToTheSplit() public {
        address receiver = vault.receiverOf(splitId);
        new ForceSender{value: 1 ether}(payable(receiver));
        vm.assertEq(receiver.balance, 1 ether, "forced in");
        vault.flush(splitId, address(0));
        vm.assertEq(vault.claimable(alice, address(0)), 0.6 ether, "credited to the split");
        vm.assertEq(vault.totalOwed(address(0)), 1 ether, "owed");
    }

    function test_receiverAddressKnownBeforeTheSplitExists() public {
        address future = vault.receiverOf(splitId + 1);
        vm.deal(address(this), 1 ether);
        (bool ok,) = future.call{value: 1 ether}("");
        vm.assertTrue(ok, "plain send to a not yet deployed receiver");
        uint256 id = _split2();
        vm.assertEq(id, splitId + 1, "next split");
        vm.assertEq(vault.splitOfReceiver(future), id, "deployed where predicted");
        vm.assertEq(vault.flush(id, address(0)), 1 ether, "early ETH flushed");
    }

    function test_RevertWhen_receiverPulledByOtherThanVault() public {
        address receiver = vault.receiverOf(splitId);
        vm.deal(receiver, 1 ether);
        vm.expectRevert();
        vm.prank(mallory);
        (bool ok,) = receiver.call(abi.encodeWithSignature("pull(address)", address(0)));
        ok;
        vm.assertEq(receiver.balance, 1 ether, "untouched");
    }

    function test_RevertWhen_vaultSentUnsolicitedEth() public {
        vm.deal(mallory, 1 ether);
        vm.prank(mallory);
        (bool ok,) = address(vault).call{value: 1 ether}("");
        vm.assertFalse(ok, "vault refuses unattributed ETH");
    }

    function test_failedPushIsDeferredNotBlocking() public {
        RefusingPayee payee = new RefusingPayee();
        mkt = _deployMarket(address(payee), FEE_BPS);
        _ownedBySeller(20);
        Marketplace.Order memory o = _listing(20, PRICE);
        bytes memory sig = _sig(SELLER_PK, mkt.hashOrder(o));
        vm.deal(buyer, PRICE);
        vm.prank(buyer);
        mkt.fillListing{value: PRICE}(o, sig, 1, buyer);
        vm.assertEq(mkt.owedEth(address(payee)), PRICE / 100, "fee kept for the payee");
        payee.setAccepting(true);
        payee.withdrawFrom(mkt);
        vm.assertEq(address(payee).balance, PRICE / 100, "withdrawn");
        vm.assertEq(address(mkt).balance, 0, "nothing left behind");
    }

    // ----- fuzz -----

    function testFuzz_licenceFillConservesValue(uint256 unitPrice, uint256 amount) public {
        unitPrice = bound(unitPrice, 0, 1e24);
        amount = bound(amount, 1, 10);
        _register(20, admin, 0);
        _licencesToSeller(20, 10);
        Marketplace.Order memory o = _lot(20, 10, unitPrice, address(0));
        bytes memory sig = _sig(SELLER_PK, mkt.hashOrder(o));
        uint256 price = unitPrice * amount;
        uint256 sellerBefore = seller.balance;
        vm.deal(buyer, price);
        vm.prank(buyer);
        mkt.fillListing{value: price}(o, sig, amount, buyer);
        uint256 royalty = vault.receiverOf(splitId).balance;
        vm.assertEq(royalty, price * 500 / 10_000, "royalty is 5%, always");
        vm.assertEq(seller.balance - sellerBefore + royalty + feeTo.balance, price, "paid = received");
        vm.assertEq(address(mkt).balance, 0, "market keeps nothing");
    }

    function testFuzz_signatureFromOtherChainNeverFills(uint64 otherChain) public {
        vm.assume(otherChain != block.chainid && otherChain != 0);
        _ownedBySeller(20);
        Marketplace.Order memory o = _listing(20, PRICE);
        uint256 home = block.chainid;
        vm.chainId(otherChain);
        bytes memory sig = _sig(SELLER_PK, mkt.hashOrder(o)); // signed for the other chain
        vm.chainId(home);
        vm.deal(buyer, PRICE);
        vm.expectRevert(Marketplace.InvalidSignature.selector);
        vm.prank(buyer);
        mkt.fillListing{value: PRICE}(o, sig, 1, buyer);
    }
}
