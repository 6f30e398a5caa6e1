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

    /// @dev One precompile call on scratch memory past the free pointer: no allocation per node
    /// (the abi.encodePacked form cost ~900 gas a level, this ~250). `view` only because inline
    /// assembly calling the precompile cannot be `pure`.
    function hashChildren(bytes32 left, bytes32 right) internal view returns (bytes32 h) {
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore8(m, 0x01)
            mstore(add(m, 0x01), left)
            mstore(add(m, 0x21), right)
            if iszero(staticcall(gas(), 0x02, m, 0x41, 0x00, 0x20)) { revert(0, 0) }
            h := mload(0x00)
        }
    }

    /// @notice Root recomputed from an audit path; `ok` is false for a malformed proof.
    /// @dev RFC 9162 §2.1.3.2 in one assembly loop over the calldata proof, hashing on scratch
    /// memory (a level costs ~250 gas instead of ~600 in Solidity).
    function rootFromInclusionProof(uint256 index, uint256 size, bytes32 leafHash, bytes32[] calldata proof)
        internal
        view
        returns (bool ok, bytes32 root)
    {
        if (index >= size || proof.length > MAX_PROOF_LENGTH) return (false, bytes32(0));
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore8(m, 0x01)
            let fn := index
            let sn := sub(size, 1)
            let r := leafHash
            let p := proof.offset
            let end := add(p, shl(5, proof.length))
            ok := 1
            for {} lt(p, end) { p := add(p, 0x20) } {
                if iszero(sn) {
                    ok := 0
                    break
                }
                let sibling := calldataload(p)
                switch or(and(fn, 1), eq(fn, sn))
                case 0 {
                    mstore(add(m, 0x01), r)
                    mstore(add(m, 0x21), sibling)
                }
                default {
                    mstore(add(m, 0x01), sibling)
                    mstore(add(m, 0x21), r)
                    if iszero(and(fn, 1)) {
                        for {} and(iszero(iszero(fn)), iszero(and(fn, 1))) {} {
                            fn := shr(1, fn)
                            sn := shr(1, sn)
                        }
                    }
                }
                if iszero(staticcall(gas(), 0x02, m, 0x41, 0x00, 0x20)) { revert(0, 0) }
                r := mload(0x00)
                fn := shr(1, fn)
                sn := shr(1, sn)
            }
            if sn { ok := 0 }
            root := r
        }
        if (!ok) return (false, bytes32(0));
    }

    function verifyInclusion(uint256 index, uint256 size, bytes32 leafHash, bytes32[] calldata proof, bytes32 root)
        internal
        view
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
    ) internal view returns (bool) {
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
