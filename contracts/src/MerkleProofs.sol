// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title RFC 9162 Merkle proof verification
/// @notice Inclusion (§2.1.3.2) and consistency (§2.1.4.2) proof verification for the
/// Certificate Transparency v2 tree: leaf = SHA-256(0x00 ‖ data), node = SHA-256(0x01 ‖ l ‖ r).
/// Uses the SHA-256 precompile. Malformed proofs make the functions return false, never revert.
library MerkleProofs {
    /// @dev Proofs longer than this cannot belong to a tree of fewer than 2^64 leaves.
    uint256 internal constant MAX_PROOF_LENGTH = 64;

    function hashLeaf(bytes memory data) internal pure returns (bytes32) {
        return sha256(abi.encodePacked(bytes1(0x00), data));
    }

    function hashChildren(bytes32 left, bytes32 right) internal pure returns (bytes32) {
        return sha256(abi.encodePacked(bytes1(0x01), left, right));
    }

    /// @notice Root recomputed from an audit path; `ok` is false for a malformed proof.
    function rootFromInclusionProof(uint256 index, uint256 size, bytes32 leafHash, bytes32[] calldata proof)
        internal
        pure
        returns (bool ok, bytes32 root)
    {
        if (index >= size || proof.length > MAX_PROOF_LENGTH) return (false, bytes32(0));
        uint256 fn = index;
        uint256 sn = size - 1;
        bytes32 r = leafHash;
        for (uint256 i = 0; i < proof.length; ++i) {
            if (sn == 0) return (false, bytes32(0));
            if (fn & 1 == 1 || fn == sn) {
                r = hashChildren(proof[i], r);
                if (fn & 1 == 0) {
                    while (fn != 0 && fn & 1 == 0) {
                        fn >>= 1;
                        sn >>= 1;
                    }
                }
            } else {
                r = hashChildren(r, proof[i]);
            }
            fn >>= 1;
            sn >>= 1;
        }
        if (sn != 0) return (false, bytes32(0));
        return (true, r);
    }

    function verifyInclusion(uint256 index, uint256 size, bytes32 leafHash, bytes32[] calldata proof, bytes32 root)
        internal
        pure
        returns (bool)
    {
        (bool ok, bytes32 computed) = rootFromInclusionProof(index, size, leafHash, proof);
        return ok && computed == root;
    }

    /// @notice True iff `proof` shows the tree of `oldSize` leaves with root `oldRoot` is a
    /// prefix of the tree of `newSize` leaves with root `newRoot`. `oldSize` 0 is undefined in
    /// RFC 9162 and never verifies: a log's first checkpoint is handled by its caller.
    function verifyConsistency(
        uint256 oldSize,
        uint256 newSize,
        bytes32[] calldata proof,
        bytes32 oldRoot,
        bytes32 newRoot
    ) internal pure returns (bool) {
        if (oldSize == 0 || newSize < oldSize || proof.length > MAX_PROOF_LENGTH) return false;
        if (oldSize == newSize) return proof.length == 0 && oldRoot == newRoot;
        if (proof.length == 0) return false;

        uint256 fn = oldSize - 1;
        uint256 sn = newSize - 1;
        // An exact power of two: the old root is the implicit first node of the path.
        bool seeded = oldSize & (oldSize - 1) == 0;
        uint256 i = 0;
        bytes32 fr;
        bytes32 sr;
        if (seeded) {
            fr = oldRoot;
        } else {
            fr = proof[0];
            i = 1;
        }
        sr = fr;
        while (fn & 1 == 1) {
            fn >>= 1;
            sn >>= 1;
        }
        for (; i < proof.length; ++i) {
            if (sn == 0) return false;
            bytes32 c = proof[i];
            if (fn & 1 == 1 || fn == sn) {
                fr = hashChildren(c, fr);
                sr = hashChildren(c, sr);
                if (fn & 1 == 0) {
                    while (fn != 0 && fn & 1 == 0) {
                        fn >>= 1;
                        sn >>= 1;
                    }
                }
            } else {
                sr = hashChildren(sr, c);
            }
            fn >>= 1;
            sn >>= 1;
        }
        return sn == 0 && fr == oldRoot && sr == newRoot;
    }
}
