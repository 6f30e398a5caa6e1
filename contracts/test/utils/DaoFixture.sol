// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";
import {Fixture} from "./Fixture.sol";
import {CreativeGovernor} from "../../src/CreativeGovernor.sol";
import {FamilyConfig} from "../../src/FamilyConfig.sol";
import {RoyaltyShares} from "../../src/RoyaltyShares.sol";
import {UGCRewards} from "../../src/UGCRewards.sol";

/// @notice A campaign family over the Fixture log: leaves [0, 10) (the chain 0 <- 1 <- … <- 9)
/// are the family; 10 <- 11 <- 12 are outside it. Every leaf carries the non-commercial remix
/// terms (free, derivatives allowed) and the commercial-use terms (no derivatives), and one split
/// whose only recipient (the owner role) is the family's RoyaltyShares.
abstract contract DaoFixture is Fixture {
    uint256 internal constant SUPPLY = 1_000_000 ether;
    uint256 internal constant EPOCH = 1 days;
    address internal brand = makeAddr("brand");
    address internal fan = makeAddr("fan");
    address internal fan2 = makeAddr("fan2");
    address internal outsider = makeAddr("outsider");

    RoyaltyShares internal shares;
    FamilyConfig internal family;
    UGCRewards internal rewards;
    uint256 internal remix;
    uint256 internal useOnly;

    function setUp() public virtual override {
        super.setUp();
        _anchor(0, N);
        remix = templates.NON_COMMERCIAL_REMIX();
        useOnly = templates.COMMERCIAL_USE();
        _attach(0, 13, remix);
        _attach(0, 13, useOnly);
        address[] memory none = new address[](0);
        shares = new RoyaltyShares("Spring campaign shares", "SPRING", brand, SUPPLY, vault, none);
        _assignSplit(0, 13, _split1(address(shares))); // the family's owner role is the share token
        family = new FamilyConfig(brand, assets, templates, templates.COMMERCIAL_REMIX());
        vm.prank(brand);
        family.addRange(uint64(N), 0, 10);
        rewards = new UGCRewards(brand, market, family, EPOCH);
    }

    /// @dev Registers the chain 0 <- 1 <- … <- last: 0 to the brand, derivative i to `creators[i % 2]`.
    function _registerChain(uint256 last) internal returns (uint256[] memory ids) {
        ids = new uint256[](last + 1);
        ids[0] = _register(0, brand, 0);
        for (uint256 i = 1; i <= last; ++i) {
            ids[i] = _register(i, i % 2 == 1 ? fan : fan2, ids[i - 1]);
        }
    }

    /// @dev `who` buys one (free) remix licence of `parent`.
    function _license(address who, uint256 parent) internal {
        vm.prank(who);
        market.buyLicense(parent, remix, 1, who);
    }

    /// @dev The family owner opens the pool: `reward` per child, `cap` per creator per epoch, `budget`.
    function _openPool(address owner, uint256 reward, uint256 cap, uint256 budget, uint256 funding) internal {
        vm.startPrank(owner);
        rewards.setReward(reward);
        rewards.setCreatorCap(cap);
        rewards.setBudgetCap(budget);
        vm.stopPrank();
        vm.deal(owner, funding);
        vm.prank(owner);
        rewards.fund{value: funding}();
    }

    function _newTimelock(uint256 delay) internal returns (TimelockController timelock, CreativeGovernor governor) {
        address[] memory none = new address[](0);
        address[] memory anyone = new address[](1); // address(0): anyone executes a ready operation
        timelock = new TimelockController(delay, none, anyone, address(this));
        governor = new CreativeGovernor("Spring DAO", shares, timelock, 1, 50, 0, 4);
        timelock.grantRole(timelock.PROPOSER_ROLE(), address(governor));
        timelock.grantRole(timelock.CANCELLER_ROLE(), address(governor));
        timelock.renounceRole(timelock.DEFAULT_ADMIN_ROLE(), address(this));
    }
}
