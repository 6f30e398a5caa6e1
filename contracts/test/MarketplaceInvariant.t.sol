// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {MarketFixture} from "./utils/MarketFixture.sol";
import {MintTest} from "./utils/MintTest.sol";
import {Marketplace} from "../src/Marketplace.sol";
import {RoyaltyShares} from "../src/RoyaltyShares.sol";
import {RoyaltyVault} from "../src/RoyaltyVault.sol";

/// @notice Drives the market with random fills, cancels, counter bumps, time jumps, flushes and
/// claims over a fixed book of signed licence-lot and share-lot listings (and share revenue paid
/// between fills), recording every ETH movement, every share moved and every fill that should not
/// have happened.
contract MarketHandler is MintTest {
    Marketplace internal immutable mkt;
    RoyaltyVault internal immutable vault;
    address internal immutable seller;
    address internal immutable feeTo;
    address[2] internal recipients;
    uint256 internal immutable splitId;
    Marketplace.Order[] internal book;
    bytes[] internal sigs;
    mapping(bytes32 => bool) internal dead; // cancelled by hash
    uint256 public paid;
    uint256 public claimed;
    uint256 public badFills; // fills of cancelled, stale or expired orders, or beyond their amount
    uint256 public fills;
    uint256 public refused; // fills the market refused
    uint256 public sellerStart;
    uint256 public owedStart; // the vault's ETH owed before the market traded (licence purchases)
    RoyaltyShares public shares;
    Marketplace.Order[] internal shareBook;
    bytes[] internal shareSigs;
    uint256 public sharesBought; // share units this handler bought through fills
    uint256 public accrualMoved; // fills after which the seller's accrued share revenue changed

    constructor(
        Marketplace m,
        RoyaltyVault v,
        address s,
        address f,
        address a,
        address b,
        uint256 split,
        Marketplace.Order[] memory orders,
        bytes[] memory signatures
    ) {
        mkt = m;
        vault = v;
        seller = s;
        feeTo = f;
        recipients = [a, b];
        splitId = split;
        for (uint256 i = 0; i < orders.length; ++i) {
            book.push(orders[i]);
            sigs.push(signatures[i]);
        }
        sellerStart = s.balance;
        owedStart = v.totalOwed(address(0));
    }

    function fill(uint256 which, uint256 amount) external {
        Marketplace.Order memory o = book[which % book.length];
        amount = bound(amount, 1, 4);
        bytes32 h = mkt.hashOrder(o);
        uint256 before = mkt.filled(h);
        bool live = !dead[h] && o.counter == mkt.counterOf(seller) && block.timestamp < o.expiry;
        uint256 price = o.unitPrice * amount;
        vm.deal(address(this), price);
        try mkt.fillListing{value: price}(o, sigs[which % book.length], amount, address(this)) {
            paid += price;
            ++fills;
            if (!live || before + amount > o.amount) ++badFills;
        } catch {
            ++refused;
        }
    }

    /// @dev Set once by the test's setUp (a later call, by the fuzzer, is refused).
    function setShares(RoyaltyShares s, Marketplace.Order[] calldata orders, bytes[] calldata signatures) external {
        require(address(shares) == address(0), "set once");
        shares = s;
        for (uint256 i = 0; i < orders.length; ++i) {
            shareBook.push(orders[i]);
            shareSigs.push(signatures[i]);
        }
    }

    function fillShares(uint256 which, uint256 wholeShares) external {
        uint256 k = which % shareBook.length;
        Marketplace.Order memory o = shareBook[k];
        uint256 amount = bound(wholeShares, 1, 40) * 1 ether;
        bytes32 h = mkt.hashOrder(o);
        uint256 before = mkt.filled(h);
        bool live = !dead[h] && o.counter == mkt.counterOf(seller) && block.timestamp < o.expiry;
        uint256 price = amount * o.unitPrice / 1 ether;
        uint256 accrued = shares.accrued(seller, address(0));
        vm.deal(address(this), price);
        try mkt.fillListing{value: price}(o, shareSigs[k], amount, address(this)) {
            paid += price;
            sharesBought += amount;
            ++fills;
            if (!live || before + amount > o.amount) ++badFills;
            if (shares.accrued(seller, address(0)) != accrued) ++accrualMoved;
        } catch {
            ++refused;
        }
    }

    /// @dev Revenue reaches the share token (as a licence sale's split would pay it).
    function payShares(uint256 amount) external {
        amount = bound(amount, 1, 1 ether);
        vm.deal(address(shares), address(shares).balance + amount);
        shares.distribute(address(0));
    }

    function cancelShares(uint256 which) external {
        Marketplace.Order[] memory one = new Marketplace.Order[](1);
        one[0] = shareBook[which % shareBook.length];
        vm.prank(seller);
        mkt.cancel(one);
        dead[mkt.hashOrder(one[0])] = true;
    }

    function cancel(uint256 which) external {
        Marketplace.Order[] memory one = new Marketplace.Order[](1);
        one[0] = book[which % book.length];
        vm.prank(seller);
        mkt.cancel(one);
        dead[mkt.hashOrder(one[0])] = true;
    }

    function bumpCounter() external {
        vm.prank(seller);
        mkt.incrementCounter();
    }

    function warp(uint256 secs) external {
        vm.warp(block.timestamp + bound(secs, 1, 1 days));
    }

    function flush() external {
        vault.flush(splitId, address(0));
    }

    function claim(uint256 who) external {
        address r = recipients[who % 2];
        if (vault.claimable(r, address(0)) == 0) return;
        vm.prank(r);
        claimed += vault.claim(address(0));
    }

    function onERC1155Received(address, address, uint256, uint256, bytes calldata) external pure returns (bytes4) {
        return this.onERC1155Received.selector;
    }
}

