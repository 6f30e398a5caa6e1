// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {MarketFixture} from "./utils/MarketFixture.sol";
import {MintTest} from "./utils/MintTest.sol";
import {Marketplace} from "../src/Marketplace.sol";
import {RoyaltyVault} from "../src/RoyaltyVault.sol";

/// @notice Drives the market with random fills, cancels, counter bumps, time jumps, flushes and
/// claims over a fixed book of signed licence-lot listings, recording every ETH movement and every
/// fill that should not have happened.
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
    function targetContracts() public view returns (address[] memory t) {
        t = new address[](1);
        t[0] = address(handler);
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
}
