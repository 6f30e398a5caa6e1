// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {MarketFixture} from "./utils/MarketFixture.sol";
import {Marketplace} from "../src/Marketplace.sol";
import {RoyaltyShares} from "../src/RoyaltyShares.sol";

/// @notice A share token the admin registered that calls back into the market while its shares
/// move (a hostile or upgraded token): the market's lock must refuse the nested fill.
contract ReentrantShares is ERC20 {
    Marketplace internal immutable mkt;
    Marketplace.Order internal again;
    bytes internal againSig;
    bool internal armed;

    constructor(Marketplace m, address holder) ERC20("Reentrant", "RE") {
        mkt = m;
        _mint(holder, 1000 ether);
    }

    function arm(Marketplace.Order calldata o, bytes calldata sig) external {
        again = o;
        againSig = sig;
        armed = true;
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        if (!armed) return;
        armed = false;
        mkt.fillListing(again, againSig, 1 ether, address(this)); // reverts: the lock is held
    }
}

/// @notice Share lots: a campaign family's RoyaltyShares sold in parts at an exact price per whole
/// share, with the fee and no asset royalty; revenue accrued before a sale stays with the seller.
contract MarketplaceSharesTest is MarketFixture {
    uint256 internal constant SUPPLY = 1000 ether; // 1000 whole shares
    uint256 internal constant PER_SHARE = 0.001 ether;
    RoyaltyShares internal shares;

    function setUp() public override {
        super.setUp();
        address[] memory currencies = new address[](1);
        currencies[0] = address(usd);
        shares = new RoyaltyShares("Spring shares", "SPRING", seller, SUPPLY, vault, currencies);
        vm.prank(admin);
        mkt.setShareToken(address(shares), true);
        vm.prank(seller);
        shares.approve(address(mkt), type(uint256).max);
    }

    function _lotOf(address token, uint256 amount, uint256 perShare, address currency)
        internal
        view
        returns (Marketplace.Order memory o)
    {
        o = _listing(0, perShare);
        o.kind = Marketplace.Kind.Shares;
        o.tokenId = uint256(uint160(token));
        o.amount = amount;
        o.currency = currency;
    }

    function _fill(Marketplace.Order memory o, uint256 amount) internal {
        uint256 price = mkt.sharePrice(amount, o.unitPrice);
        bytes memory sig = _sig(SELLER_PK, mkt.hashOrder(o)); // before the prank: it is a call too
        vm.deal(buyer, price);
        vm.prank(buyer);
        mkt.fillListing{value: price}(o, sig, amount, buyer);
    }

    // ----- fills -----

    function test_shareLotSellsInPartsWithFeeAndNoRoyalty() public {
        Marketplace.Order memory o = _lotOf(address(shares), 300 ether, PER_SHARE, address(0));
        address receiver = vault.receiverOf(splitId);
        _fill(o, 100 ether);
        _fill(o, 200 ether);
        vm.assertEq(shares.balanceOf(buyer), 300 ether, "30% of the shares");
        vm.assertEq(shares.balanceOf(seller), 700 ether, "70% stay");
        vm.assertEq(feeTo.balance, 0.003 ether, "1% fee of 0.3 ETH");
        vm.assertEq(seller.balance, 0.297 ether, "the seller gets the rest");
        vm.assertEq(receiver.balance, 0, "no asset royalty on shares");
        vm.assertEq(address(mkt).balance, 0, "the market keeps nothing");
        vm.assertEq(mkt.filled(mkt.hashOrder(o)), 300 ether, "filled in full");
    }

    function test_RevertWhen_shareLotOverfilledOrReplayed() public {
        Marketplace.Order memory o = _lotOf(address(shares), 300 ether, PER_SHARE, address(0));
        bytes32 h = mkt.hashOrder(o);
        _fill(o, 250 ether);
        bytes memory sig = _sig(SELLER_PK, h);
        vm.deal(buyer, 1 ether);
        vm.expectRevert(abi.encodeWithSelector(Marketplace.Overfill.selector, h, 50 ether, 51 ether));
        vm.prank(buyer);
        mkt.fillListing{value: 0.051 ether}(o, sig, 51 ether, buyer);
        _fill(o, 50 ether);
        vm.deal(buyer, 1 ether);
        vm.expectRevert(abi.encodeWithSelector(Marketplace.Overfill.selector, h, 0, 1 ether));
        vm.prank(buyer);
        mkt.fillListing{value: 0.001 ether}(o, sig, 1 ether, buyer); // replaying the spent lot
        o.amount = 600 ether; // the same signature over a bigger lot
        vm.expectRevert(Marketplace.InvalidSignature.selector);
        vm.prank(buyer);
        mkt.fillListing{value: 0.001 ether}(o, sig, 1 ether, buyer);
    }

    function test_shareLotInErc20() public {
        Marketplace.Order memory o = _lotOf(address(shares), 500 ether, 2e6, address(usd)); // 2 usd a share
        bytes memory sig = _sig(SELLER_PK, mkt.hashOrder(o));
        usd.mint(buyer, 1000e6);
        vm.startPrank(buyer);
        usd.approve(address(mkt), 1000e6);
        mkt.fillListing(o, sig, 500 ether, buyer);
        vm.stopPrank();
        vm.assertEq(shares.balanceOf(buyer), 500 ether, "shares");
        vm.assertEq(usd.balanceOf(seller), 990e6, "seller");
        vm.assertEq(usd.balanceOf(feeTo), 10e6, "fee");
        vm.assertEq(usd.balanceOf(vault.receiverOf(splitId)), 0, "no royalty");
    }

    /// Revenue credited before a sale stays claimable by the seller; only later revenue follows.
    function test_saleNeverMovesAccruedRevenue() public {
        vm.deal(address(shares), 1 ether);
        shares.distribute(address(0));
        vm.assertEq(shares.accrued(seller, address(0)), 1 ether, "all revenue so far is the seller's");
        _fill(_lotOf(address(shares), 300 ether, PER_SHARE, address(0)), 300 ether);
        vm.assertEq(shares.accrued(seller, address(0)), 1 ether, "the sale moved none of it");
        vm.assertEq(shares.accrued(buyer, address(0)), 0, "the buyer bought no past revenue");
        vm.deal(address(shares), address(shares).balance + 1 ether);
        shares.distribute(address(0));
        vm.assertEq(shares.claimable(seller, address(0)), 1.7 ether, "70% of the new revenue");
        vm.assertEq(shares.claimable(buyer, address(0)), 0.3 ether, "30% of the new revenue");
    }

    function test_shareOfferAcceptedInParts() public {
        Marketplace.Order memory o = _lotOf(address(shares), 400 ether, 1e6, address(usd));
        o.signer = bidder;
        o.side = Marketplace.Side.Offer;
        bytes memory sig = _sig(BUYER_PK, mkt.hashOrder(o));
        usd.mint(bidder, 400e6);
        vm.prank(bidder);
        usd.approve(address(mkt), 400e6);
        vm.startPrank(seller);
        vm.expectRevert(abi.encodeWithSelector(Marketplace.TokenMismatch.selector, o.tokenId, uint256(1)));
        mkt.acceptOffer(o, sig, 1, 100 ether);
        mkt.acceptOffer(o, sig, o.tokenId, 100 ether);
        mkt.acceptOffer(o, sig, o.tokenId, 300 ether);
        vm.stopPrank();
        vm.assertEq(shares.balanceOf(bidder), 400 ether, "the bidder got the shares");
        vm.assertEq(usd.balanceOf(seller), 396e6, "paid less the fee");
    }

    // ----- refusals -----

    function test_RevertWhen_tokenIsNotARegisteredShareToken() public {
        vm.prank(seller);
        usd.approve(address(mkt), type(uint256).max);
        usd.mint(seller, 1000 ether);
        Marketplace.Order memory o = _lotOf(address(usd), 100 ether, PER_SHARE, address(0));
        bytes memory sig = _sig(SELLER_PK, mkt.hashOrder(o));
        vm.deal(buyer, 1 ether);
        vm.expectRevert(abi.encodeWithSelector(Marketplace.UnknownShareToken.selector, address(usd)));
        vm.prank(buyer);
        mkt.fillListing{value: 0.1 ether}(o, sig, 100 ether, buyer);
        // a tokenId with bits above an address never names the registered token
        o = _lotOf(address(shares), 100 ether, PER_SHARE, address(0));
        o.tokenId |= 1 << 200;
        sig = _sig(SELLER_PK, mkt.hashOrder(o));
        vm.expectRevert(abi.encodeWithSelector(Marketplace.UnknownShareToken.selector, address(shares)));
        vm.prank(buyer);
        mkt.fillListing{value: 0.1 ether}(o, sig, 100 ether, buyer);
        // a token the admin stopped: its open lots stop filling
        o = _lotOf(address(shares), 100 ether, PER_SHARE, address(0));
        sig = _sig(SELLER_PK, mkt.hashOrder(o));
        vm.prank(admin);
        mkt.setShareToken(address(shares), false);
        vm.expectRevert(abi.encodeWithSelector(Marketplace.UnknownShareToken.selector, address(shares)));
        vm.prank(buyer);
        mkt.fillListing{value: 0.1 ether}(o, sig, 100 ether, buyer);
    }

    function test_RevertWhen_strangerRegistersAToken() public {
        vm.expectRevert();
        vm.prank(mallory);
        mkt.setShareToken(address(usd), true);
        vm.assertFalse(mkt.isShareToken(address(usd)), "still unknown");
    }

    function test_RevertWhen_priceWouldRound() public {
        Marketplace.Order memory o = _lotOf(address(shares), 300 ether, 3, address(0)); // 3 wei a share
        bytes memory sig = _sig(SELLER_PK, mkt.hashOrder(o));
        vm.deal(buyer, 1 ether);
        vm.expectRevert(abi.encodeWithSelector(Marketplace.InexactSharePrice.selector, 0.5 ether, 3));
        vm.prank(buyer);
        mkt.fillListing{value: 1}(o, sig, 0.5 ether, buyer); // half a share at 3 wei: 1.5 wei
        vm.expectRevert(abi.encodeWithSelector(Marketplace.InexactSharePrice.selector, 1, 3));
        vm.prank(buyer);
        mkt.fillListing(o, sig, 1, buyer); // one base unit: 3e-18 wei, free if rounded
        vm.prank(buyer);
        mkt.fillListing{value: 3}(o, sig, 1 ether, buyer);
        vm.assertEq(shares.balanceOf(buyer), 1 ether, "a whole share at 3 wei is exact");
    }

    function test_RevertWhen_shareLotCancelledExpiredOrStale() public {
        Marketplace.Order memory o = _lotOf(address(shares), 300 ether, PER_SHARE, address(0));
        bytes32 h = mkt.hashOrder(o);
        bytes memory sig = _sig(SELLER_PK, h);
        vm.deal(buyer, 1 ether);
        Marketplace.Order[] memory list = new Marketplace.Order[](1);
        list[0] = o;
        vm.prank(seller);
        mkt.cancel(list);
        vm.expectRevert(abi.encodeWithSelector(Marketplace.OrderCancelledOrStale.selector, h));
        vm.prank(buyer);
        mkt.fillListing{value: 0.001 ether}(o, sig, 1 ether, buyer);

        o.salt = 7;
        h = mkt.hashOrder(o);
        sig = _sig(SELLER_PK, h);
        vm.prank(seller);
        mkt.incrementCounter();
        vm.expectRevert(abi.encodeWithSelector(Marketplace.OrderCancelledOrStale.selector, h));
        vm.prank(buyer);
        mkt.fillListing{value: 0.001 ether}(o, sig, 1 ether, buyer);

        o.counter = 1;
        sig = _sig(SELLER_PK, mkt.hashOrder(o));
        vm.warp(o.expiry);
        vm.expectRevert(abi.encodeWithSelector(Marketplace.OrderExpired.selector, o.expiry));
        vm.prank(buyer);
        mkt.fillListing{value: 0.001 ether}(o, sig, 1 ether, buyer);
    }

    function test_RevertWhen_shareLotSignedForAnotherChain() public {
        Marketplace.Order memory o = _lotOf(address(shares), 300 ether, PER_SHARE, address(0));
        uint256 home = block.chainid;
        vm.chainId(home + 1);
        bytes memory sig = _sig(SELLER_PK, mkt.hashOrder(o));
        vm.chainId(home);
        vm.deal(buyer, 1 ether);
        vm.expectRevert(Marketplace.InvalidSignature.selector);
        vm.prank(buyer);
        mkt.fillListing{value: 0.001 ether}(o, sig, 1 ether, buyer);
    }

    function test_RevertWhen_shareTokenReentersTheMarket() public {
        ReentrantShares token = new ReentrantShares(mkt, seller);
        vm.prank(admin);
        mkt.setShareToken(address(token), true);
        vm.prank(seller);
        token.approve(address(mkt), type(uint256).max);
        Marketplace.Order memory o = _lotOf(address(token), 10 ether, 0, address(0));
        bytes memory sig = _sig(SELLER_PK, mkt.hashOrder(o));
        Marketplace.Order memory second = _lotOf(address(token), 10 ether, 0, address(0));
        second.salt = 1;
        token.arm(second, _sig(SELLER_PK, mkt.hashOrder(second)));
        vm.expectRevert(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector);
        vm.prank(buyer);
        mkt.fillListing(o, sig, 1 ether, buyer);
        vm.assertEq(token.balanceOf(buyer), 0, "nothing moved");
        vm.assertEq(mkt.filled(mkt.hashOrder(o)), 0, "nothing recorded");
    }

    // ----- fuzz -----

    /// Any fill either pays exactly (seller + fee = price, no royalty, shares moved 1:1) or is
    /// refused as inexact; the market keeps nothing and the supply is where it was.
    function testFuzz_shareFillIsExactOrRefused(uint256 perShare, uint256 amount) public {
        perShare = bound(perShare, 0, 1e24);
        amount = bound(amount, 1, 300 ether);
        Marketplace.Order memory o = _lotOf(address(shares), 300 ether, perShare, address(0));
        bytes memory sig = _sig(SELLER_PK, mkt.hashOrder(o));
        if ((amount * perShare) % 1e18 != 0) {
            vm.expectRevert(abi.encodeWithSelector(Marketplace.InexactSharePrice.selector, amount, perShare));
            vm.prank(buyer);
            mkt.fillListing(o, sig, amount, buyer);
            return;
        }
        uint256 price = amount * perShare / 1e18;
        vm.deal(buyer, price);
        vm.prank(buyer);
        mkt.fillListing{value: price}(o, sig, amount, buyer);
        vm.assertEq(seller.balance + feeTo.balance, price, "paid = received");
        vm.assertEq(feeTo.balance, price * FEE_BPS / 10_000, "the fee");
        vm.assertEq(shares.balanceOf(buyer), amount, "the shares bought");
        vm.assertEq(shares.balanceOf(buyer) + shares.balanceOf(seller), SUPPLY, "no share made or lost");
        vm.assertEq(address(mkt).balance, 0, "the market keeps nothing");
    }

    function testFuzz_partialFillsNeverExceedTheLot(uint256 a, uint256 b) public {
        a = bound(a, 1, 300) * 1 ether;
        b = bound(b, 1, 300) * 1 ether;
        Marketplace.Order memory o = _lotOf(address(shares), 300 ether, PER_SHARE, address(0));
        bytes32 h = mkt.hashOrder(o);
        _fill(o, a);
        if (a + b > 300 ether) {
            bytes memory sig = _sig(SELLER_PK, h);
            uint256 price = b * PER_SHARE / 1 ether;
            vm.deal(buyer, price);
            vm.expectRevert(abi.encodeWithSelector(Marketplace.Overfill.selector, h, 300 ether - a, b));
            vm.prank(buyer);
            mkt.fillListing{value: price}(o, sig, b, buyer);
        } else {
            _fill(o, b);
        }
        vm.assertLe(shares.balanceOf(buyer), 300 ether, "never beyond the lot");
        vm.assertEq(shares.balanceOf(buyer), mkt.filled(h), "what was filled is what moved");
    }

    // ----- gas -----

    /// The gas of a share-lot fill in ETH (the first, cold; reported, not asserted against a budget).
    function test_gasOfShareLotFill() public {
        Marketplace.Order memory o = _lotOf(address(shares), 300 ether, PER_SHARE, address(0));
        bytes memory sig = _sig(SELLER_PK, mkt.hashOrder(o));
        vm.deal(buyer, 1 ether);
        vm.prank(buyer);
        uint256 before = gasleft();
        mkt.fillListing{value: 0.1 ether}(o, sig, 100 ether, buyer);
        uint256 used = before - gasleft();
        emit log_named_uint("share-lot fill: callee execution gas (cold buyer slots)", used);
        vm.assertEq(shares.balanceOf(buyer), 100 ether, "sold");
    }

    event log_named_uint(string key, uint256 val);
}