abstract contract MarketInvariantBase is MarketFixture {
    MarketHandler internal handler;

    function setUp() public override {
        super.setUp();
        _register(20, admin, 0);
        _register(21, admin, 0);
        _licencesToSeller(20, 20);
        _licencesToSeller(21, 20);
        Marketplace.Order[] memory orders = new Marketplace.Order[](4);
        bytes[] memory sigs = new bytes[](4);
        for (uint256 k = 0; k < 4; ++k) {
            orders[k] = _lot(20 + (k % 2), 5 + k, 0.01 ether + k * 1 gwei, address(0));
            orders[k].salt = k;
            orders[k].expiry = uint64(block.timestamp + (k + 1) * 12 hours);
            sigs[k] = _sig(SELLER_PK, mkt.hashOrder(orders[k]));
        }
        handler = new MarketHandler(mkt, vault, seller, feeTo, alice, bob, splitId, orders, sigs);
        _shareLots();
    }

    uint256 internal constant SHARE_SUPPLY = 1000 ether;

    /// @dev The seller holds a family's 1000 shares and lists three lots of them.
    function _shareLots() internal {
        shares = new RoyaltyShares("Family shares", "FAM", seller, SHARE_SUPPLY, vault, new address[](0));
        vm.prank(admin);
        mkt.setShareToken(address(shares), true);
        vm.prank(seller);
        shares.approve(address(mkt), type(uint256).max);
        Marketplace.Order[] memory lots = new Marketplace.Order[](3);
        bytes[] memory sigs = new bytes[](3);
        for (uint256 k = 0; k < 3; ++k) {
            lots[k] = _listing(0, 0.001 ether + k * 1 gwei);
            lots[k].kind = Marketplace.Kind.Shares;
            lots[k].tokenId = uint256(uint160(address(shares)));
            lots[k].amount = (100 + 50 * k) * 1 ether;
            lots[k].salt = 100 + k;
            lots[k].expiry = uint64(block.timestamp + (k + 1) * 12 hours);
            sigs[k] = _sig(SELLER_PK, mkt.hashOrder(lots[k]));
        }
        handler.setShares(shares, lots, sigs);
    }

    RoyaltyShares internal shares;

    /// @dev Shares only move seller → buyer, one for one with the fills; the seller's revenue stays.
    function _assertSharesConserved() internal view {
        vm.assertEq(shares.balanceOf(address(handler)), handler.sharesBought(), "bought = moved");
        vm.assertEq(
            shares.balanceOf(seller) + shares.balanceOf(address(handler)), SHARE_SUPPLY, "sum of shares conserved"
        );
        vm.assertEq(handler.accrualMoved(), 0, "no sale moved the seller's accrued revenue");
    }

    function _assertConserved() internal view {
        uint256 sellerGot = seller.balance - handler.sellerStart();
        uint256 atReceiver = vault.receiverOf(splitId).balance;
        uint256 accounted =
            sellerGot + feeTo.balance + atReceiver + vault.totalOwed(address(0)) + handler.claimed() - handler.owedStart();
        vm.assertEq(handler.paid(), accounted, "paid = seller + fees + unflushed + claimable + claimed");
        vm.assertEq(address(mkt).balance, mkt.totalOwedEth(), "market holds only deferred payments");
        vm.assertEq(handler.badFills(), 0, "no fill of a dead order or beyond its amount");
    }
}

