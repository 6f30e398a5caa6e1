// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {MintTest} from "./utils/MintTest.sol";
import {RefMerkle} from "./utils/RefMerkle.sol";
import {ProvenanceLog} from "../src/ProvenanceLog.sol";
import {AnchoredRanges} from "../src/AnchoredRanges.sol";

/// @dev Exposes AnchoredRanges with one tag per range, stored the way the real contracts store
/// their data (an append-only array indexed by the range's slot).
contract RangesHarness is AnchoredRanges {
    uint256[] internal _tags;

    constructor(ProvenanceLog log) AnchoredRanges(log) {}

    function add(uint64 checkpointSize, uint64 fromIndex, uint64 toIndex, uint256 tag) external {
        _addRange(checkpointSize, fromIndex, toIndex, _tags.length);
        _tags.push(tag);
    }

    function tagOf(uint64 leafIndex) external view returns (uint256) {
        (bool found, uint256 slot) = _findSlot(leafIndex);
        return found ? _tags[slot] : 0;
    }
}

abstract contract RangesBase is MintTest {
    uint64 internal constant SIZE = 200;
    ProvenanceLog internal log;
    RangesHarness internal ranges;

    function _deploy() internal {
        address anchorer = makeAddr("anchorer");
        log = new ProvenanceLog(makeAddr("admin"), anchorer);
        ranges = new RangesHarness(log);
        bytes32 root = RefMerkle.root(RefMerkle.leaves(3, SIZE), SIZE); // before the prank
        vm.prank(anchorer);
        log.anchor(SIZE, root, new bytes32[](0));
    }

    /// @dev Linear scan: the tag of the stored range holding `leaf`, by rangeAt and tagOf at its start.
    function _scan(uint64 leaf) internal view returns (uint256) {
        for (uint256 k = 0; k < ranges.rangeCount(); ++k) {
            AnchoredRanges.LeafRange memory r = ranges.rangeAt(k);
            if (leaf >= r.fromIndex && leaf < r.toIndex) return ranges.tagOf(r.fromIndex);
        }
        return 0;
    }

    function _assertSortedDisjoint() internal view {
        uint256 n = ranges.rangeCount();
        for (uint256 k = 0; k < n; ++k) {
            AnchoredRanges.LeafRange memory r = ranges.rangeAt(k);
            vm.assertLt(uint256(r.fromIndex), uint256(r.toIndex), "non-empty");
            if (k != 0) vm.assertLe(uint256(ranges.rangeAt(k - 1).toIndex), uint256(r.fromIndex), "sorted, disjoint");
        }
    }
}

