// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IGovernor} from "@openzeppelin/contracts/governance/IGovernor.sol";
import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {DaoFixture} from "./utils/DaoFixture.sol";
import {AnchoredRanges} from "../src/AnchoredRanges.sol";
import {CreativeGovernor} from "../src/CreativeGovernor.sol";
import {FamilyConfig} from "../src/FamilyConfig.sol";
import {LicenseTemplates} from "../src/LicenseTemplates.sol";
import {UGCRewards} from "../src/UGCRewards.sol";

contract CreativeDAOTest is DaoFixture {
    uint256 internal constant DELAY = 2 days;
    uint8 internal constant AGAINST = 0;
    uint8 internal constant FOR = 1;
    address internal investor = makeAddr("investor");
    address internal minnow = makeAddr("minnow");
    TimelockController internal timelock;
    CreativeGovernor internal governor;

    function setUp() public override {
        super.setUp();
        (timelock, governor) = _newTimelock(DELAY);
        vm.startPrank(brand);
        shares.transfer(investor, SUPPLY * 30 / 100); // the brand sells 30%
        shares.transfer(minnow, SUPPLY / 100);
        shares.delegate(brand);
        family.transferOwnership(address(timelock));
        rewards.transferOwnership(address(timelock));
        vm.stopPrank();
        vm.prank(investor);
        shares.delegate(investor);
        vm.prank(minnow);
        shares.delegate(minnow);
        vm.deal(address(timelock), 5 ether); // the DAO treasury
        vm.roll(block.number + 1);
    }

    /// @dev Raise the family's licence fee (new terms for new leaves) and fund and cap the pool.
    function _proposal()
        internal
        returns (address[] memory targets, uint256[] memory values, bytes[] memory calls, uint256 raised)
    {
        LicenseTemplates.Terms memory t = templates.terms(templates.COMMERCIAL_REMIX());
        t.mintingFee = 0.02 ether;
        raised = templates.registerTerms(t); // anyone registers terms; the DAO adopts them
        targets = new address[](5);
        values = new uint256[](5);
        calls = new bytes[](5);
        targets[0] = address(family);
        calls[0] = abi.encodeCall(FamilyConfig.setNewLeafTerms, (raised));
        for (uint256 i = 1; i < 5; ++i) {
            targets[i] = address(rewards);
        }
        calls[1] = abi.encodeCall(UGCRewards.setReward, (0.05 ether));
        calls[2] = abi.encodeCall(UGCRewards.setCreatorCap, (3));
        calls[3] = abi.encodeCall(UGCRewards.setBudgetCap, (1 ether));
        calls[4] = abi.encodeCall(UGCRewards.fund, ());
        values[4] = 1 ether;
    }

    function test_proposalLifecycleRaisesFeeAndFundsThePool() public {
        (address[] memory targets, uint256[] memory values, bytes[] memory calls, uint256 raised) = _proposal();
        string memory description = "Raise the remix licence fee to 0.02 ETH and fund the UGC pool with 1 ETH";
        vm.prank(investor);
        uint256 id = governor.propose(targets, values, calls, description);
        vm.assertEq(uint256(governor.state(id)), uint256(IGovernor.ProposalState.Pending), "pending");
        vm.roll(block.number + governor.votingDelay() + 1);
        vm.prank(brand);
        governor.castVote(id, FOR);
        vm.prank(investor);
        governor.castVote(id, AGAINST);
        vm.roll(block.number + governor.votingPeriod());
        vm.assertEq(uint256(governor.state(id)), uint256(IGovernor.ProposalState.Succeeded), "69% for");
        bytes32 descriptionHash = keccak256(bytes(description));
        governor.queue(targets, values, calls, descriptionHash);
        vm.assertEq(uint256(governor.state(id)), uint256(IGovernor.ProposalState.Queued), "queued");
        bytes32 salt = bytes20(address(governor)) ^ descriptionHash;
        bytes32 op = timelock.hashOperationBatch(targets, values, calls, 0, salt);
        vm.expectRevert( // the timelock's delay has not passed
            abi.encodeWithSelector(
                TimelockController.TimelockUnexpectedOperationState.selector,
                op,
                bytes32(1 << uint8(TimelockController.OperationState.Ready))
            )
        );
        governor.execute(targets, values, calls, descriptionHash);
        vm.warp(block.timestamp + DELAY);
        governor.execute(targets, values, calls, descriptionHash);
        vm.assertEq(uint256(governor.state(id)), uint256(IGovernor.ProposalState.Executed), "executed");
        vm.assertEq(family.newLeafTerms(), raised, "the higher fee applies to new leaves");
        (uint256 reward, uint256 cap, uint256 budget,,,,) = rewards.parameters();
        vm.assertEq(reward, 0.05 ether, "reward");
        vm.assertEq(cap, 3, "cap");
        vm.assertEq(budget, 1 ether, "budget");
        vm.assertEq(rewards.available(), 1 ether, "pool funded from the treasury");
        vm.assertEq(address(timelock).balance, 4 ether, "treasury spent");
    }

    function test_failedQuorumDefeatsTheProposal() public {
        (address[] memory targets, uint256[] memory values, bytes[] memory calls,) = _proposal();
        string memory description = "Fund the pool (only the minnow votes)";
        vm.prank(minnow);
        uint256 id = governor.propose(targets, values, calls, description);
        vm.roll(block.number + governor.votingDelay() + 1);
        vm.prank(minnow);
        governor.castVote(id, FOR); // 1% for, 0 against: a majority, but under the 4% quorum
        vm.roll(block.number + governor.votingPeriod());
        vm.assertEq(governor.quorum(governor.proposalSnapshot(id)), SUPPLY * 4 / 100, "quorum 4% of the supply");
        vm.assertEq(uint256(governor.state(id)), uint256(IGovernor.ProposalState.Defeated), "defeated");
        bytes32 descriptionHash = keccak256(bytes(description));
        vm.expectRevert(
            abi.encodeWithSelector(
                IGovernor.GovernorUnexpectedProposalState.selector,
                id,
                IGovernor.ProposalState.Defeated,
                bytes32(1 << uint8(IGovernor.ProposalState.Succeeded))
            )
        );
        governor.queue(targets, values, calls, descriptionHash);
        vm.assertEq(rewards.available(), 0, "nothing funded");
        vm.assertEq(address(timelock).balance, 5 ether, "treasury intact");
    }

    /// The issue's demo on chain: the DAO funds the pool, a licence sale pays holders pro rata, a
    /// fan's licensed derivative earns, everyone claims, and every wei reconciles.
    function test_demoFlowReconciles() public {
        (address[] memory targets, uint256[] memory values, bytes[] memory calls,) = _proposal();
        vm.prank(investor);
        uint256 id = governor.propose(targets, values, calls, "fund");
        vm.roll(block.number + governor.votingDelay() + 1);
        vm.prank(brand);
        governor.castVote(id, FOR);
        vm.roll(block.number + governor.votingPeriod());
        governor.queue(targets, values, calls, keccak256("fund"));
        vm.warp(block.timestamp + DELAY);
        governor.execute(targets, values, calls, keccak256("fund"));

        uint256 ad = _register(0, brand, 0);
        vm.deal(buyer, 1 ether);
        vm.prank(buyer);
        market.buyLicense{value: STANDARD_FEE}(ad, useOnly, 1, buyer);
        shares.collect(address(0));
        _license(fan, ad);
        uint256 remixed = _register(1, fan, ad);
        vm.prank(fan);
        rewards.submit(remixed, remix);

        address[4] memory people = [brand, investor, minnow, fan];
        uint256[4] memory expected = [STANDARD_FEE * 69 / 100, STANDARD_FEE * 30 / 100, STANDARD_FEE / 100, 0];
        for (uint256 i = 0; i < 3; ++i) {
            vm.prank(people[i]);
            vm.assertEq(shares.claim(address(0)), expected[i], "pro rata licence revenue");
        }
        vm.prank(fan);
        vm.assertEq(rewards.claim(), 0.05 ether, "the fan's reward");
        vm.assertEq(address(shares).balance, 0, "every wei of revenue claimed");
        vm.assertEq(address(rewards).balance, 0.95 ether, "pool keeps the rest");
        vm.assertEq(address(timelock).balance, 4 ether, "treasury");
    }

    /// The family's rights sit with the timelock alone: neither the brand nor a voter bypasses it.
    function test_onlyTheTimelockGovernsTheFamily() public {
        uint256 termsId = templates.COMMERCIAL_USE();
        vm.prank(brand);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, brand));
        family.setNewLeafTerms(termsId);
        vm.prank(investor);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, investor));
        rewards.setReward(1 ether);
        bytes32 proposer = timelock.PROPOSER_ROLE();
        vm.prank(brand);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, brand, proposer)
        );
        timelock.schedule(address(family), 0, "", bytes32(0), bytes32(0), DELAY);
        vm.assertTrue(timelock.hasRole(proposer, address(governor)), "only the governor proposes");
    }

    /// Votes count at the snapshot: shares bought after a proposal do not vote on it.
    function test_sharesBoughtAfterTheSnapshotDoNotVote() public {
        (address[] memory targets, uint256[] memory values, bytes[] memory calls,) = _proposal();
        vm.prank(minnow);
        uint256 id = governor.propose(targets, values, calls, "late buyer");
        vm.roll(block.number + governor.votingDelay() + 1);
        vm.prank(brand);
        shares.transfer(minnow, SUPPLY / 2);
        vm.prank(minnow);
        governor.castVote(id, FOR);
        (, uint256 forVotes,) = governor.proposalVotes(id);
        vm.assertEq(forVotes, SUPPLY / 100, "only the snapshot's 1% counts");
    }

    function test_familyRangesAndTerms() public view {
        vm.assertTrue(family.containsLeaf(0), "first leaf");
        vm.assertTrue(family.containsLeaf(9), "last leaf");
        vm.assertFalse(family.containsLeaf(10), "outside");
        vm.assertEq(family.newLeafTerms(), templates.COMMERCIAL_REMIX(), "initial terms");
    }

    function test_familyRefusesUnknownTermsAndUnanchoredRanges() public {
        vm.prank(address(timelock));
        vm.expectRevert(abi.encodeWithSelector(FamilyConfig.UnknownTerms.selector, 999));
        family.setNewLeafTerms(999);
        vm.prank(address(timelock));
        vm.expectRevert(abi.encodeWithSelector(AnchoredRanges.RangeNotAnchored.selector, uint64(N) + 1, 22));
        family.addRange(uint64(N) + 1, 20, 22); // checkpoint N+1 was never anchored
    }
}
