// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ProvenanceLog} from "./ProvenanceLog.sol";

/// @title AnchoredRanges: sorted, non-overlapping ranges of log leaves inside anchored checkpoints
/// @notice Batch operations (one transaction per checkpoint) attach data to a half-open range
/// `[fromIndex, toIndex)` of leaves of the ProvenanceLog instead of to every leaf, so gas does not
/// grow with the number of leaves. Ranges are append-only: a new range must start at or after the
/// end of the last one (gaps are allowed), which keeps the array sorted and makes lookup a binary
/// search. Ranges must lie inside an anchored checkpoint.
abstract contract AnchoredRanges {
    struct LeafRange {
        uint64 fromIndex;
        uint64 toIndex;
    }

    ProvenanceLog private immutable _provenanceLog;
    LeafRange[] private _ranges;

    /// @notice `fromIndex >= toIndex`.
    error InvalidRange(uint64 fromIndex, uint64 toIndex);
    /// @notice `checkpointSize` is not anchored in the ProvenanceLog or `toIndex > checkpointSize`.
    error RangeNotAnchored(uint64 checkpointSize, uint64 toIndex);
    /// @notice The range does not start at or after the end of the last stored range.
    error RangeOverlap(uint64 fromIndex, uint64 toIndex);

    constructor(ProvenanceLog log) {
        _provenanceLog = log;
    }

    /// @notice The ProvenanceLog whose anchored checkpoints bound every range.
    function provenanceLog() public view returns (ProvenanceLog) {
        return _provenanceLog;
    }

    /// @notice Number of stored leaf ranges.
    function rangeCount() public view returns (uint256) {
        return _ranges.length;
    }

    /// @notice The stored leaf range at position `pos` (sorted by fromIndex).
    function rangeAt(uint256 pos) public view returns (LeafRange memory) {
        return _ranges[pos];
    }

    function _checkAnchoredRange(uint64 checkpointSize, uint64 fromIndex, uint64 toIndex) internal view {
        if (fromIndex >= toIndex) revert InvalidRange(fromIndex, toIndex);
        if (toIndex > checkpointSize || !_provenanceLog.isAnchored(checkpointSize)) {
            revert RangeNotAnchored(checkpointSize, toIndex);
        }
    }

    /// @dev Validates and appends `[fromIndex, toIndex)`; returns its position.
    function _appendRange(uint64 checkpointSize, uint64 fromIndex, uint64 toIndex) internal returns (uint256 pos) {
        _checkAnchoredRange(checkpointSize, fromIndex, toIndex);
        pos = _ranges.length;
        if (pos != 0 && fromIndex < _ranges[pos - 1].toIndex) revert RangeOverlap(fromIndex, toIndex);
        _ranges.push(LeafRange(fromIndex, toIndex));
    }

    /// @dev Binary search for the range containing `leafIndex`.
    function _findRange(uint64 leafIndex) internal view returns (bool found, uint256 pos) {
        uint256 lo = 0;
        uint256 hi = _ranges.length;
        while (lo < hi) {
            uint256 mid = (lo + hi) >> 1;
            LeafRange storage r = _ranges[mid];
            if (leafIndex < r.fromIndex) {
                hi = mid;
            } else if (leafIndex >= r.toIndex) {
                lo = mid + 1;
            } else {
                return (true, mid);
            }
        }
        return (false, 0);
    }
}
