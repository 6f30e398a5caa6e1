// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {MintTest} from "./utils/MintTest.sol";
import {RefMerkle} from "./utils/RefMerkle.sol";
import {ProvenanceLog} from "../src/ProvenanceLog.sol";
import {LineageRegistry} from "../src/LineageRegistry.sol";
import {ContributorRoyalties} from "../src/ContributorRoyalties.sol";

contract ContributorRoyaltiesTest is MintTest {
    LineageRegistry internal reg;
    ContributorRoyalties internal cr;
    address internal admin = makeAddr("admin");
    address internal curator = makeAddr("curator");
    address internal mallory = makeAddr("mallory");
    address[3] internal people = [makeAddr("ann"), makeAddr("bob"), makeAddr("cyd")];
    uint256[3] internal amounts = [uint256(333), 333, 333]; // 1000 wei over 3 equal weights: 1 dust
    uint256 internal dsId;
    bytes32[] internal leaves;

    function setUp() public {
        reg = new LineageRegistry(admin, new ProvenanceLog(admin, admin));
        cr = new ContributorRoyalties(reg);
        vm.prank(curator);
        dsId = reg.registerDatasetFiles(keccak256("m"), bytes32(0), "CC-BY-4.0", true, keccak256("r"), 3);
        for (uint64 i = 0; i < 3; ++i) {
            leaves.push(RefMerkle.leaf(cr.leafData(dsId, 1, i, people[i], amounts[i])));
        }
        vm.deal(curator, 10 ether);
        bytes32 root = RefMerkle.root(leaves, 3); // before the prank: precompile calls consume pranks
        vm.prank(curator);
        cr.distribute{value: 1000}(dsId, 1, root, 3, 999);
    }

    function _claim(uint64 i) internal {
        cr.claim(dsId, 1, i, people[i], amounts[i], RefMerkle.inclusion(leaves, i, 3));
    }

    function test_everyContributorClaimsOnceAndDustIsAccounted() public {
        for (uint64 i = 0; i < 3; ++i) {
            _claim(i);
            vm.assertEq(people[i].balance, amounts[i], "paid its amount");
            vm.assertTrue(cr.isClaimed(dsId, 1, i), "marked");
        }
        ContributorRoyalties.Distribution memory d = cr.distribution(dsId, 1);
        vm.assertEq(uint256(d.claimed), 999, "all allocated claimed");
        vm.assertEq(uint256(d.dust), 1, "the rounding remainder is recorded");
        vm.assertEq(cr.dustOf(curator), 1, "owed back to the curator");
        uint256 before = curator.balance;
        vm.prank(curator);
        cr.withdrawDust();
        vm.assertEq(curator.balance, before + 1, "dust returned");
        vm.assertEq(address(cr).balance, 0, "nothing stuck: claimed + dust = funded");
    }

    function test_RevertWhen_claimedTwice() public {
        _claim(1);
        bytes32[] memory proof = RefMerkle.inclusion(leaves, 1, 3);
        vm.expectRevert(abi.encodeWithSelector(ContributorRoyalties.AlreadyClaimed.selector, dsId, 1, 1));
        cr.claim(dsId, 1, 1, people[1], amounts[1], proof);
    }

    function test_RevertWhen_proofIsWrong() public {
        bytes32[] memory proof = RefMerkle.inclusion(leaves, 0, 3);
        vm.expectRevert(ContributorRoyalties.InvalidProof.selector);
        cr.claim(dsId, 1, 0, mallory, amounts[0], proof); // someone else's leaf, redirected
        vm.expectRevert(ContributorRoyalties.InvalidProof.selector);
        cr.claim(dsId, 1, 0, people[0], amounts[0] + 1, proof); // inflated amount
        vm.expectRevert(ContributorRoyalties.InvalidProof.selector);
        cr.claim(dsId, 1, 1, people[0], amounts[0], proof); // another index
        proof[0] = bytes32(uint256(proof[0]) ^ 1);
        vm.expectRevert(ContributorRoyalties.InvalidProof.selector);
        cr.claim(dsId, 1, 0, people[0], amounts[0], proof); // tampered sibling
        vm.expectRevert(abi.encodeWithSelector(ContributorRoyalties.UnknownDistribution.selector, dsId, 2));
        cr.claim(dsId, 2, 0, people[0], amounts[0], RefMerkle.inclusion(leaves, 0, 3)); // other epoch
    }

    function test_RevertWhen_notCuratorOrRepostedOrUnderfunded() public {
        vm.deal(mallory, 1 ether);
        vm.prank(mallory);
        vm.expectRevert(abi.encodeWithSelector(ContributorRoyalties.NotCurator.selector, dsId, mallory));
        cr.distribute{value: 10}(dsId, 2, keccak256("x"), 1, 10);
        vm.startPrank(curator);
        vm.expectRevert(abi.encodeWithSelector(ContributorRoyalties.DistributionExists.selector, dsId, 1));
        cr.distribute{value: 10}(dsId, 1, keccak256("x"), 1, 10);
        vm.expectRevert(abi.encodeWithSelector(ContributorRoyalties.Underfunded.selector, 11, 10));
        cr.distribute{value: 10}(dsId, 2, keccak256("x"), 1, 11);
        vm.expectRevert(ContributorRoyalties.EmptyDistribution.selector);
        cr.distribute{value: 10}(dsId, 2, bytes32(0), 1, 10);
        vm.stopPrank();
    }

    /// @dev A wrong tree (leaves summing past `allocated`) can never drain other epochs' funds.
    function test_RevertWhen_treeOverAllocates() public {
        bytes32[] memory bad = new bytes32[](2);
        bad[0] = RefMerkle.leaf(cr.leafData(dsId, 2, 0, people[0], 80));
        bad[1] = RefMerkle.leaf(cr.leafData(dsId, 2, 1, people[1], 80));
        bytes32 root = RefMerkle.root(bad, 2);
        vm.prank(curator);
        cr.distribute{value: 100}(dsId, 2, root, 2, 100);
        cr.claim(dsId, 2, 0, people[0], 80, RefMerkle.inclusion(bad, 0, 2));
        vm.expectRevert(abi.encodeWithSelector(ContributorRoyalties.ExceedsAllocation.selector, 20, 80));
        cr.claim(dsId, 2, 1, people[1], 80, RefMerkle.inclusion(bad, 1, 2));
    }

    /// @dev Rounding: for any total and weights, floor shares + dust = total and all claims succeed.
    function testFuzz_roundingDustAccounted(uint96 total, uint16 w0, uint16 w1, uint16 w2) public {
        uint256[3] memory w = [uint256(w0) + 1, uint256(w1) + 1, uint256(w2) + 1];
        uint256 sum = w[0] + w[1] + w[2];
        bytes32[] memory ls = new bytes32[](3);
        uint256[3] memory a;
        uint256 allocated;
        for (uint64 i = 0; i < 3; ++i) {
            a[i] = uint256(total) * w[i] / sum;
            allocated += a[i];
            ls[i] = RefMerkle.leaf(cr.leafData(dsId, 7, i, people[i], a[i]));
        }
        vm.deal(curator, uint256(total));
        bytes32 root = RefMerkle.root(ls, 3);
        vm.prank(curator);
        cr.distribute{value: total}(dsId, 7, root, 3, uint128(allocated));
        for (uint64 i = 0; i < 3; ++i) {
            cr.claim(dsId, 7, i, people[i], a[i], RefMerkle.inclusion(ls, i, 3));
        }
        vm.assertEq(uint256(cr.distribution(dsId, 7).dust) + allocated, uint256(total), "dust + paid = total");
        vm.assertLt(uint256(cr.distribution(dsId, 7).dust), 3, "dust below one wei per contributor");
    }
}
