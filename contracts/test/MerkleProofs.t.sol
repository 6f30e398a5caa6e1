// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {MintTest} from "./utils/MintTest.sol";
import {RefMerkle} from "./utils/RefMerkle.sol";
import {MerkleProofs} from "../src/MerkleProofs.sol";

/// @dev External wrapper so proofs are passed as calldata, as in production.
contract ProofsHarness {
    function inclusion(uint256 index, uint256 size, bytes32 leaf, bytes32[] calldata proof, bytes32 root)
        external
        view
        returns (bool)
    {
        return MerkleProofs.verifyInclusion(index, size, leaf, proof, root);
    }

    function consistency(uint256 m, uint256 n, bytes32[] calldata proof, bytes32 oldRoot, bytes32 newRoot)
        external
        view
        returns (bool)
    {
        return MerkleProofs.verifyConsistency(m, n, proof, oldRoot, newRoot);
    }
}

contract MerkleProofsTest is MintTest {
    ProofsHarness internal h;
    bytes32[] internal ctLeaves;

    function setUp() public {
        h = new ProofsHarness();
        bytes[8] memory data = [
            bytes(hex""), hex"00", hex"10", hex"2021", hex"3031", hex"40414243", hex"5051525354555657",
            hex"606162636465666768696a6b6c6d6e6f"
        ];
        for (uint256 i = 0; i < 8; ++i) ctLeaves.push(RefMerkle.leaf(data[i]));
    }

    // --- public RFC 6962 vectors ---------------------------------------------------------------
    function test_referenceRoots() public view {
        bytes32[] memory l = ctLeaves;
        vm.assertEq(RefMerkle.root(l, 1), hex"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d", "1");
        vm.assertEq(RefMerkle.root(l, 5), hex"4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4", "5");
        vm.assertEq(RefMerkle.root(l, 8), hex"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328", "8");
    }

    function test_inclusionVector_leaf5_size8() public view {
        bytes32[] memory proof = new bytes32[](3);
        proof[0] = hex"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b";
        proof[1] = hex"ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0";
        proof[2] = hex"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7";
        bytes32 root = hex"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328";
        vm.assertTrue(h.inclusion(5, 8, ctLeaves[5], proof, root), "vector verifies");
        vm.assertFalse(h.inclusion(4, 8, ctLeaves[5], proof, root), "wrong index");
    }

    function test_consistencyVector_6_to_8() public view {
        bytes32[] memory proof = new bytes32[](3);
        proof[0] = hex"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a";
        proof[1] = hex"ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0";
        proof[2] = hex"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7";
        bytes32 r6 = hex"76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef";
        bytes32 r8 = hex"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328";
        vm.assertTrue(h.consistency(6, 8, proof, r6, r8), "vector verifies");
        vm.assertFalse(h.consistency(6, 8, proof, r8, r8), "wrong old root");
    }

    // --- properties ------------------------------------------------------------------------------
    function testFuzz_inclusionRoundTrip(uint256 seed, uint256 n, uint256 m) public view {
        n = bound(n, 1, 70);
        m = bound(m, 0, n - 1);
        bytes32[] memory l = RefMerkle.leaves(seed, n);
        bytes32[] memory proof = RefMerkle.inclusion(l, m, n);
        bytes32 root = RefMerkle.root(l, n);
        vm.assertTrue(h.inclusion(m, n, l[m], proof, root), "valid proof verifies");
        if (n > 1) vm.assertFalse(h.inclusion((m + 1) % n, n, l[m], proof, root), "wrong index fails");
        if (proof.length > 0) {
            proof[seed % proof.length] ^= bytes32(uint256(1));
            vm.assertFalse(h.inclusion(m, n, l[m], proof, root), "altered node fails");
        }
    }

    function testFuzz_consistencyRoundTrip(uint256 seed, uint256 n, uint256 m) public view {
        n = bound(n, 1, 70);
        m = bound(m, 1, n);
        bytes32[] memory l = RefMerkle.leaves(seed, n);
        bytes32[] memory proof = RefMerkle.consistency(l, m, n);
        bytes32 oldRoot = RefMerkle.root(l, m);
        bytes32 newRoot = RefMerkle.root(l, n);
        vm.assertTrue(h.consistency(m, n, proof, oldRoot, newRoot), "valid proof verifies");
        if (m < n) {
            proof[seed % proof.length] ^= bytes32(uint256(1));
            vm.assertFalse(h.consistency(m, n, proof, oldRoot, newRoot), "altered node fails");
            _assertForkRejected(seed, n, m, oldRoot);
        }
    }

    /// @dev A fork: rewrite one old leaf and prove the new tree from the forked old tree.
    function _assertForkRejected(uint256 seed, uint256 n, uint256 m, bytes32 oldRoot) internal view {
        bytes32[] memory forked = RefMerkle.leaves(seed, n);
        forked[seed % m] = RefMerkle.leaf("forged");
        bytes32[] memory forkProof = RefMerkle.consistency(forked, m, n);
        bytes32 forkRoot = RefMerkle.root(forked, n);
        vm.assertFalse(h.consistency(m, n, forkProof, oldRoot, forkRoot), "fork is inconsistent");
    }

    /// @dev RFC 9162 leaves PROOF(0, n) undefined: from size 0 nothing verifies, even an empty proof.
    function testFuzz_consistencyFromSizeZeroNeverVerifies(uint256 seed, uint256 n, uint8 len) public view {
        n = bound(n, 0, 70);
        bytes32[] memory l = RefMerkle.leaves(seed, n == 0 ? 1 : n);
        bytes32 newRoot = RefMerkle.root(l, n == 0 ? 1 : n);
        bytes32[] memory proof = new bytes32[](bound(len, 0, 3));
        for (uint256 i = 0; i < proof.length; ++i) proof[i] = l[i % l.length];
        bytes32 emptyRoot = sha256("");
        vm.assertFalse(h.consistency(0, n, proof, emptyRoot, newRoot), "size 0 with the empty root");
        vm.assertFalse(h.consistency(0, n, proof, bytes32(0), newRoot), "size 0 with a zero root");
        vm.assertFalse(h.consistency(0, n, proof, newRoot, newRoot), "size 0 with the new root");
    }

    function testFuzz_garbageNeverVerifiesOrReverts(uint256 a, uint256 b, bytes32 x, uint8 len) public view {
        bytes32[] memory proof = new bytes32[](bound(len, 0, 70));
        for (uint256 i = 0; i < proof.length; ++i) proof[i] = keccak256(abi.encode(x, i));
        uint256 size = bound(b, 0, type(uint64).max);
        vm.assertFalse(h.inclusion(a, size, x, proof, x), "garbage inclusion");
        vm.assertFalse(h.consistency(bound(a, 1, 1 << 40), size, proof, x, ~x), "garbage consistency");
    }
}
