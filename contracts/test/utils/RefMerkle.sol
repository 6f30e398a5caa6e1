// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @notice Reference RFC 9162 tree builder for tests: MTH, PATH and PROOF by the RFC's recursive
/// definitions, independent of the iterative verifier under test.
library RefMerkle {
    function leaf(bytes memory data) internal pure returns (bytes32) {
        return sha256(abi.encodePacked(bytes1(0x00), data));
    }

    function node(bytes32 l, bytes32 r) internal pure returns (bytes32) {
        return sha256(abi.encodePacked(bytes1(0x01), l, r));
    }

    function split(uint256 n) internal pure returns (uint256 k) {
        k = 1;
        while (k << 1 < n) k <<= 1;
    }

    function mth(bytes32[] memory leaves, uint256 start, uint256 n) internal pure returns (bytes32) {
        if (n == 0) return sha256("");
        if (n == 1) return leaves[start];
        uint256 k = split(n);
        return node(mth(leaves, start, k), mth(leaves, start + k, n - k));
    }

    function root(bytes32[] memory leaves, uint256 n) internal pure returns (bytes32) {
        return mth(leaves, 0, n);
    }

    function _append(bytes32[] memory a, bytes32 x) private pure returns (bytes32[] memory out) {
        out = new bytes32[](a.length + 1);
        for (uint256 i = 0; i < a.length; ++i) out[i] = a[i];
        out[a.length] = x;
    }

    function path(bytes32[] memory leaves, uint256 m, uint256 start, uint256 n)
        internal
        pure
        returns (bytes32[] memory)
    {
        if (n <= 1) return new bytes32[](0);
        uint256 k = split(n);
        if (m < k) return _append(path(leaves, m, start, k), mth(leaves, start + k, n - k));
        return _append(path(leaves, m - k, start + k, n - k), mth(leaves, start, k));
    }

    function inclusion(bytes32[] memory leaves, uint256 m, uint256 n) internal pure returns (bytes32[] memory) {
        return path(leaves, m, 0, n);
    }

    function subproof(bytes32[] memory leaves, uint256 m, uint256 start, uint256 n, bool complete)
        internal
        pure
        returns (bytes32[] memory)
    {
        if (m == n) {
            if (complete) return new bytes32[](0);
            bytes32[] memory one = new bytes32[](1);
            one[0] = mth(leaves, start, n);
            return one;
        }
        uint256 k = split(n);
        if (m <= k) return _append(subproof(leaves, m, start, k, complete), mth(leaves, start + k, n - k));
        return _append(subproof(leaves, m - k, start + k, n - k, false), mth(leaves, start, k));
    }

    function consistency(bytes32[] memory leaves, uint256 m, uint256 n) internal pure returns (bytes32[] memory) {
        if (m == 0 || m == n) return new bytes32[](0);
        return subproof(leaves, m, 0, n, true);
    }

    /// @notice `n` deterministic leaf hashes derived from `seed`.
    function leaves(uint256 seed, uint256 n) internal pure returns (bytes32[] memory out) {
        out = new bytes32[](n);
        for (uint256 i = 0; i < n; ++i) out[i] = leaf(abi.encodePacked(seed, i));
    }
}
