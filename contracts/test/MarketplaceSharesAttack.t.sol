// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {MarketplaceSharesTest} from "./MarketplaceShares.t.sol";
import {Marketplace} from "../src/Marketplace.sol";
import {RoyaltyShares} from "../src/RoyaltyShares.sol";

/// @notice Attacks on share lots from outside (hostile2): a lot replayed on another Marketplace of
/// the same chain, a share offer accepted with another registered family's cheaper shares, a token
/// id aliasing a registered token through its high bits, a lot whose token was deregistered, and
/// dust fills (no share ever moves for nothing; the fee lost to rounding is under 1 wei a fill).
/// (The parent's tests run again here: the attacks reuse its set-up and helpers.)
contract MarketplaceSharesAttackTest is MarketplaceSharesTest {
    function test_attack_lotReplayedOnAnotherMarketplaceOfTheSameChain() public {
        Marketplace.Order memory o = _lotOf(address(shares), 300 ether, PER_SHARE, address(0));
        bytes memory sig = _sig(SELLER_PK, mkt.hashOrder(o));
        Marketplace other = _deployMarket(feeTo, 100);
        vm.prank(admin);
        other.setShareToken(address(shares), true);
        vm.prank(seller);
        shares.approve(address(other), type(uint256).max);
        vm.deal(buyer, 1 ether);
        vm.expectRevert(Marketplace.InvalidSignature.selector);
        vm.prank(buyer);
        other.fillListing{value: 0.1 ether}(o, sig, 100 ether, buyer);
    }

    function test_attack_offerAcceptedWithAnotherFamilysShares() public {
        RoyaltyShares cheap = new RoyaltyShares("Cheap", "CHEAP", seller, SUPPLY, vault, new address[](0));
        vm.prank(admin);
        mkt.setShareToken(address(cheap), true);
        vm.prank(seller);
        cheap.approve(address(mkt), type(uint256).max);
        Marketplace.Order memory o = _lotOf(address(shares), 100 ether, 1e6, address(usd));
        (o.side, o.signer, o.counter) = (Marketplace.Side.Offer, bidder, mkt.counterOf(bidder));
        bytes memory sig = _sig(BUYER_PK, mkt.hashOrder(o));
        usd.mint(bidder, 1000e6);
        vm.prank(bidder);
        usd.approve(address(mkt), type(uint256).max);
        uint256 wanted = uint256(uint160(address(shares)));
        uint256 given = uint256(uint160(address(cheap)));
        vm.expectRevert(abi.encodeWithSelector(Marketplace.TokenMismatch.selector, wanted, given));
        vm.prank(seller);
        mkt.acceptOffer(o, sig, given, 100 ether);
    }

    function test_attack_tokenIdAliasingARegisteredTokenThroughHighBits() public {
        Marketplace.Order memory o = _lotOf(address(shares), 300 ether, PER_SHARE, address(0));
        o.tokenId |= uint256(1) << 200;
        bytes memory sig = _sig(SELLER_PK, mkt.hashOrder(o));
        vm.deal(buyer, 1 ether);
        vm.expectRevert(abi.encodeWithSelector(Marketplace.UnknownShareToken.selector, address(shares)));
        vm.prank(buyer);
        mkt.fillListing{value: 0.1 ether}(o, sig, 100 ether, buyer);
    }

    function test_attack_lotOfADeregisteredTokenStopsFilling() public {
        Marketplace.Order memory o = _lotOf(address(shares), 300 ether, PER_SHARE, address(0));
        _fill(o, 100 ether);
        vm.prank(admin);
        mkt.setShareToken(address(shares), false);
        bytes memory sig = _sig(SELLER_PK, mkt.hashOrder(o));
        vm.deal(buyer, 1 ether);
        vm.expectRevert(abi.encodeWithSelector(Marketplace.UnknownShareToken.selector, address(shares)));
        vm.prank(buyer);
        mkt.fillListing{value: 0.1 ether}(o, sig, 100 ether, buyer);
    }

    /// A buyer splitting a lot into dust fills: every fill pays the seller its exact price (no share
    /// moves for nothing), and the protocol fee lost to rounding down is under 1 wei per fill.
    function testFuzz_attack_dustFillsNeverMoveSharesForFree(uint256 perShare, uint8 fills) public {
        perShare = bound(perShare, 1, 1 ether);
        uint256 n = bound(fills, 1, 20);
        uint256 unit = 1e18 / _gcd(perShare, 1e18); // the smallest amount with an exact price
        Marketplace.Order memory o = _lotOf(address(shares), unit * n, perShare, address(0));
        uint256 sellerBefore = seller.balance;
        for (uint256 i = 0; i < n; ++i) {
            _fill(o, unit);
        }
        uint256 paid = (unit * n * perShare) / 1e18;
        vm.assertGt(paid, 0, "dust is never free");
        vm.assertEq(shares.balanceOf(buyer), unit * n, "what was paid for");
        vm.assertEq(seller.balance - sellerBefore + feeTo.balance, paid, "every wei reached seller or fee");
        vm.assertLe((paid * 100) / 10_000 - feeTo.balance, n, "fee rounding loses < 1 wei a fill");
    }

    function _gcd(uint256 a, uint256 b) internal pure returns (uint256) {
        while (b != 0) (a, b) = (b, a % b);
        return a;
    }
}
