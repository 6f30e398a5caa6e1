// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {Fixture} from "./utils/Fixture.sol";
import {AnchoredRanges} from "../src/AnchoredRanges.sol";
import {RoyaltyVault} from "../src/RoyaltyVault.sol";

/// @notice A split recipient that re-enters claim() when paid.
contract ReentrantClaimer {
    RoyaltyVault internal immutable vault;
    uint256 public reentryAttempts;
    bytes4 public reentryError;

    constructor(RoyaltyVault v) {
        vault = v;
    }

    function attack() external {
        vault.claim(address(0));
    }

    receive() external payable {
        if (reentryAttempts++ > 0) return;
        try vault.claim(address(0)) {}
        catch (bytes memory reason) {
            reentryError = bytes4(reason);
        }
    }
}

contract RoyaltyVaultTest is Fixture {
    address internal alice = makeAddr("alice");
    address internal bob = makeAddr("bob");
    address internal carol = makeAddr("carol");

    function setUp() public override {
        super.setUp();
        _anchor(0, N);
    }

    function _split3() internal returns (uint256) {
        address[] memory r = new address[](3);
        r[0] = alice;
        r[1] = bob;
        r[2] = carol;
        uint32[] memory s = new uint32[](3);
        s[0] = 5000;
        s[1] = 3333;
        s[2] = 1667;
        return vault.createSplit(r, s);
    }

    function test_createSplit() public {
        uint256 id = _split3();
        vm.assertEq(id, 1, "ids from 1");
        (address[] memory r, uint32[] memory s) = vault.split(id);
        vm.assertEq(r[1], bob, "recipient");
        vm.assertEq(uint256(s[1]), 3333, "share");
        vm.assertEq(vault.splitCount(), 1, "count");
    }

    function test_RevertWhen_invalidSplit() public {
        address[] memory r = new address[](2);
        uint32[] memory s = new uint32[](2);
        r[0] = alice;
        r[1] = bob;
        s[0] = 5000;
        s[1] = 4999;
        vm.expectRevert(RoyaltyVault.InvalidSplit.selector); // sum != 10000
        vault.createSplit(r, s);
        s[1] = 5000;
        r[1] = alice;
        vm.expectRevert(RoyaltyVault.InvalidSplit.selector); // duplicate
        vault.createSplit(r, s);
        r[1] = address(0);
        vm.expectRevert(RoyaltyVault.InvalidSplit.selector); // zero address
        vault.createSplit(r, s);
        r[1] = bob;
        s[0] = 10_000;
        s[1] = 0;
        vm.expectRevert(RoyaltyVault.InvalidSplit.selector); // zero share
        vault.createSplit(r, s);
        vm.expectRevert(RoyaltyVault.InvalidSplit.selector); // length mismatch
        vault.createSplit(r, new uint32[](1));
        vm.expectRevert(RoyaltyVault.InvalidSplit.selector); // empty
        vault.createSplit(new address[](0), new uint32[](0));
        address[] memory many = new address[](33);
        uint32[] memory manyShares = new uint32[](33);
        for (uint256 i = 0; i < 33; ++i) {
            many[i] = address(uint160(i + 1));
            manyShares[i] = i == 0 ? 10_000 - 32 * 300 : 300;
        }
        vm.expectRevert(RoyaltyVault.InvalidSplit.selector); // > 32 recipients
        vault.createSplit(many, manyShares);
    }

    function test_depositEthCreditsExactly() public {
        uint256 id = _split3();
        vm.deal(buyer, 1 ether);
        vm.expectEmit(true, true, true, true, address(vault));
        emit RoyaltyVault.Deposited(id, address(0), buyer, 1001);
        vm.prank(buyer);
        vault.deposit{value: 1001}(id, address(0), 1001);
        // floor(1001*3333/1e4)=333, floor(1001*1667/1e4)=166, first gets the rest 502
        vm.assertEq(vault.claimable(bob, address(0)), 333, "bob");
        vm.assertEq(vault.claimable(carol, address(0)), 166, "carol");
        vm.assertEq(vault.claimable(alice, address(0)), 502, "alice gets remainder");
        vm.assertEq(vault.totalOwed(address(0)), 1001, "owed");
        vm.assertEq(address(vault).balance, 1001, "held");
    }

    function test_RevertWhen_depositErrors() public {
        uint256 id = _split3();
        vm.deal(buyer, 1 ether);
        vm.startPrank(buyer);
        vm.expectRevert(abi.encodeWithSelector(RoyaltyVault.UnknownSplit.selector, 2));
        vault.deposit{value: 1}(2, address(0), 1);
        vm.expectRevert(abi.encodeWithSelector(RoyaltyVault.UnknownSplit.selector, 0));
        vault.deposit(0, address(0), 1);
        vm.expectRevert(abi.encodeWithSelector(RoyaltyVault.ValueMismatch.selector, 2, 1));
        vault.deposit{value: 1}(id, address(0), 2);
        vm.expectRevert(abi.encodeWithSelector(RoyaltyVault.ValueMismatch.selector, 0, 1));
        vault.deposit{value: 1}(id, address(usd), 1);
        vm.expectRevert(RoyaltyVault.ZeroAmount.selector);
        vault.deposit(id, address(0), 0);
        vm.stopPrank();
    }

    function test_depositAndClaimErc20() public {
        uint256 id = _split3();
        usd.mint(buyer, 10_000);
        vm.prank(buyer);
        usd.approve(address(vault), 10_000);
        vm.prank(buyer);
        vault.deposit(id, address(usd), 10_000);
        vm.assertEq(vault.claimable(alice, address(usd)), 5000, "alice");
        vm.assertEq(vault.claimable(alice, address(0)), 0, "currencies are separate");
        vm.expectEmit(true, true, false, true, address(vault));
        emit RoyaltyVault.Claimed(bob, address(usd), 3333);
        vm.prank(bob);
        vault.claim(address(usd));
        vm.assertEq(usd.balanceOf(bob), 3333, "paid");
        vm.assertEq(vault.claimable(bob, address(usd)), 0, "zeroed");
        vm.assertEq(vault.totalOwed(address(usd)), 10_000 - 3333, "owed");
        vm.assertEq(usd.balanceOf(address(vault)), 10_000 - 3333, "held");
    }

    function test_claimEth() public {
        uint256 id = _split1(alice);
        vm.deal(buyer, 1 ether);
        vm.prank(buyer);
        vault.deposit{value: 0.5 ether}(id, address(0), 0.5 ether);
        vm.prank(alice);
        uint256 got = vault.claim(address(0));
        vm.assertEq(got, 0.5 ether, "returned");
        vm.assertEq(alice.balance, 0.5 ether, "paid");
        vm.prank(alice);
        vm.expectRevert(RoyaltyVault.NothingToClaim.selector);
        vault.claim(address(0));
    }

    function test_RevertWhen_nothingToClaim() public {
        vm.prank(mallory);
        vm.expectRevert(RoyaltyVault.NothingToClaim.selector);
        vault.claim(address(usd));
    }

    function test_RevertWhen_recipientRejectsEth() public {
        // the vault itself cannot receive plain ETH, so it stands in for a rejecting recipient
        uint256 id = _split1(address(this));
        vm.deal(buyer, 1 ether);
        vm.prank(buyer);
        vault.deposit{value: 1 ether}(id, address(0), 1 ether);
        vm.expectRevert(RoyaltyVault.TransferFailed.selector);
        this.claimFromHere();
        vm.assertEq(vault.claimable(address(this), address(0)), 1 ether, "balance kept on failure");
    }

    function claimFromHere() external {
        vault.claim(address(0));
    }

    function test_reentrantClaimIsBlocked() public {
        ReentrantClaimer attacker = new ReentrantClaimer(vault);
        address[] memory r = new address[](2);
        r[0] = address(attacker);
        r[1] = alice;
        uint32[] memory s = new uint32[](2);
        s[0] = 5000;
        s[1] = 5000;
        uint256 id = vault.createSplit(r, s);
        vm.deal(buyer, 2 ether);
        vm.prank(buyer);
        vault.deposit{value: 2 ether}(id, address(0), 2 ether);
        attacker.attack();
        vm.assertEq(address(attacker).balance, 1 ether, "attacker got exactly its share");
        vm.assertEq(attacker.reentryError(), ReentrancyGuard.ReentrancyGuardReentrantCall.selector, "blocked");
        vm.assertEq(address(vault).balance, 1 ether, "alice's share stays");
        vm.assertEq(vault.claimable(alice, address(0)), 1 ether, "alice intact");
        vm.assertEq(vault.claimable(address(attacker), address(0)), 0, "attacker zeroed");
    }

    function testFuzz_splitArithmeticIsExact(uint256 seed, uint256 n, uint256 amount1, uint256 amount2) public {
        n = bound(n, 1, 32);
        amount1 = bound(amount1, 1, type(uint128).max);
        amount2 = bound(amount2, 1, type(uint128).max);
        address[] memory r = new address[](n);
        uint32[] memory s = new uint32[](n);
        uint256 left = 10_000 - n; // every share at least 1
        for (uint256 i = 0; i < n; ++i) {
            r[i] = address(uint160(uint256(keccak256(abi.encode(seed, i)))));
            uint256 extra = i == n - 1 ? left : uint256(keccak256(abi.encode(seed, i, "s"))) % (left + 1);
            left -= extra;
            s[i] = uint32(1 + extra);
        }
        uint256 id = vault.createSplit(r, s);
        vm.deal(buyer, amount1);
        vm.prank(buyer);
        vault.deposit{value: amount1}(id, address(0), amount1);
        usd.mint(buyer, amount2);
        vm.startPrank(buyer);
        usd.approve(address(vault), amount2);
        vault.deposit(id, address(usd), amount2);
        vm.stopPrank();
        uint256 sumEth = 0;
        uint256 sumUsd = 0;
        for (uint256 i = 0; i < n; ++i) {
            uint256 e = vault.claimable(r[i], address(0));
            uint256 u = vault.claimable(r[i], address(usd));
            if (i > 0) {
                vm.assertEq(e, amount1 * s[i] / 10_000, "floor share");
                vm.assertEq(u, amount2 * s[i] / 10_000, "floor share");
            }
            sumEth += e;
            sumUsd += u;
        }
        vm.assertEq(sumEth, amount1, "no wei lost or created (ETH)");
        vm.assertEq(sumUsd, amount2, "no unit lost or created (ERC-20)");
        vm.assertEq(vault.totalOwed(address(0)), address(vault).balance, "owed = held");
        vm.assertEq(vault.totalOwed(address(usd)), usd.balanceOf(address(vault)), "owed = held");
        vm.assertGe(vault.claimable(r[0], address(0)), amount1 * s[0] / 10_000, "first >= its floor");
        vm.assertLt(vault.claimable(r[0], address(0)), amount1 * s[0] / 10_000 + n, "remainder < n");
    }

    function test_assignSplitAndLookup() public {
        uint256 a = _split1(alice);
        uint256 b = _split1(bob);
        vm.expectEmit(true, true, false, true, address(vault));
        emit RoyaltyVault.SplitAssigned(a, uint64(N), 0, 4);
        _assignSplit(0, 4, a);
        _assignSplit(6, 10, b);
        vm.assertEq(vault.splitOfLeaf(0), a, "leaf 0");
        vm.assertEq(vault.splitOfLeaf(3), a, "leaf 3");
        vm.assertEq(vault.splitOfLeaf(4), 0, "gap");
        vm.assertEq(vault.splitOfLeaf(9), b, "leaf 9");
        vm.assertEq(vault.splitOfLeaf(10), 0, "after");
        uint256 t = _register(0, alice, 0);
        vm.assertEq(vault.splitOfToken(t), a, "token split");
        vm.assertEq(vault.splitOfToken(_tokenId(7)), 0, "unregistered token");
    }

    /// A split assigned into the gap before a stored range: each leaf keeps its own split.
    function test_assignSplitIntoAGap() public {
        uint256 a = _split1(alice);
        uint256 b = _split1(bob);
        _assignSplit(6, 10, b);
        _assignSplit(0, 4, a);
        _assignSplit(4, 6, b);
        vm.assertEq(vault.splitOfLeaf(3), a, "inserted before");
        vm.assertEq(vault.splitOfLeaf(5), b, "filled the gap");
        vm.assertEq(vault.splitOfLeaf(6), b, "first stored range");
        vm.assertEq(vault.splitOfLeaf(10), 0, "after");
        vm.assertEq(vault.splitOfToken(_register(0, alice, 0)), a, "token in the inserted range");
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(AnchoredRanges.RangeOverlap.selector, 3, 5));
        vault.assignSplit(uint64(N), 3, 5, a);
    }

    function test_RevertWhen_assignSplitErrors() public {
        uint256 a = _split1(alice);
        vm.startPrank(admin);
        vm.expectRevert(abi.encodeWithSelector(RoyaltyVault.UnknownSplit.selector, 2));
        vault.assignSplit(uint64(N), 0, 4, 2);
        vm.expectRevert(abi.encodeWithSelector(AnchoredRanges.RangeNotAnchored.selector, 16, 4));
        vault.assignSplit(16, 0, 4, a);
        vm.expectRevert(abi.encodeWithSelector(AnchoredRanges.InvalidRange.selector, 4, 0));
        vault.assignSplit(uint64(N), 4, 0, a);
        vault.assignSplit(uint64(N), 0, 4, a);
        vm.expectRevert(abi.encodeWithSelector(AnchoredRanges.RangeOverlap.selector, 3, 8));
        vault.assignSplit(uint64(N), 3, 8, a);
        vm.stopPrank();
        bytes32 role = vault.SPLIT_ASSIGNER_ROLE();
        vm.prank(mallory);
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, mallory, role));
        vault.assignSplit(uint64(N), 4, 8, a);
    }

    function test_RevertWhen_depositForErrors() public {
        uint256 t = _register(0, alice, 0);
        uint16[] memory none = new uint16[](0);
        vm.deal(buyer, 1 ether);
        vm.startPrank(buyer);
        vm.expectRevert(abi.encodeWithSelector(RoyaltyVault.UnknownToken.selector, 7));
        vault.depositFor{value: 1}(7, address(0), 1, none);
        vm.expectRevert(abi.encodeWithSelector(RoyaltyVault.NoSplit.selector, t));
        vault.depositFor{value: 1}(t, address(0), 1, none);
        vm.stopPrank();
        _assignSplit(0, 1, _split1(alice));
        vm.startPrank(buyer);
        vm.expectRevert(RoyaltyVault.InvalidUpstream.selector);
        vault.depositFor{value: 1}(t, address(0), 1, new uint16[](9));
        uint16[] memory tooMuch = new uint16[](2);
        tooMuch[0] = 6000;
        tooMuch[1] = 4001;
        vm.expectRevert(RoyaltyVault.InvalidUpstream.selector);
        vault.depositFor{value: 1}(t, address(0), 1, tooMuch);
        tooMuch[1] = 4000;
        vault.depositFor{value: 100}(t, address(0), 100, tooMuch); // no parent: all to own split
        vm.stopPrank();
        vm.assertEq(vault.claimable(alice, address(0)), 100, "own split keeps unpaid upstream");
    }

    function testFuzz_depositForConservesValue(uint256 amount, uint16 bpsParent, uint16 bpsGrand) public {
        amount = bound(amount, 1, type(uint128).max);
        bpsParent = uint16(bound(bpsParent, 0, 10_000));
        bpsGrand = uint16(bound(bpsGrand, 0, 10_000 - bpsParent));
        // chain 0 <- 1 <- 2, splits alice / bob / carol
        _attach(0, 2, templates.NON_COMMERCIAL_REMIX());
        _assignSplit(0, 1, _split1(alice));
        _assignSplit(1, 2, _split1(bob));
        _assignSplit(2, 3, _split1(carol));
        uint256 a = _register(0, alice, 0);
        uint256 b = _register(1, bob, a);
        uint256 c = _register(2, carol, b);
        uint16[] memory stack = new uint16[](2);
        stack[0] = bpsParent;
        stack[1] = bpsGrand;
        vm.deal(buyer, amount);
        vm.prank(buyer);
        vault.depositFor{value: amount}(c, address(0), amount, stack);
        uint256 toB = vault.claimable(bob, address(0));
        uint256 toA = vault.claimable(alice, address(0));
        uint256 toC = vault.claimable(carol, address(0));
        vm.assertEq(toB, amount * bpsParent / 10_000, "parent LAP share");
        vm.assertEq(toA, amount * bpsGrand / 10_000, "grandparent LAP share");
        vm.assertEq(toA + toB + toC, amount, "conserved");
    }
}
