// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {UGCRewardsFromLogTest} from "./UGCRewardsFromLog.t.sol";
import {RefMerkle} from "./utils/RefMerkle.sol";
import {UGCRewards} from "../src/UGCRewards.sol";

/// @notice Attacks on attestations bound to creators (hostile2): a copier logs the fan's public
/// leaf in its own log and races the fan, before the attestation, after it, across an attester
/// rotation, and after the DAO removes the attester. (The parent's tests run again here: the
/// attacks reuse its set-up and helpers.)
contract UGCRewardsAttestAttackTest is UGCRewardsFromLogTest {
    address internal attester = makeAddr("attester");

    /// @dev The copier (fan2) logs and anchors the fan's leaf 2 in its own log and holds a licence.
    function _copierSubmits(bytes memory err) internal {
        _license(fan2, ids[0]);
        UGCRewards.LoggedChild memory c = children[2];
        bytes32[] memory leaves = new bytes32[](1);
        leaves[0] = fanLeaves[2];
        bytes32[] memory consistency = RefMerkle.consistency(leaves, 0, 1);
        bytes32 root = RefMerkle.root(leaves, 1);
        vm.prank(fan2);
        fan2Log.anchor(1, root, consistency);
        (c.leafIndex, c.checkpointSize) = (0, 1);
        bytes32[] memory proof = RefMerkle.inclusion(leaves, 0, 1);
        if (err.length != 0) vm.expectRevert(err);
        vm.prank(fan2);
        rewards.submitFromLog(fan2Log, c, proof, remix);
    }

    function _attestForFan() internal {
        vm.prank(brand);
        rewards.setAttester(attester);
        vm.prank(attester);
        rewards.attest(_vouch(2, fan));
    }

    function test_attack_copierRacingTheAttestationIsRefused() public {
        vm.prank(brand);
        rewards.setAttester(attester);
        uint256 child = uint256(children[2].cidDigest);
        _copierSubmits(abi.encodeWithSelector(UGCRewards.NotAttested.selector, child));
        vm.prank(attester);
        rewards.attest(_vouch(2, fan));
        _license(fan, ids[0]);
        vm.assertEq(_submit(fan, fanLog, 2), REWARD, "the fan earns");
    }

    function test_attack_copierCannotGetTheChildReattestedToItself() public {
        _attestForFan();
        uint256 child = uint256(children[2].cidDigest);
        vm.expectRevert(abi.encodeWithSelector(UGCRewards.AlreadyAttested.selector, child, fan));
        vm.prank(attester);
        rewards.attest(_vouch(2, fan2)); // an attester fooled later cannot move the reward
        vm.expectRevert(abi.encodeWithSelector(UGCRewards.NotAttester.selector, fan2));
        vm.prank(fan2);
        rewards.attest(_vouch(2, fan2));
    }

    function test_attack_attestationOutlivesAnAttesterRotation() public {
        _attestForFan();
        vm.prank(brand);
        rewards.setAttester(makeAddr("new attester"));
        uint256 child = uint256(children[2].cidDigest);
        _copierSubmits(abi.encodeWithSelector(UGCRewards.AttestedForAnother.selector, child, fan));
    }

    /// The DAO removes the attester (setAttester(0), e.g. between two services): a child already
    /// attested for the fan stays the fan's (the check returned early without an attester, and the
    /// copier who raced the fan was paid).
    function test_attack_attestationOutlivesTheAttestersRemoval() public {
        _attestForFan();
        vm.prank(brand);
        rewards.setAttester(address(0));
        uint256 child = uint256(children[2].cidDigest);
        _copierSubmits(abi.encodeWithSelector(UGCRewards.AttestedForAnother.selector, child, fan));
        vm.assertEq(rewards.owed(fan2), 0, "nothing owed to the copier");
    }
}
