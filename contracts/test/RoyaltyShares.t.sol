// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {Fixture} from "./utils/Fixture.sol";
import {RoyaltyShares} from "../src/RoyaltyShares.sol";
import {RoyaltyVault} from "../src/RoyaltyVault.sol";

/// @notice A share holder whose ETH hook tries to claim again (and to move its shares away).
contract ReentrantHolder {
    RoyaltyShares internal immutable shares;
    address internal immutable accomplice;
    bytes4 public reentryError;
    uint256 public received;

    constructor(RoyaltyShares s, address a) {
        shares = s;
        accomplice = a;
    }

    function claim() external {
        shares.claim(address(0));
    }

    receive() external payable {
        received += msg.value;
        if (reentryError != bytes4(0)) return;
        try shares.claim(address(0)) {}
        catch (bytes memory reason) {
            // forge-lint: disable-next-line(unsafe-typecast)
            reentryError = bytes4(reason);
        }
        shares.transfer(accomplice, shares.balanceOf(address(this))); // shares move, accrual stays
    }
}

abstract contract SharesBase is Fixture {
    uint256 internal constant SUPPLY = 1_000_000 ether;
    bytes32 internal constant PERMIT_TYPEHASH =
        keccak256("Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)");
    address internal brand = makeAddr("brand");
    address internal bob = makeAddr("bob");
    address internal carol = makeAddr("carol");
    RoyaltyShares internal shares;

    function setUp() public virtual override {
        super.setUp();
        address[] memory currencies = new address[](1);
        currencies[0] = address(usd);
        shares = new RoyaltyShares("Spring campaign shares", "SPRING", brand, SUPPLY, vault, currencies);
    }

    function _payEth(uint256 amount) internal {
        vm.deal(address(this), amount);
        (bool ok,) = address(shares).call{value: amount}("");
        vm.assertTrue(ok, "plain ETH accepted");
        shares.distribute(address(0));
    }

    function _give(address to, uint256 amount) internal {
        vm.prank(brand);
        shares.transfer(to, amount);
    }
}

