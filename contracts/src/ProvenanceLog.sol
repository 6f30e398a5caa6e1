// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {MerkleProofs} from "./MerkleProofs.sol";

/// @title ProvenanceLog: append-only anchor for an RFC 9162 transparency log
/// @notice Stores checkpoints (tree size, root) of mintloom's Merkle log. A new checkpoint is
/// accepted only with an RFC 9162 consistency proof from the latest anchored one, verified here,
/// so nobody — the operator and admins included — can rewrite anchored history: there is no
/// function that replaces or removes a checkpoint. Every anchored size keeps its root, so
/// inclusion proofs against any anchored checkpoint can be verified on chain.
contract ProvenanceLog is AccessControl {
    bytes32 public constant ANCHORER_ROLE = keccak256("ANCHORER_ROLE");

    struct Checkpoint {
        uint64 size;
        uint64 timestamp;
        uint64 blockNumber;
        bytes32 root;
    }

    /// @dev The latest checkpoint's size, time and block plus the checkpoint count, packed in one
    /// slot; its root is `_roots[size]`. A first anchor therefore writes two fresh slots (this
    /// and the root) instead of four, which keeps a fresh 100k-asset checkpoint under 1 gas/asset.
    struct Head {
        uint64 size;
        uint64 timestamp;
        uint64 blockNumber;
        uint64 count;
    }

    Head private _head;
    mapping(uint64 size => bytes32 root) private _roots;

    /// @notice A checkpoint was anchored after its consistency with the previous one was proven.
    event CheckpointAnchored(uint64 indexed size, bytes32 root, uint64 previousSize);

    error CheckpointNotNewer(uint64 latestSize, uint64 newSize);
    error InconsistentCheckpoint(uint64 latestSize, uint64 newSize);
    error EmptyRoot();
    error UnknownCheckpoint(uint64 size);

    constructor(address admin, address anchorer) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(ANCHORER_ROLE, anchorer);
    }

    /// @notice Anchor checkpoint (newSize, newRoot). `consistencyProof` is RFC 9162
    /// PROOF(latestSize, D[newSize]); empty for the first checkpoint.
    function anchor(uint64 newSize, bytes32 newRoot, bytes32[] calldata consistencyProof)
        external
        onlyRole(ANCHORER_ROLE)
    {
        Head memory prev = _head;
        if (newSize <= prev.size) revert CheckpointNotNewer(prev.size, newSize);
        if (newRoot == bytes32(0)) revert EmptyRoot();
        bool consistent = prev.size == 0
            ? consistencyProof.length == 0 // the first anchor: nothing to be consistent with
            : MerkleProofs.verifyConsistency(prev.size, newSize, consistencyProof, _roots[prev.size], newRoot);
        if (!consistent) revert InconsistentCheckpoint(prev.size, newSize);
        unchecked {
            _head = Head(newSize, uint64(block.timestamp), uint64(block.number), prev.count + 1);
        }
        _roots[newSize] = newRoot;
        emit CheckpointAnchored(newSize, newRoot, prev.size);
    }

    /// @notice The latest anchored checkpoint (size 0 and a zero root before the first).
    function latest() external view returns (Checkpoint memory) {
        Head memory head = _head;
        return Checkpoint(head.size, head.timestamp, head.blockNumber, _roots[head.size]);
    }

    /// @notice Number of checkpoints anchored so far.
    function checkpointCount() external view returns (uint256) {
        return _head.count;
    }

    /// @notice Root anchored for tree size `size`; reverts if that size was never anchored.
    function rootAt(uint64 size) public view returns (bytes32 root) {
        root = _roots[size];
        if (root == bytes32(0)) revert UnknownCheckpoint(size);
    }

    /// @notice Whether tree size `size` was anchored.
    function isAnchored(uint64 size) external view returns (bool) {
        return _roots[size] != bytes32(0);
    }

    /// @notice Verify an RFC 9162 inclusion proof of `leafHash` at `index` against the root
    /// anchored for `size`.
    function verifyInclusion(bytes32 leafHash, uint64 index, uint64 size, bytes32[] calldata proof)
        external
        view
        returns (bool)
    {
        bytes32 root = _roots[size];
        return root != bytes32(0) && MerkleProofs.verifyInclusion(index, size, leafHash, proof, root);
    }
}
