// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ProvenanceLog} from "./ProvenanceLog.sol";

/// @title AnchoredRanges: sorted, non-overlapping ranges of log leaves inside anchored checkpoints
/// @notice Batch operations (one transaction per checkpoint) attach data to a half-open range
/// `[fromIndex, toIndex)` of leaves of the ProvenanceLog instead of to every leaf, so gas does not
/// grow with the number of leaves. A new range may go after the last one (the cheap, usual case)
/// or into a gap between stored ranges (a campaign published after a later one); it may never
/// overlap one. The array stays sorted by fromIndex, so lookup is a binary search. Ranges must lie
/// inside an anchored checkpoint.
/// @dev Each stored range carries `slot`, 64 bits of the inheriting contract's data: the position
/// of its data in an append-only array (the order ranges were added), or the datum itself when it
/// fits (RoyaltyVault stores the split id), so inserting into a gap shifts only the one-word range
/// entries, never the data.
abstract contract AnchoredRanges {
    struct LeafRange {
        uint64 fromIndex;
        uint64 toIndex;
    }

    struct StoredRange {
        uint64 fromIndex;
        uint64 toIndex;
        uint64 slot;
    }

    ProvenanceLog private immutable _provenanceLog;
    StoredRange[] private _ranges;

    /// @notice `fromIndex >= toIndex`.
    error InvalidRange(uint64 fromIndex, uint64 toIndex);
    /// @notice `checkpointSize` is not anchored in the ProvenanceLog or `toIndex > checkpointSize`.
    error RangeNotAnchored(uint64 checkpointSize, uint64 toIndex);
    /// @notice `[fromIndex, toIndex)` shares at least one leaf with a stored range.
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
        StoredRange storage r = _ranges[pos];
        return LeafRange(r.fromIndex, r.toIndex);
    }

    /// @notice The stored ranges sharing a leaf with `[fromIndex, toIndex)`, sorted; lets a
    /// client find the uncovered leaves of a span in one call.
    function rangesOverlapping(uint64 fromIndex, uint64 toIndex) external view returns (LeafRange[] memory out) {
        uint256 first = _lowerBound(fromIndex);
        if (first != 0 && _ranges[first - 1].toIndex > fromIndex) --first;
        uint256 last = first;
        while (last < _ranges.length && _ranges[last].fromIndex < toIndex) ++last;
        out = new LeafRange[](last - first);
        for (uint256 i = first; i < last; ++i) {
            StoredRange storage r = _ranges[i];
            out[i - first] = LeafRange(r.fromIndex, r.toIndex);
        }
    }

    function _checkAnchoredRange(uint64 checkpointSize, uint64 fromIndex, uint64 toIndex) internal view {
        if (fromIndex >= toIndex) revert InvalidRange(fromIndex, toIndex);
        if (toIndex > checkpointSize || !_provenanceLog.isAnchored(checkpointSize)) {
            revert RangeNotAnchored(checkpointSize, toIndex);
        }
    }

    /// @dev Validates `[fromIndex, toIndex)` and stores it in sorted position with data slot
    /// `slot` (the caller pushes its data there); reverts RangeOverlap if it shares a leaf with a
    /// stored range. Appending after the last range costs one storage write; inserting into a gap
    /// also moves the (one-word) entries after it.
    function _addRange(uint64 checkpointSize, uint64 fromIndex, uint64 toIndex, uint256 slot) internal {
        _checkAnchoredRange(checkpointSize, fromIndex, toIndex);
        uint256 n = _ranges.length;
        // casting to 'uint64' is safe because a slot counts stored ranges or splits, one per transaction
        // forge-lint: disable-next-line(unsafe-typecast)
        StoredRange memory entry = StoredRange(fromIndex, toIndex, uint64(slot));
        if (n == 0 || _ranges[n - 1].toIndex <= fromIndex) {
            _ranges.push(entry);
            return;
        }
        uint256 pos = _lowerBound(fromIndex);
        if (pos != 0 && _ranges[pos - 1].toIndex > fromIndex) revert RangeOverlap(fromIndex, toIndex);
        if (_ranges[pos].fromIndex < toIndex) revert RangeOverlap(fromIndex, toIndex);
        _ranges.push(_ranges[n - 1]);
        for (uint256 i = n - 1; i > pos; --i) {
            _ranges[i] = _ranges[i - 1];
        }
        _ranges[pos] = entry;
    }

    /// @dev Position of the first stored range with `fromIndex >= leafIndex` (length if none).
    function _lowerBound(uint64 leafIndex) private view returns (uint256 lo) {
        uint256 hi = _ranges.length;
        while (lo < hi) {
            uint256 mid = (lo + hi) >> 1;
            if (_ranges[mid].fromIndex < leafIndex) lo = mid + 1;
            else hi = mid;
        }
    }

    /// @dev The data slot of the stored range at sorted position `pos`.
    function _slotAt(uint256 pos) internal view returns (uint256) {
        return _ranges[pos].slot;
    }

    /// @dev The data slot of the range containing `leafIndex`.
    function _findSlot(uint64 leafIndex) internal view returns (bool found, uint256 slot) {
        uint256 pos;
        (found, pos) = _findRange(leafIndex);
        if (found) slot = _ranges[pos].slot;
    }

    /// @dev Binary search for the range containing `leafIndex`; returns its sorted position.
    function _findRange(uint64 leafIndex) internal view returns (bool found, uint256 pos) {
        uint256 lo = 0;
        uint256 hi = _ranges.length;
        while (lo < hi) {
            uint256 mid = (lo + hi) >> 1;
            StoredRange storage r = _ranges[mid];
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