contract RoyaltySharesTest is SharesBase {
    function test_fixedSupplyMintedToBrand() public view {
        vm.assertEq(shares.totalSupply(), SUPPLY, "supply");
        vm.assertEq(shares.balanceOf(brand), SUPPLY, "all to the brand");
        address[] memory c = shares.currencies();
        vm.assertEq(c.length, 2, "ETH and usd");
        vm.assertEq(c[0], address(0), "ETH first");
        vm.assertEq(c[1], address(usd), "then usd");
    }

    function test_ethRevenueSplitsProRata() public {
        _give(bob, SUPPLY * 3 / 10);
        vm.deal(address(shares), 10 ether);
        vm.expectEmit(true, false, false, true, address(shares));
        emit RoyaltyShares.RevenueDistributed(address(0), 10 ether, 10 ether);
        shares.distribute(address(0));
        vm.assertEq(shares.claimable(brand, address(0)), 7 ether, "brand 70%");
        vm.assertEq(shares.claimable(bob, address(0)), 3 ether, "bob 30%");
        vm.prank(bob);
        vm.assertEq(shares.claim(address(0)), 3 ether, "bob claims");
        vm.assertEq(bob.balance, 3 ether, "paid");
        vm.assertEq(shares.claimable(bob, address(0)), 0, "nothing left");
        vm.assertEq(shares.claimed(bob, address(0)), 3 ether, "recorded");
        vm.prank(bob);
        vm.expectRevert(RoyaltyShares.NothingToClaim.selector);
        shares.claim(address(0));
    }

    /// A transfer after revenue leaves the revenue with the seller; later revenue follows the shares.
    function test_transferNeverMovesAccruedRevenue() public {
        _payEth(1 ether);
        _give(bob, SUPPLY / 2);
        vm.assertEq(shares.claimable(brand, address(0)), 1 ether, "the seller keeps what accrued");
        vm.assertEq(shares.claimable(bob, address(0)), 0, "the buyer gets none of it");
        _payEth(1 ether);
        vm.assertEq(shares.claimable(brand, address(0)), 1.5 ether, "half the new revenue");
        vm.assertEq(shares.claimable(bob, address(0)), 0.5 ether, "half the new revenue");
        // a round trip back changes nothing either
        vm.prank(bob);
        shares.transfer(brand, SUPPLY / 2);
        vm.assertEq(shares.claimable(bob, address(0)), 0.5 ether, "bob keeps his");
    }

    function test_erc20Revenue() public {
        _give(carol, SUPPLY / 4);
        usd.mint(address(shares), 1000e6);
        vm.assertEq(shares.distribute(address(usd)), 1000e6, "distributed");
        vm.assertEq(shares.distribute(address(usd)), 0, "nothing new");
        vm.prank(carol);
        shares.claim(address(usd));
        vm.assertEq(usd.balanceOf(carol), 250e6, "a quarter");
        vm.assertEq(shares.claimable(brand, address(usd)), 750e6, "three quarters");
    }

    /// The owner role of a real split: a licence sale pays the vault, collect pulls it here.
    function test_collectsTheOwnerRoleFromTheVault() public {
        _anchor(0, N);
        address platform = makeAddr("platform");
        address[] memory r = new address[](2);
        r[0] = address(shares);
        r[1] = platform;
        uint32[] memory s = new uint32[](2);
        s[0] = 8000;
        s[1] = 2000;
        uint256 splitId = vault.createSplit(r, s);
        _assignSplit(20, 21, splitId);
        _attach(20, 21, templates.COMMERCIAL_USE());
        uint256 tokenId = _register(20, brand, 0);
        _give(bob, SUPPLY * 3 / 10);
        vm.deal(buyer, 1 ether);
        uint256 termsId = templates.COMMERCIAL_USE();
        vm.prank(buyer);
        market.buyLicense{value: STANDARD_FEE}(tokenId, termsId, 1, buyer);
        vm.assertEq(shares.collect(address(0)), STANDARD_FEE * 8 / 10, "the owner role's 80%");
        vm.assertEq(shares.claimable(bob, address(0)), STANDARD_FEE * 8 * 3 / 100, "bob 30% of it");
        vm.assertEq(shares.claimable(brand, address(0)), STANDARD_FEE * 8 * 7 / 100, "brand 70% of it");
        vm.assertEq(vault.claimable(platform, address(0)), STANDARD_FEE * 2 / 10, "platform untouched");
        vm.assertEq(shares.collect(address(0)), 0, "nothing twice");
        // an ERC-2981 royalty paid by plain transfer to the split's receiver arrives the same way
        (bool ok,) = vault.receiverOf(splitId).call{value: 0}("");
        vm.assertTrue(ok, "receiver");
        vm.deal(address(this), 1 ether);
        (ok,) = vault.receiverOf(splitId).call{value: 1 ether}("");
        vm.assertTrue(ok, "royalty paid");
        vault.flush(splitId, address(0));
        vm.assertEq(shares.collect(address(0)), 0.8 ether, "royalty's owner share");
    }

    function test_unknownCurrencyRefused() public {
        address other = makeAddr("other");
        vm.expectRevert(abi.encodeWithSelector(RoyaltyShares.UnknownCurrency.selector, other));
        shares.distribute(other);
        vm.expectRevert(abi.encodeWithSelector(RoyaltyShares.UnknownCurrency.selector, other));
        shares.claim(other);
        vm.expectRevert(abi.encodeWithSelector(RoyaltyShares.UnknownCurrency.selector, other));
        shares.collect(other);
    }

    function test_constructorRefusals() public {
        address[] memory none = new address[](0);
        vm.expectRevert(abi.encodeWithSelector(RoyaltyShares.InvalidSupply.selector, 0));
        new RoyaltyShares("x", "X", brand, 0, vault, none);
        uint256 tooMany = uint256(type(uint128).max) + 1;
        vm.expectRevert(abi.encodeWithSelector(RoyaltyShares.InvalidSupply.selector, tooMany));
        new RoyaltyShares("x", "X", brand, tooMany, vault, none);
        vm.expectRevert(RoyaltyShares.ZeroAddress.selector);
        new RoyaltyShares("x", "X", address(0), 1, vault, none);
        address[] memory dup = new address[](2);
        dup[0] = address(usd);
        dup[1] = address(usd);
        vm.expectRevert(abi.encodeWithSelector(RoyaltyShares.DuplicateCurrency.selector, address(usd)));
        new RoyaltyShares("x", "X", brand, 1, vault, dup);
        address[] memory eth = new address[](1);
        vm.expectRevert(abi.encodeWithSelector(RoyaltyShares.DuplicateCurrency.selector, address(0)));
        new RoyaltyShares("x", "X", brand, 1, vault, eth);
        address[] memory many = new address[](5);
        vm.expectRevert(abi.encodeWithSelector(RoyaltyShares.TooManyCurrencies.selector, 5));
        new RoyaltyShares("x", "X", brand, 1, vault, many);
    }

    /// A holder re-entering claim from its ETH hook is refused; it is paid once, and moving its
    /// shares away inside the hook moves none of its accrual.
    function test_claimReentrancyRefused() public {
        ReentrantHolder attacker = new ReentrantHolder(shares, carol);
        _give(address(attacker), SUPPLY / 2);
        _payEth(2 ether);
        attacker.claim();
        vm.assertEq(attacker.reentryError(), ReentrancyGuard.ReentrancyGuardReentrantCall.selector, "refused");
        vm.assertEq(attacker.received(), 1 ether, "paid exactly once");
        vm.assertEq(shares.claimable(address(attacker), address(0)), 0, "nothing left");
        vm.assertEq(shares.claimable(carol, address(0)), 0, "the accomplice got no accrual");
        vm.assertEq(address(shares).balance, 1 ether, "the brand's half stays");
    }

    function test_forceSentEthIsRevenueAtNextDistribution() public {
        vm.deal(address(shares), 5 ether); // as a selfdestruct would
        _give(bob, SUPPLY / 5);
        vm.assertEq(shares.distribute(address(0)), 5 ether, "swept in");
        vm.assertEq(shares.claimable(bob, address(0)), 1 ether, "pro rata");
    }

    function test_revenueCappedSoProductsFit() public {
        uint256 max = shares.MAX_REVENUE();
        vm.deal(address(shares), max + 1);
        vm.expectRevert(abi.encodeWithSelector(RoyaltyShares.RevenueTooLarge.selector, max + 1));
        shares.distribute(address(0));
    }

    function test_votesFollowDelegationNotRevenue() public {
        _give(bob, SUPPLY / 10);
        vm.prank(bob);
        shares.delegate(bob);
        vm.prank(brand);
        shares.delegate(brand);
        vm.roll(block.number + 1);
        vm.assertEq(shares.getVotes(bob), SUPPLY / 10, "bob's votes");
        vm.assertEq(shares.getPastVotes(brand, block.number - 1), SUPPLY * 9 / 10, "brand's votes");
    }

    function test_permitApprovesBySignature() public {
        uint256 pk = 0xB0B;
        address owner = vm.addr(pk);
        _give(owner, 100);
        uint256 deadline = block.timestamp + 1 hours;
        bytes32 structHash = keccak256(abi.encode(PERMIT_TYPEHASH, owner, bob, 100, 0, deadline));
        bytes32 digest = keccak256(abi.encodePacked("\x19\x01", shares.DOMAIN_SEPARATOR(), structHash));
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(pk, digest);
        shares.permit(owner, bob, 100, deadline, v, r, s);
        vm.assertEq(shares.allowance(owner, bob), 100, "approved");
        vm.assertEq(shares.nonces(owner), 1, "nonce used");
        vm.prank(bob);
        shares.transferFrom(owner, bob, 100);
        vm.assertEq(shares.balanceOf(bob), 100, "moved");
    }

    function testFuzz_transferKeepsAccrued(uint256 first, uint256 moved, uint256 second) public {
        first = bound(first, 1, 1000 ether);
        second = bound(second, 1, 1000 ether);
        moved = bound(moved, 1, SUPPLY - SUPPLY / 3);
        _give(bob, SUPPLY / 3);
        _payEth(first);
        uint256 brandBefore = shares.accrued(brand, address(0));
        uint256 bobBefore = shares.accrued(bob, address(0));
        _give(carol, moved);
        vm.assertEq(shares.accrued(brand, address(0)), brandBefore, "seller unchanged");
        vm.assertEq(shares.accrued(carol, address(0)), 0, "buyer gets no past revenue");
        vm.assertEq(shares.accrued(bob, address(0)), bobBefore, "bystander unchanged");
        _payEth(second);
        uint256 total =
            shares.accrued(brand, address(0)) + shares.accrued(bob, address(0)) + shares.accrued(carol, address(0));
        vm.assertLe(total, first + second, "never more than credited");
        vm.assertGe(total + 3, first + second, "dust under one wei per holder");
    }

    function testFuzz_proRataIsTheFloor(uint256 revenue, uint256 held) public {
        revenue = bound(revenue, 1, 1e30);
        held = bound(held, 1, SUPPLY - 1);
        _give(bob, held);
        _payEth(revenue);
        vm.assertEq(shares.claimable(bob, address(0)), revenue * held / SUPPLY, "the floor of the exact share");
        vm.assertEq(shares.claimable(brand, address(0)), revenue * (SUPPLY - held) / SUPPLY, "the same for the brand");
    }
}