contract MarketplaceInvariantTest is MarketInvariantBase {
    struct FuzzSelector {
        address addr;
        bytes4[] selectors;
    }

    function targetContracts() public view returns (address[] memory t) {
        t = new address[](1);
        t[0] = address(handler);
    }

    /// @dev setShares is setUp's (the fuzzer's calls would only revert).
    function excludeSelectors() public view returns (FuzzSelector[] memory t) {
        t = new FuzzSelector[](1);
        t[0].addr = address(handler);
        t[0].selectors = new bytes4[](1);
        t[0].selectors[0] = MarketHandler.setShares.selector;
    }

    /// @dev Every wei paid is with the seller, the fee recipient, the split receiver (not flushed
    /// yet), claimable in the vault or claimed; nothing stays in the market.
    /// forge-config: default.invariant.runs = 16
    /// forge-config: default.invariant.depth = 32
    function invariant_valueConserved() public view {
        _assertConserved();
    }

    /// @dev No order fills beyond its amount; cancelled, stale and expired orders never fill.
    /// forge-config: default.invariant.runs = 16
    /// forge-config: default.invariant.depth = 32
    function invariant_noBadFill() public view {
        vm.assertEq(handler.badFills(), 0, "no fill of a dead order or beyond its amount");
    }

    /// @dev Share lots conserve shares and never move accrued revenue.
    /// forge-config: default.invariant.runs = 16
    /// forge-config: default.invariant.depth = 32
    function invariant_sharesConserved() public view {
        _assertSharesConserved();
    }
}

/// @notice The handler itself does what the invariants rely on: sales go through and pay, dead
/// orders are refused and counted as refused (so the invariants are not vacuous).
contract MarketHandlerTest is MarketInvariantBase {
    function test_handlerFillsAndRefuses() public {
        handler.fill(0, 2);
        vm.assertEq(handler.fills(), 1, "a live order fills");
        vm.assertGt(handler.paid(), 0, "and is paid");
        handler.cancel(0);
        handler.fill(0, 1);
        vm.assertEq(handler.refused(), 1, "a cancelled order is refused");
        handler.bumpCounter();
        handler.fill(1, 1);
        vm.assertEq(handler.refused(), 2, "a stale order is refused");
        handler.flush();
        handler.claim(0);
        vm.assertGt(handler.claimed(), 0, "royalties claimed");
        _assertConserved();
    }

    function test_handlerTradesShareLots() public {
        handler.payShares(1 ether); // revenue before any sale: all the seller's
        handler.fillShares(0, 30);
        vm.assertEq(handler.sharesBought(), 30 ether, "a live share lot fills");
        handler.payShares(1 ether);
        handler.fillShares(1, 10);
        vm.assertEq(shares.accrued(address(handler), address(0)), 0.03 ether, "3% of the later revenue");
        handler.cancelShares(2);
        uint256 refusedBefore = handler.refused();
        handler.fillShares(2, 1);
        vm.assertEq(handler.refused(), refusedBefore + 1, "a cancelled share lot is refused");
        handler.fillShares(0, 40);
        handler.fillShares(0, 40);
        vm.assertEq(handler.refused(), refusedBefore + 2, "a lot never overfills (100 of 100, then refused)");
        _assertConserved();
        _assertSharesConserved();
    }
}
