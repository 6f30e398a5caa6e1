// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {MintTest} from "./utils/MintTest.sol";
import {TestERC20} from "./utils/TestERC20.sol";
import {RoyaltyShares} from "../src/RoyaltyShares.sol";
import {RoyaltyVault} from "../src/RoyaltyVault.sol";

/// @notice Random transfers, ETH and ERC-20 revenue, distributions and claims among four holders,
/// recording revenue paid in, revenue claimed and every transfer that changed someone's accrual.
contract SharesHandler is MintTest {
    RoyaltyShares public immutable shares;
    TestERC20 public immutable usd;
    address[4] public actors;
    mapping(address currency => uint256) public paidIn;
    mapping(address currency => uint256) public claimedOut;
    uint256 public accrualMoved; // transfers that changed any holder's accrued amount
    uint256 public overClaims; // claims that paid more than the claimant had accrued
    uint256 public transfers;
    uint256 public claims;

    constructor(RoyaltyShares s, TestERC20 u, address[4] memory a) {
        shares = s;
        usd = u;
        actors = a;
    }

    function transfer(uint256 from, uint256 to, uint256 amount) external {
        address a = actors[from % 4];
        address b = actors[to % 4];
        amount = bound(amount, 0, shares.balanceOf(a));
        uint256[4] memory eth = _accruals(address(0));
        uint256[4] memory tok = _accruals(address(usd));
        vm.prank(a);
        shares.transfer(b, amount);
        ++transfers;
        if (!_same(eth, _accruals(address(0))) || !_same(tok, _accruals(address(usd)))) ++accrualMoved;
    }

    function payEth(uint256 amount, bool distribute) external {
        amount = bound(amount, 1, 100 ether);
        vm.deal(address(this), amount);
        (bool ok,) = address(shares).call{value: amount}("");
        require(ok, "eth");
        paidIn[address(0)] += amount;
        if (distribute) shares.distribute(address(0));
    }

    function payUsd(uint256 amount, bool distribute) external {
        amount = bound(amount, 1, 1e30);
        usd.mint(address(shares), amount);
        paidIn[address(usd)] += amount;
        if (distribute) shares.distribute(address(usd));
    }

    function claim(uint256 who, bool eth) external {
        address a = actors[who % 4];
        address currency = eth ? address(0) : address(usd);
        uint256 due = shares.claimable(a, currency);
        uint256 accrued = shares.accrued(a, currency);
        if (due == 0) return;
        vm.prank(a);
        uint256 got = shares.claim(currency);
        claimedOut[currency] += got;
        ++claims;
        if (got != due || shares.claimed(a, currency) > accrued) ++overClaims;
    }

    function _accruals(address currency) private view returns (uint256[4] memory out) {
        for (uint256 i = 0; i < 4; ++i) {
            out[i] = shares.accrued(actors[i], currency);
        }
    }

    function _same(uint256[4] memory x, uint256[4] memory y) private pure returns (bool) {
        for (uint256 i = 0; i < 4; ++i) {
            if (x[i] != y[i]) return false;
        }
        return true;
    }
}

abstract contract SharesInvariantBase is MintTest {
    uint256 internal constant SUPPLY = 1_000_003; // odd on purpose: pro-rata shares rarely divide
    SharesHandler internal handler;
    RoyaltyShares internal shares;
    TestERC20 internal usd;
    address[4] internal actors;

    function setUp() public {
        actors = [makeAddr("brand"), makeAddr("a"), makeAddr("b"), makeAddr("c")];
        usd = new TestERC20();
        address[] memory currencies = new address[](1);
        currencies[0] = address(usd);
        shares = new RoyaltyShares("shares", "SHR", actors[0], SUPPLY, RoyaltyVault(payable(address(0))), currencies);
        handler = new SharesHandler(shares, usd, actors);
    }

    /// @dev credited = Σ(claimable + claimed) + dust, with dust < one wei per holder and held by
    /// the contract; revenue not yet distributed is still in the contract's balance.
    function _assertConserved(address currency) internal view {
        (uint256 credited, uint256 held) = shares.totals(currency);
        uint256 owed = 0;
        uint256 claimedSum = 0;
        for (uint256 i = 0; i < 4; ++i) {
            owed += shares.claimable(actors[i], currency);
            claimedSum += shares.claimed(actors[i], currency);
            vm.assertLe(shares.claimed(actors[i], currency), shares.accrued(actors[i], currency), "claimed <= accrued");
        }
        vm.assertEq(claimedSum, handler.claimedOut(currency), "claimed as paid out");
        vm.assertLe(owed + claimedSum, credited, "never more than credited");
        uint256 dust = credited - owed - claimedSum;
        vm.assertLt(dust, 4, "dust under one wei per holder");
        vm.assertEq(held, owed + dust, "held = claimable + dust");
        uint256 balance = currency == address(0) ? address(shares).balance : usd.balanceOf(address(shares));
        vm.assertEq(
            balance + handler.claimedOut(currency), handler.paidIn(currency), "every wei paid in is here or claimed"
        );
        vm.assertGe(balance, held, "solvent");
    }
}

contract RoyaltySharesInvariantTest is SharesInvariantBase {
    function targetContracts() public view returns (address[] memory t) {
        t = new address[](1);
        t[0] = address(handler);
    }

    /// forge-config: default.invariant.runs = 32
    /// forge-config: default.invariant.depth = 48
    function invariant_revenueConservedToTheWei() public view {
        _assertConserved(address(0));
        _assertConserved(address(usd));
    }

    /// forge-config: default.invariant.runs = 32
    /// forge-config: default.invariant.depth = 48
    function invariant_transfersNeverMoveAccrual() public view {
        vm.assertEq(handler.accrualMoved(), 0, "no transfer changed an accrual");
    }

    /// forge-config: default.invariant.runs = 32
    /// forge-config: default.invariant.depth = 48
    function invariant_claimsNeverExceedAccrual() public view {
        vm.assertEq(handler.overClaims(), 0, "no claim beyond the accrual");
    }
}

/// @notice The handler does what the invariants rely on (so they are not vacuous).
contract SharesHandlerTest is SharesInvariantBase {
    function test_handlerMovesRevenueAndShares() public {
        handler.transfer(0, 1, SUPPLY / 3);
        handler.payEth(1 ether + 7, true);
        handler.payUsd(1e18 + 1, false);
        handler.transfer(1, 2, SUPPLY / 7);
        handler.payUsd(5, true);
        handler.claim(1, true);
        handler.claim(0, false);
        vm.assertEq(handler.transfers(), 2, "transfers ran");
        vm.assertEq(handler.claims(), 2, "claims paid");
        vm.assertGt(handler.claimedOut(address(0)), 0, "eth claimed");
        vm.assertGt(handler.claimedOut(address(usd)), 0, "usd claimed");
        vm.assertEq(handler.accrualMoved(), 0, "accruals stayed");
        _assertConserved(address(0));
        _assertConserved(address(usd));
    }
}
