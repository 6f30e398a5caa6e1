// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {DaoFixture} from "./utils/DaoFixture.sol";
import {RefMerkle} from "./utils/RefMerkle.sol";
import {ProvenanceLog} from "../src/ProvenanceLog.sol";
import {UGCRewards} from "../src/UGCRewards.sol";

/// @notice A contract that answers yes to every log question (a forged ProvenanceLog).
contract YesLog {
    function hasRole(bytes32, address) external pure returns (bool) {
        return true;
    }

    function isAnchored(uint64) external pure returns (bool) {
        return true;
    }

    function verifyInclusion(bytes32, uint64, uint64, bytes32[] calldata) external pure returns (bool) {
        return true;
    }
}

/// @notice UGC rewards for a child logged in ANOTHER organisation's ProvenanceLog (the fan's own
/// log, anchored by the fan): proven there, claimed only by that log's admin, once per child CID.
contract UGCRewardsFromLogTest is DaoFixture {
    uint256 internal constant REWARD = 0.05 ether;
    uint256 internal constant FAN_LEAVES = 6;
    bytes4 internal constant RAW = 0x01551220;

    ProvenanceLog internal fanLog;
    ProvenanceLog internal fan2Log;
    uint256[] internal ids;
    bytes32[] internal fanLeaves;
    UGCRewards.LoggedChild[] internal children;

    function setUp() public override {
        super.setUp();
        ids = _registerChain(1); // 0 brand's family asset, 1 a brand-log derivative (fan's token)
        _openPool(brand, REWARD, 3, 1 ether, 1 ether);
        fanLog = new ProvenanceLog(fan, fan);
        fan2Log = new ProvenanceLog(fan2, fan2);
        // the fan's log: leaves 0-1 unrelated, 2-5 children of family asset 0 (leaf 5 of asset 10, outside it)
        for (uint256 i = 0; i < FAN_LEAVES; ++i) {
            bytes32 d = sha256(abi.encodePacked("fan child", i));
            bytes32 m = keccak256(abi.encodePacked("fan manifest", i));
            uint256 parent = i == 5 ? _tokenId(10) : ids[0];
            children.push(UGCRewards.LoggedChild(d, m, parent, false, false, uint64(i), uint64(FAN_LEAVES)));
            bytes memory data = i < 2 ? abi.encodePacked(RAW, d, m) : abi.encodePacked(RAW, d, m, RAW, bytes32(parent));
            fanLeaves.push(RefMerkle.leaf(data));
        }
        _anchorFan(fanLog, fan, 0, 2);
        _anchorFan(fanLog, fan, 2, FAN_LEAVES);
        _register(10, outsider, 0); // a registered asset outside the family
    }

    function _anchorFan(ProvenanceLog l, address owner, uint256 oldSize, uint256 newSize) internal {
        bytes32[] memory leaves = fanLeaves;
        bytes32[] memory proof = RefMerkle.consistency(leaves, oldSize, newSize);
        bytes32 root = RefMerkle.root(leaves, newSize); // before the prank: sha256 is a call
        vm.prank(owner);
        l.anchor(uint64(newSize), root, proof);
    }

    function _fanProof(uint256 i, uint256 size) internal view returns (bytes32[] memory) {
        bytes32[] memory leaves = fanLeaves;
        return RefMerkle.inclusion(leaves, i, size);
    }

    function _submit(address who, ProvenanceLog l, uint256 i) internal returns (uint256) {
        UGCRewards.LoggedChild memory c = children[i];
        bytes32[] memory proof = _fanProof(i, FAN_LEAVES);
        vm.prank(who);
        return rewards.submitFromLog(l, c, proof, remix);
    }

    /// @dev `_submit` expecting revert `err` (the proof is built first: sha256 is a call).
    function _refused(address who, ProvenanceLog l, uint256 i, bytes memory err) internal {
        UGCRewards.LoggedChild memory c = children[i];
        bytes32[] memory proof = _fanProof(i, FAN_LEAVES);
        vm.expectRevert(err);
        vm.prank(who);
        rewards.submitFromLog(l, c, proof, remix);
    }

    function test_childInTheFansOwnLogEarnsOnceAndClaims() public {
        _license(fan, ids[0]);
        uint256 child = uint256(children[2].cidDigest);
        vm.expectEmit(true, true, true, true, address(rewards));
        emit UGCRewards.RewardGranted(child, ids[0], fan, REWARD);
        vm.expectEmit(true, true, true, true, address(rewards));
        emit UGCRewards.ChildProvenInLog(child, address(fanLog), 2, uint64(FAN_LEAVES));
        vm.assertEq(_submit(fan, fanLog, 2), REWARD, "granted");
        vm.assertTrue(rewards.isRewarded(child), "recorded by child CID");
        vm.assertFalse(assets.isRegistered(child), "no token was minted: the child lives in the fan's log");
        vm.prank(fan);
        rewards.claim();
        vm.assertEq(fan.balance, REWARD, "paid by pull");
    }

    function test_gasOfARegistration() public {
        _license(fan, ids[0]);
        UGCRewards.LoggedChild memory c = children[3];
        bytes32[] memory proof = _fanProof(3, FAN_LEAVES);
        vm.prank(fan);
        rewards.submitFromLog(fanLog, c, proof, remix);
        uint256 used = vm.lastCallGas().gasTotalUsed;
        vm.assertGt(used, 20_000, "the call was measured");
        vm.assertLt(used, 200_000, "a registration from another organisation's log stays cheap");
    }

    function test_replayedProofRefused() public {
        _license(fan, ids[0]);
        _submit(fan, fanLog, 2);
        _refused(fan, fanLog, 2, abi.encodeWithSelector(UGCRewards.AlreadyRewarded.selector, children[2].cidDigest));
        // replayed by someone else against the fan's log: not their log
        _license(fan2, ids[0]);
        _refused(fan2, fanLog, 3, abi.encodeWithSelector(UGCRewards.NotLogOwner.selector, address(fanLog), fan2));
    }

    function test_otherOrganisationsLeafRefused() public {
        // fan2's own log holds fan2's leaves; the fan's proof does not prove anything there
        _license(fan2, ids[0]);
        bytes32[] memory fans = fanLeaves;
        for (uint256 i = 0; i < FAN_LEAVES; ++i) {
            fanLeaves[i] = keccak256(abi.encodePacked("fan2 leaf", i));
        }
        _anchorFan(fan2Log, fan2, 0, FAN_LEAVES);
        fanLeaves = fans;
        _refused(fan2, fan2Log, 2, abi.encodeWithSelector(UGCRewards.NotInLog.selector, address(fan2Log), uint64(2)));
        // and the fan's log, where the leaf is, belongs to the fan: no squatting its leaf
        _refused(fan2, fanLog, 2, abi.encodeWithSelector(UGCRewards.NotLogOwner.selector, address(fanLog), fan2));
        // an anchorer the fan's log admits is not its owner either
        bytes32 anchorerRole = fanLog.ANCHORER_ROLE();
        vm.prank(fan);
        fanLog.grantRole(anchorerRole, fan2);
        _refused(fan2, fanLog, 2, abi.encodeWithSelector(UGCRewards.NotLogOwner.selector, address(fanLog), fan2));
    }

    function test_rootNotAnchoredRefused() public {
        _license(fan, ids[0]);
        UGCRewards.LoggedChild memory c = children[2];
        c.checkpointSize = 4; // a real tree size, never anchored (the fan anchored 2 then 6)
        bytes32[] memory proof = _fanProof(2, 4);
        vm.expectRevert(abi.encodeWithSelector(UGCRewards.CheckpointNotAnchored.selector, address(fanLog), 4));
        vm.prank(fan);
        rewards.submitFromLog(fanLog, c, proof, remix);
    }

    function test_otherChainIdRefused() public {
        // on another chain the fan anchors a log of 6 leaves; on this one its log holds only 2
        ProvenanceLog here = new ProvenanceLog(fan, fan);
        _anchorFan(here, fan, 0, 2);
        uint256 state = vm.snapshotState();
        vm.chainId(8453);
        _anchorFan(here, fan, 2, FAN_LEAVES);
        bytes32[] memory proof = _fanProof(2, FAN_LEAVES);
        vm.assertTrue(here.verifyInclusion(fanLeaves[2], 2, uint64(FAN_LEAVES), proof), "valid there");
        vm.assertTrue(vm.revertToState(state), "back on this chain");
        vm.chainId(31337);
        _license(fan, ids[0]);
        vm.expectRevert(abi.encodeWithSelector(UGCRewards.CheckpointNotAnchored.selector, address(here), FAN_LEAVES));
        vm.prank(fan);
        rewards.submitFromLog(here, children[2], proof, remix);
        // a log deployed only on the other chain has no code here
        vm.expectRevert(abi.encodeWithSelector(UGCRewards.NotAProvenanceLog.selector, address(0xbeef)));
        vm.prank(fan);
        rewards.submitFromLog(ProvenanceLog(address(0xbeef)), children[2], proof, remix);
    }

    function test_forgedLogContractRefused() public {
        _license(fan, ids[0]);
        YesLog yes = new YesLog();
        UGCRewards.LoggedChild memory c = children[2];
        c.cidDigest = keccak256("never logged anywhere");
        vm.expectRevert(abi.encodeWithSelector(UGCRewards.NotAProvenanceLog.selector, address(yes)));
        vm.prank(fan);
        rewards.submitFromLog(ProvenanceLog(address(yes)), c, new bytes32[](0), remix);
    }

    function test_parentLicenceAndNearCopyRulesAsToday() public {
        // no licence
        _refused(fan, fanLog, 2, abi.encodeWithSelector(UGCRewards.NoLicence.selector, ids[0], remix));
        // parent outside the family (leaf 5 names asset 10)
        _license(fan, _tokenId(10));
        _refused(fan, fanLog, 5, abi.encodeWithSelector(UGCRewards.ParentNotInFamily.selector, _tokenId(10)));
        // a leaf that names no parent cannot be passed off as a child of one
        _license(fan, ids[0]);
        _refused(fan, fanLog, 0, abi.encodeWithSelector(UGCRewards.NotInLog.selector, address(fanLog), uint64(0)));
        // with an attester, an unattested child (a near copy never vouched for) earns nothing
        address attester = makeAddr("attester");
        vm.prank(brand);
        rewards.setAttester(attester);
        _refused(fan, fanLog, 2, abi.encodeWithSelector(UGCRewards.NotAttested.selector, uint256(children[2].cidDigest)));
        vm.prank(attester);
        rewards.attest(_vouch(2, fan));
        vm.assertEq(_submit(fan, fanLog, 2), REWARD, "attested child earns");
    }

    /// @dev A copier takes the fan's attested, not yet rewarded child (its leaf data is public),
    /// logs and anchors it in the copier's own log, holds a licence and submits first: refused,
    /// the attestation names the fan. The fan still earns afterwards.
    function test_copierFrontRunningAnAttestedChildRefused() public {
        address attester = makeAddr("attester");
        vm.prank(brand);
        rewards.setAttester(attester);
        vm.prank(attester);
        rewards.attest(_vouch(2, fan));
        _license(fan2, ids[0]);
        UGCRewards.LoggedChild memory c = children[2];
        bytes32[] memory leaves = new bytes32[](1);
        leaves[0] = fanLeaves[2]; // the same leaf: same child CID, manifest and parent
        bytes32[] memory consistency = RefMerkle.consistency(leaves, 0, 1);
        bytes32 root = RefMerkle.root(leaves, 1);
        vm.prank(fan2);
        fan2Log.anchor(1, root, consistency);
        (c.leafIndex, c.checkpointSize) = (0, 1);
        bytes32[] memory proof = RefMerkle.inclusion(leaves, 0, 1);
        uint256 child = uint256(c.cidDigest);
        vm.expectRevert(abi.encodeWithSelector(UGCRewards.AttestedForAnother.selector, child, fan));
        vm.prank(fan2);
        rewards.submitFromLog(fan2Log, c, proof, remix);
        vm.assertFalse(rewards.isRewarded(child), "the copier took nothing");
        _license(fan, ids[0]);
        vm.assertEq(_submit(fan, fanLog, 2), REWARD, "the fan still earns");
        vm.assertEq(rewards.owed(fan2), 0, "nothing owed to the copier");
    }

    /// @dev The fan's leaf names the parent; an attestation for another parent (the attester
    /// compared the child with that one) does not cover it.
    function test_attestedForAnotherParentRefused() public {
        address attester = makeAddr("attester");
        vm.prank(brand);
        rewards.setAttester(attester);
        UGCRewards.Attestation[] memory list = new UGCRewards.Attestation[](1);
        list[0] = UGCRewards.Attestation(uint256(children[3].cidDigest), ids[1], fan);
        vm.prank(attester);
        rewards.attest(list);
        _license(fan, ids[0]);
        _refused(
            fan,
            fanLog,
            3,
            abi.encodeWithSelector(UGCRewards.AttestedForOtherParent.selector, uint256(children[3].cidDigest), ids[1])
        );
    }

    function _vouch(uint256 i, address creator) internal view returns (UGCRewards.Attestation[] memory list) {
        list = new UGCRewards.Attestation[](1);
        list[0] = UGCRewards.Attestation(uint256(children[i].cidDigest), children[i].parent, creator);
    }

    /// @dev A registered child's leaf data is public: another organisation that copies it into its
    /// own log and anchors it earns nothing (the owner earns through `submit`).
    function test_registeredChildCopiedIntoAnotherLogRefused() public {
        _license(fan2, ids[0]);
        bytes32 m = keccak256("fan2's claim");
        bytes32[] memory leaves = new bytes32[](1);
        leaves[0] = RefMerkle.leaf(abi.encodePacked(RAW, bytes32(ids[1]), m, RAW, bytes32(ids[0])));
        bytes32[] memory consistency = RefMerkle.consistency(leaves, 0, 1);
        bytes32 root = RefMerkle.root(leaves, 1);
        vm.prank(fan2);
        fan2Log.anchor(1, root, consistency);
        UGCRewards.LoggedChild memory c = UGCRewards.LoggedChild(bytes32(ids[1]), m, ids[0], false, false, 0, 1);
        bytes32[] memory proof = RefMerkle.inclusion(leaves, 0, 1);
        vm.expectRevert(abi.encodeWithSelector(UGCRewards.RegisteredChild.selector, ids[1], fan));
        vm.prank(fan2);
        rewards.submitFromLog(fan2Log, c, proof, remix);
        vm.assertFalse(rewards.isRewarded(ids[1]), "nothing recorded");
    }

    function test_capAndBudgetCountBothPaths() public {
        vm.prank(brand);
        rewards.setCreatorCap(2);
        _license(fan, ids[0]);
        vm.prank(fan);
        rewards.submit(ids[1], remix); // a brand-log child
        _submit(fan, fanLog, 2); // a fan-log child
        uint256 epoch = rewards.currentEpoch();
        _refused(fan, fanLog, 3, abi.encodeWithSelector(UGCRewards.CreatorCapReached.selector, fan, epoch));
        vm.warp(block.timestamp + EPOCH);
        vm.prank(brand);
        rewards.setBudgetCap(3 * REWARD);
        _submit(fan, fanLog, 3);
        _refused(fan, fanLog, 4, abi.encodeWithSelector(UGCRewards.OverBudget.selector, 3 * REWARD, 3 * REWARD));
    }

    /// @dev A forged proof, index or size never earns, and leaves nothing recorded.
    function testFuzz_forgedProofsRefused(uint256 which, uint256 flip, uint64 index, bytes32 junk) public {
        _license(fan, ids[0]);
        uint256 i = bound(which, 2, 4);
        bytes32[] memory proof = _fanProof(i, FAN_LEAVES);
        UGCRewards.LoggedChild memory c = children[i];
        uint256 mode = flip % 4;
        if (mode == 0) {
            proof[flip % proof.length] ^= junk == bytes32(0) ? bytes32(uint256(1)) : junk;
        } else if (mode == 1) {
            vm.assume(index != c.leafIndex && index < FAN_LEAVES);
            c.leafIndex = index;
        } else if (mode == 2) {
            c.manifestHash ^= junk == bytes32(0) ? bytes32(uint256(1)) : junk;
        } else {
            vm.assume(junk != bytes32(0) && uint256(junk) != c.parent);
            c.parent = uint256(junk);
        }
        vm.prank(fan);
        vm.expectRevert();
        rewards.submitFromLog(fanLog, c, proof, remix);
        vm.assertFalse(rewards.isRewarded(uint256(c.cidDigest)), "nothing recorded");
        vm.assertEq(rewards.owed(fan), 0, "nothing owed");
    }

    /// @dev Only the log's admin earns from it, whoever submits a valid proof.
    function testFuzz_onlyTheLogOwnerEarns(address caller) public {
        vm.assume(caller != fan && caller != address(0));
        _license(fan, ids[0]);
        _refused(caller, fanLog, 2, abi.encodeWithSelector(UGCRewards.NotLogOwner.selector, address(fanLog), caller));
    }
}