contract AnchoredRangesTest is RangesBase {
    function setUp() public {
        _deploy();
    }

    function test_insertIntoGaps() public {
        ranges.add(SIZE, 50, 60, 5);
        ranges.add(SIZE, 0, 10, 1); // before the first
        ranges.add(SIZE, 20, 30, 3); // between
        ranges.add(SIZE, 10, 20, 2); // touches both neighbours
        ranges.add(SIZE, 60, 61, 6); // append, adjacent
        ranges.add(SIZE, 40, 45, 4);
        vm.assertEq(ranges.rangeCount(), 6, "six ranges");
        uint64[6] memory starts = [uint64(0), 10, 20, 40, 50, 60];
        for (uint256 k = 0; k < 6; ++k) {
            vm.assertEq(uint256(ranges.rangeAt(k).fromIndex), uint256(starts[k]), "sorted by start");
            vm.assertEq(ranges.tagOf(starts[k]), k + 1, "data follows its range");
        }
        vm.assertEq(ranges.tagOf(9), 1, "last leaf of a range");
        vm.assertEq(ranges.tagOf(19), 2, "inserted range");
        vm.assertEq(ranges.tagOf(35), 0, "gap");
        vm.assertEq(ranges.tagOf(45), 0, "end is exclusive");
        vm.assertEq(ranges.tagOf(61), 0, "after the last");
    }

    function test_RevertWhen_insertOverlaps() public {
        ranges.add(SIZE, 10, 20, 1);
        ranges.add(SIZE, 40, 50, 2);
        uint64[2][7] memory bad = [
            [uint64(5), 11], // straddles a start
            [uint64(19), 25], // straddles an end
            [uint64(12), 15], // inside
            [uint64(10), 20], // equal
            [uint64(0), 100], // contains both
            [uint64(15), 45], // spans the gap into the next
            [uint64(45), 60] // straddles the last end (the append path)
        ];
        for (uint256 i = 0; i < bad.length; ++i) {
            vm.expectRevert(abi.encodeWithSelector(AnchoredRanges.RangeOverlap.selector, bad[i][0], bad[i][1]));
            ranges.add(SIZE, bad[i][0], bad[i][1], 9);
        }
        vm.assertEq(ranges.rangeCount(), 2, "nothing stored");
        vm.expectRevert(abi.encodeWithSelector(AnchoredRanges.RangeNotAnchored.selector, SIZE, SIZE + 1));
        ranges.add(SIZE, 20, SIZE + 1, 9); // a gap insert is still bounded by the checkpoint
    }

    function test_rangesOverlapping() public {
        ranges.add(SIZE, 10, 20, 1);
        ranges.add(SIZE, 30, 40, 2);
        ranges.add(SIZE, 50, 60, 3);
        AnchoredRanges.LeafRange[] memory got = ranges.rangesOverlapping(15, 51);
        vm.assertEq(got.length, 3, "all three");
        vm.assertEq(uint256(got[0].fromIndex), 10, "the one holding fromIndex");
        got = ranges.rangesOverlapping(20, 30);
        vm.assertEq(got.length, 0, "the gap exactly");
        got = ranges.rangesOverlapping(35, 36);
        vm.assertEq(got.length, 1, "inside one");
        vm.assertEq(uint256(got[0].toIndex), 40, "inside one");
        got = ranges.rangesOverlapping(0, SIZE);
        vm.assertEq(got.length, 3, "everything");
    }

    /// @dev A random partition of [0, SIZE) into ranges with gaps, added in a random order:
    /// the stored array is sorted and each lookup equals a linear scan.
    function testFuzz_insertInAnyOrder(uint256 seed, uint64 probe) public {
        uint64[2][] memory parts = new uint64[2][](12);
        uint256 count = 0;
        uint64 cursor = 0;
        while (count < 12) {
            uint64 from = cursor + uint64(uint256(keccak256(abi.encode(seed, count, "gap"))) % 6);
            uint64 to = from + 1 + uint64(uint256(keccak256(abi.encode(seed, count))) % 20);
            if (to > SIZE) break;
            parts[count++] = [from, to];
            cursor = to;
        }
        for (uint256 i = count; i > 1; --i) {
            uint256 j = uint256(keccak256(abi.encode(seed, i, "swap"))) % i;
            (parts[i - 1], parts[j]) = (parts[j], parts[i - 1]);
        }
        for (uint256 i = 0; i < count; ++i) {
            ranges.add(SIZE, parts[i][0], parts[i][1], 1000 + parts[i][0]);
        }
        vm.assertEq(ranges.rangeCount(), count, "all stored");
        _assertSortedDisjoint();
        probe = uint64(bound(probe, 0, SIZE + 10));
        uint256 expected = 0;
        for (uint256 i = 0; i < count; ++i) {
            if (probe >= parts[i][0] && probe < parts[i][1]) expected = 1000 + parts[i][0];
        }
        vm.assertEq(ranges.tagOf(probe), expected, "binary search = the range added for that leaf");
        vm.assertEq(_scan(probe), expected, "rangeAt agrees");
    }

    /// @dev A candidate is refused exactly when it shares a leaf with a stored range.
    function testFuzz_overlapRefusedExactly(uint64 a, uint64 b, uint64 c, uint64 d, uint64 f, uint64 t) public {
        a = uint64(bound(a, 0, 90));
        b = uint64(bound(b, a + 1, 100));
        c = uint64(bound(c, b, 180));
        d = uint64(bound(d, c + 1, SIZE));
        ranges.add(SIZE, c, d, 2);
        ranges.add(SIZE, a, b, 1);
        f = uint64(bound(f, 0, SIZE - 1));
        t = uint64(bound(t, f + 1, SIZE));
        bool overlaps = (f < b && a < t) || (f < d && c < t);
        if (overlaps) {
            vm.expectRevert(abi.encodeWithSelector(AnchoredRanges.RangeOverlap.selector, f, t));
            ranges.add(SIZE, f, t, 3);
            vm.assertEq(ranges.rangeCount(), 2, "refused");
        } else {
            ranges.add(SIZE, f, t, 3);
            vm.assertEq(ranges.rangeCount(), 3, "stored");
            vm.assertEq(ranges.tagOf(f), 3, "found");
            vm.assertEq(ranges.tagOf(t - 1), 3, "found at its end");
        }
        vm.assertEq(ranges.tagOf(a), 1, "first untouched");
        vm.assertEq(ranges.tagOf(d - 1), 2, "second untouched");
        _assertSortedDisjoint();
    }
}

/// @dev Adds random ranges (most refused as overlaps) and remembers the ones that were stored.
contract RangesHandler is MintTest {
    RangesHarness internal immutable ranges;
    uint64 internal immutable size;
    uint64[] public starts;
    uint64[] public ends;

    constructor(RangesHarness r, uint64 s) {
        ranges = r;
        size = s;
    }

    function add(uint64 from, uint64 len) external {
        from = uint64(bound(from, 0, size - 1));
        uint64 to = uint64(bound(len, from + 1, from + 8 > size ? size : from + 8));
        try ranges.add(size, from, to, 1000 + from) {
            starts.push(from);
            ends.push(to);
        } catch {}
    }

    function count() external view returns (uint256) {
        return starts.length;
    }
}

contract AnchoredRangesInvariantTest is RangesBase {
    RangesHandler internal handler;

    function setUp() public {
        _deploy();
        handler = new RangesHandler(ranges, SIZE);
    }

    function targetContracts() public view returns (address[] memory t) {
        t = new address[](1);
        t[0] = address(handler);
    }

    /// @dev Ranges stay sorted and disjoint, none is lost, each leads to its own data.
    /// forge-config: default.invariant.runs = 16
    /// forge-config: default.invariant.depth = 48
    function invariant_rangesStaySortedAndDisjoint() public view {
        uint256 n = handler.count();
        vm.assertEq(ranges.rangeCount(), n, "every accepted add stored one range");
        _assertSortedDisjoint();
        for (uint256 i = 0; i < n; ++i) {
            uint64 from = handler.starts(i);
            vm.assertEq(ranges.tagOf(from), 1000 + from, "start finds its range");
            vm.assertEq(ranges.tagOf(handler.ends(i) - 1), 1000 + from, "end finds its range");
        }
    }
}
