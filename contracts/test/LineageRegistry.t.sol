// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {MintTest} from "./utils/MintTest.sol";
import {RefMerkle} from "./utils/RefMerkle.sol";
import {ProvenanceLog} from "../src/ProvenanceLog.sol";
import {AnchoredRanges} from "../src/AnchoredRanges.sol";
import {LineageRegistry} from "../src/LineageRegistry.sol";

contract LineageRegistryTest is MintTest {
    ProvenanceLog internal log;
    LineageRegistry internal reg;
    address internal admin = makeAddr("admin");
    address internal anchorer = makeAddr("anchorer");
    address internal curator = makeAddr("curator");
    address internal trainer = makeAddr("trainer");
    address internal mallory = makeAddr("mallory");
    bytes32[] internal leaves;

    function setUp() public {
        log = new ProvenanceLog(admin, anchorer);
        reg = new LineageRegistry(admin, log);
        leaves = RefMerkle.leaves(7, 200);
        bytes32 root = RefMerkle.root(leaves, 100);
        vm.prank(anchorer);
        log.anchor(100, root, new bytes32[](0));
    }

    function _ids(uint256 a) internal pure returns (uint256[] memory x) {
        x = new uint256[](1);
        x[0] = a;
    }

    function _ids(uint256 a, uint256 b) internal pure returns (uint256[] memory x) {
        x = new uint256[](2);
        x[0] = a;
        x[1] = b;
    }

    function _dataset(string memory name, bool ai) internal returns (uint256) {
        bytes32 digest = sha256(bytes(name)); // before the prank: precompile calls consume pranks
        vm.prank(curator);
        return reg.registerDataset(keccak256(bytes(name)), digest, "CC-BY-4.0", ai);
    }

    function _model(string memory name, uint256[] memory trainedOn) internal returns (uint256) {
        vm.prank(trainer);
        return reg.registerModel(keccak256(bytes(name)), trainedOn, "Apache-2.0");
    }

    function test_registerDataset() public {
        bytes32 sheet = keccak256("sheet");
        vm.expectEmit(true, true, true, true, address(reg));
        emit LineageRegistry.DatasetRegistered(1, sheet, curator, bytes32(uint256(7)), "CC0-1.0", true);
        vm.prank(curator);
        uint256 id = reg.registerDataset(sheet, bytes32(uint256(7)), "CC0-1.0", true);
        vm.assertEq(id, 1, "ids from 1");
        LineageRegistry.Dataset memory d = reg.dataset(1);
        vm.assertEq(d.curator, curator, "curator");
        vm.assertEq(d.datasheetHash, sheet, "sheet");
        vm.assertEq(d.cidDigest, bytes32(uint256(7)), "cid");
        vm.assertEq(d.license, "CC0-1.0", "license");
        vm.assertTrue(d.aiTrainingAllowed, "ai");
        vm.assertEq(reg.datasetIdOf(curator, sheet), 1, "by curator and hash");
        vm.assertEq(reg.datasetIdOf(mallory, sheet), 0, "nobody else holds it");
        vm.assertEq(reg.datasetCount(), 1, "count");
        vm.assertEq(_dataset("second", false), 2, "second id");
    }

    function test_RevertWhen_datasetExists() public {
        _dataset("a", true);
        bytes32 sheet = keccak256("a");
        vm.prank(curator);
        vm.expectRevert(abi.encodeWithSelector(LineageRegistry.DatasetExists.selector, 1));
        reg.registerDataset(sheet, bytes32(0), "x", false);
        vm.prank(curator);
        vm.expectRevert(LineageRegistry.ZeroHash.selector);
        reg.registerDataset(bytes32(0), bytes32(0), "x", false);
    }

    /// @dev The attack: register someone else's datasheet first with permissive terms. It only
    /// creates the squatter's own entry; the curator still registers hers, and lookups by the
    /// expected curator never see the squatter's.
    function test_squattingADatasheetHashDoesNotTakeItOver() public {
        bytes32 sheet = keccak256("brand photos");
        vm.prank(mallory);
        uint256 squat = reg.registerDataset(sheet, bytes32(0), "CC0-1.0", true);
        vm.expectEmit(true, true, true, true, address(reg));
        emit LineageRegistry.DatasetRegistered(2, sheet, curator, bytes32(0), "CC-BY-NC-4.0", false);
        vm.prank(curator);
        uint256 mine = reg.registerDataset(sheet, bytes32(0), "CC-BY-NC-4.0", false);
        vm.assertEq(mine, 2, "the curator gets her own entry");
        vm.assertEq(reg.datasetIdOf(curator, sheet), mine, "curator's entry");
        vm.assertEq(reg.datasetIdOf(mallory, sheet), squat, "squatter's entry");
        vm.assertEq(reg.dataset(mine).curator, curator, "curator recorded");
        vm.assertFalse(reg.dataset(mine).aiTrainingAllowed, "her terms, not the squatter's");
    }

    function test_registerDatasetFilesCommitsRootAndCount() public {
        bytes32 manifest = keccak256("manifest");
        bytes32 root = keccak256("root");
        vm.expectEmit(true, true, true, true, address(reg));
        emit LineageRegistry.DatasetFilesCommitted(1, root, 42);
        vm.prank(curator);
        uint256 id = reg.registerDatasetFiles(manifest, bytes32(uint256(9)), "CC-BY-4.0", true, root, 42);
        LineageRegistry.FileRoot memory r = reg.fileRoot(id);
        vm.assertEq(r.merkleRoot, root, "root");
        vm.assertEq(uint256(r.fileCount), 42, "count");
        vm.assertEq(reg.dataset(id).curator, curator, "bound to the registrant");
        vm.assertEq(reg.datasetIdOf(curator, manifest), id, "found by curator and manifest");
        uint256 plain = _dataset("plain", true);
        vm.assertEq(reg.fileRoot(plain).merkleRoot, bytes32(0), "a datasheet-only dataset has no root");
        vm.expectRevert(abi.encodeWithSelector(LineageRegistry.UnknownDataset.selector, 99));
        reg.fileRoot(99);
    }

    function test_RevertWhen_datasetFilesEmptyOrRepeated() public {
        vm.startPrank(curator);
        vm.expectRevert(LineageRegistry.EmptyDataset.selector);
        reg.registerDatasetFiles(keccak256("m"), bytes32(0), "x", true, bytes32(0), 3);
        vm.expectRevert(LineageRegistry.EmptyDataset.selector);
        reg.registerDatasetFiles(keccak256("m"), bytes32(0), "x", true, keccak256("r"), 0);
        reg.registerDatasetFiles(keccak256("m"), bytes32(0), "x", true, keccak256("r"), 1);
        vm.expectRevert(abi.encodeWithSelector(LineageRegistry.DatasetExists.selector, 1));
        reg.registerDatasetFiles(keccak256("m"), bytes32(0), "x", true, keccak256("other"), 2);
        vm.stopPrank();
    }

    /// @dev Squatting an ingested dataset's manifest first only makes the squatter's own entry, with
    /// his own root: the curator's root is hers, under her address.
    function test_squattingADatasetRootDoesNotTakeItOver() public {
        bytes32 manifest = keccak256("brand manifest");
        vm.prank(mallory);
        uint256 squat = reg.registerDatasetFiles(manifest, bytes32(0), "CC0-1.0", true, keccak256("evil"), 1);
        vm.prank(curator);
        uint256 mine = reg.registerDatasetFiles(manifest, bytes32(0), "CC-BY-NC-4.0", false, keccak256("good"), 5);
        vm.assertNotEq(mine, squat, "distinct entries");
        vm.assertEq(reg.datasetIdOf(curator, manifest), mine, "the curator's entry");
        vm.assertEq(reg.fileRoot(mine).merkleRoot, keccak256("good"), "her root, not the squatter's");
    }

    function test_squattingModelWeightsDoesNotTakeThemOver() public {
        uint256 a = _dataset("a", true);
        bytes32 w = keccak256("w");
        vm.prank(mallory);
        uint256 squat = reg.registerModel(w, _ids(a), "CC0-1.0");
        uint256 mine = _model("w", _ids(a));
        vm.assertNotEq(mine, squat, "distinct entries");
        vm.assertEq(reg.modelIdOf(trainer, w), mine, "trainer's entry");
        vm.assertEq(reg.model(mine).trainer, trainer, "trainer recorded");
    }

    function testFuzz_entriesAreBoundToTheirRegistrant(address a, address b, bytes32 h, bool ai) public {
        vm.assume(a != b && h != bytes32(0));
        vm.prank(a);
        uint256 first = reg.registerDataset(h, bytes32(0), "A", ai);
        vm.prank(b);
        uint256 second = reg.registerDataset(h, bytes32(0), "B", !ai);
        vm.assertEq(reg.datasetIdOf(a, h), first, "a's entry");
        vm.assertEq(reg.datasetIdOf(b, h), second, "b's entry");
        vm.assertEq(reg.dataset(first).curator, a, "a curates first");
        vm.assertEq(reg.dataset(second).curator, b, "b curates second");
        vm.assertEq(reg.dataset(second).aiTrainingAllowed, !ai, "b's own terms");
        vm.prank(a);
        vm.expectRevert(abi.encodeWithSelector(LineageRegistry.DatasetExists.selector, first));
        reg.registerDataset(h, bytes32(0), "A again", ai);
    }

    function test_registerModel() public {
        uint256 a = _dataset("a", true);
        uint256 b = _dataset("b", false);
        bytes32 w = keccak256("weights");
        vm.expectEmit(true, true, true, true, address(reg));
        emit LineageRegistry.ModelRegistered(1, w, trainer, _ids(a, b), "MIT");
        vm.prank(trainer);
        uint256 id = reg.registerModel(w, _ids(a, b), "MIT");
        vm.assertEq(id, 1, "ids from 1");
        LineageRegistry.Model memory m = reg.model(1);
        vm.assertEq(m.trainer, trainer, "trainer");
        vm.assertEq(m.weightsHash, w, "weights");
        vm.assertEq(m.trainedOn.length, 2, "datasets");
        vm.assertEq(m.trainedOn[1], b, "dataset b");
        vm.assertEq(reg.modelIdOf(trainer, w), 1, "by trainer and hash");
        vm.assertEq(reg.modelCount(), 1, "count");
        uint256[] memory restricted = reg.restrictedTrainingData(1);
        vm.assertEq(restricted.length, 1, "one restricted dataset");
        vm.assertEq(restricted[0], b, "b forbids AI training");
    }

    function test_RevertWhen_modelErrors() public {
        uint256 a = _dataset("a", true);
        _model("w", _ids(a));
        bytes32 w = keccak256("w");
        bytes32 w2 = keccak256("w2");
        vm.prank(trainer);
        vm.expectRevert(abi.encodeWithSelector(LineageRegistry.ModelExists.selector, 1));
        reg.registerModel(w, _ids(a), "x");
        vm.expectRevert(abi.encodeWithSelector(LineageRegistry.UnknownDataset.selector, 9));
        reg.registerModel(w2, _ids(a, 9), "x");
        vm.expectRevert(abi.encodeWithSelector(LineageRegistry.UnknownDataset.selector, 0));
        reg.registerModel(w2, _ids(0), "x");
        vm.expectRevert(abi.encodeWithSelector(LineageRegistry.TooManyDatasets.selector, 65));
        reg.registerModel(w2, new uint256[](65), "x");
        vm.expectRevert(abi.encodeWithSelector(LineageRegistry.UnknownModel.selector, 2));
        reg.model(2);
        vm.expectRevert(abi.encodeWithSelector(LineageRegistry.UnknownDataset.selector, 0));
        reg.dataset(0);
        vm.expectRevert(abi.encodeWithSelector(LineageRegistry.UnknownModel.selector, 0));
        reg.restrictedTrainingData(0);
    }

    function test_registerTrainedModelRecordsItsRun() public {
        uint256 a = _dataset("a", true);
        bytes32 w = keccak256("trained weights");
        bytes32 run = sha256("run record");
        vm.expectEmit(true, true, true, true, address(reg));
        emit LineageRegistry.ModelRegistered(1, w, trainer, _ids(a), "MIT");
        vm.expectEmit(true, true, false, false, address(reg));
        emit LineageRegistry.TrainingRunRecorded(1, run);
        vm.prank(trainer);
        uint256 id = reg.registerTrainedModel(w, _ids(a), "MIT", run);
        vm.assertEq(reg.trainingRun(id), run, "run hash kept");
        vm.assertEq(reg.model(id).trainedOn[0], a, "lineage is the run's datasets");
        vm.assertEq(reg.modelIdOf(trainer, w), id, "by trainer and hash");
        uint256 plain = _model("plain", _ids(a));
        vm.assertEq(reg.trainingRun(plain), bytes32(0), "a declared model has no run");
    }

    function test_RevertWhen_trainedModelErrors() public {
        uint256 a = _dataset("a", true);
        bytes32 w = keccak256("w");
        vm.startPrank(trainer);
        vm.expectRevert(LineageRegistry.ZeroHash.selector);
        reg.registerTrainedModel(w, _ids(a), "x", bytes32(0));
        vm.expectRevert(LineageRegistry.EmptyLineage.selector);
        reg.registerTrainedModel(w, new uint256[](0), "x", keccak256("run"));
        vm.expectRevert(abi.encodeWithSelector(LineageRegistry.UnknownDataset.selector, 5));
        reg.registerTrainedModel(w, _ids(5), "x", keccak256("run"));
        reg.registerTrainedModel(w, _ids(a), "x", keccak256("run"));
        // a second run for the same weights (a replay, or another record) cannot rewrite the first
        vm.expectRevert(abi.encodeWithSelector(LineageRegistry.ModelExists.selector, 1));
        reg.registerTrainedModel(w, _ids(a), "x", keccak256("other run"));
        vm.stopPrank();
        vm.assertEq(reg.trainingRun(1), keccak256("run"), "first run stays");
        vm.expectRevert(abi.encodeWithSelector(LineageRegistry.UnknownModel.selector, 2));
        reg.trainingRun(2);
        vm.expectRevert(abi.encodeWithSelector(LineageRegistry.UnknownModel.selector, 0));
        reg.trainingRun(0);
    }

    function test_squattingTrainedWeightsDoesNotTakeThemOver() public {
        uint256 a = _dataset("a", true);
        bytes32 w = keccak256("w");
        vm.prank(mallory);
        uint256 squat = reg.registerTrainedModel(w, _ids(a), "x", keccak256("forged run"));
        vm.prank(trainer);
        uint256 real = reg.registerTrainedModel(w, _ids(a), "x", keccak256("run"));
        vm.assertEq(reg.modelIdOf(trainer, w), real, "the trainer's own entry");
        vm.assertEq(reg.trainingRun(real), keccak256("run"), "the trainer's run");
        vm.assertEq(reg.model(squat).trainer, mallory, "the squat stays mallory's");
    }

    function test_linkAssetsAndLineageOf() public {
        uint256 a = _dataset("a", true);
        uint256 b = _dataset("b", true);
        uint256 m = _model("w", _ids(a, b));
        vm.expectEmit(true, true, false, true, address(reg));
        emit LineageRegistry.AssetsLinked(100, 10, 20, m, _ids(a));
        vm.startPrank(admin);
        reg.linkAssets(100, 10, 20, m, _ids(a));
        reg.linkAssets(100, 20, 30, 0, _ids(b)); // datasets only
        reg.linkAssets(100, 50, 100, m, new uint256[](0)); // gap 30..50
        vm.stopPrank();
        (uint256 model, uint256[] memory ds) = reg.lineageOf(10);
        vm.assertEq(model, m, "first leaf");
        vm.assertEq(ds[0], a, "dataset");
        (model, ds) = reg.lineageOf(19);
        vm.assertEq(model, m, "last leaf of range");
        (model, ds) = reg.lineageOf(20);
        vm.assertEq(model, 0, "no model");
        vm.assertEq(ds[0], b, "second range");
        (model, ds) = reg.lineageOf(35);
        vm.assertEq(model, 0, "gap");
        vm.assertEq(ds.length, 0, "gap");
        (model, ds) = reg.lineageOf(9);
        vm.assertEq(model, 0, "before");
        (model,) = reg.lineageOf(99);
        vm.assertEq(model, m, "third range");
        vm.assertEq(reg.rangeCount(), 3, "ranges");
        vm.assertEq(uint256(reg.rangeAt(2).fromIndex), 50, "rangeAt");
    }

    /// Lineage linked into a gap before and between stored ranges keeps each range's own link.
    function test_linkAssetsIntoAGap() public {
        uint256 a = _dataset("a", true);
        uint256 b = _dataset("b", true);
        uint256 m = _model("w", _ids(a, b));
        vm.startPrank(admin);
        reg.linkAssets(100, 50, 60, m, new uint256[](0));
        reg.linkAssets(100, 10, 20, 0, _ids(a));
        reg.linkAssets(100, 20, 50, 0, _ids(b));
        vm.stopPrank();
        (uint256 model, uint256[] memory ds) = reg.lineageOf(10);
        vm.assertEq(model, 0, "inserted first: no model");
        vm.assertEq(ds[0], a, "inserted first: its dataset");
        (, ds) = reg.lineageOf(49);
        vm.assertEq(ds[0], b, "inserted between");
        (model,) = reg.lineageOf(59);
        vm.assertEq(model, m, "stored range keeps its link");
        vm.assertEq(uint256(reg.rangeAt(2).fromIndex), 50, "sorted");
    }

    function test_RevertWhen_linkErrors() public {
        uint256 a = _dataset("a", true);
        uint256 m = _model("w", _ids(a));
        vm.startPrank(admin);
        vm.expectRevert(abi.encodeWithSelector(AnchoredRanges.InvalidRange.selector, 5, 5));
        reg.linkAssets(100, 5, 5, m, _ids(a));
        vm.expectRevert(abi.encodeWithSelector(AnchoredRanges.RangeNotAnchored.selector, 100, 101));
        reg.linkAssets(100, 5, 101, m, _ids(a));
        vm.expectRevert(abi.encodeWithSelector(AnchoredRanges.RangeNotAnchored.selector, 50, 10));
        reg.linkAssets(50, 5, 10, m, _ids(a));
        vm.expectRevert(abi.encodeWithSelector(LineageRegistry.UnknownModel.selector, 2));
        reg.linkAssets(100, 5, 10, 2, _ids(a));
        vm.expectRevert(abi.encodeWithSelector(LineageRegistry.UnknownDataset.selector, 3));
        reg.linkAssets(100, 5, 10, m, _ids(3));
        vm.expectRevert(LineageRegistry.EmptyLineage.selector);
        reg.linkAssets(100, 5, 10, 0, new uint256[](0));
        vm.expectRevert(abi.encodeWithSelector(LineageRegistry.TooManyDatasets.selector, 65));
        reg.linkAssets(100, 5, 10, m, new uint256[](65));
        reg.linkAssets(100, 5, 10, m, _ids(a));
        vm.expectRevert(abi.encodeWithSelector(AnchoredRanges.RangeOverlap.selector, 9, 12));
        reg.linkAssets(100, 9, 12, m, _ids(a));
        vm.expectRevert(abi.encodeWithSelector(AnchoredRanges.RangeOverlap.selector, 0, 6));
        reg.linkAssets(100, 0, 6, m, _ids(a));
        vm.stopPrank();
        bytes32 role = reg.LINKER_ROLE();
        vm.prank(mallory);
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, mallory, role));
        reg.linkAssets(100, 10, 20, m, _ids(a));
    }

    function testFuzz_lineageLookup(uint256 seed, uint64 probe) public {
        uint256 a = _dataset("a", true);
        _model("m1", _ids(a));
        _model("m2", _ids(a));
        // random partition of [0, 100) into consecutive ranges with gaps; range k -> model 1 + k % 2
        uint64[] memory bounds = new uint64[](11);
        uint64 cursor = 0;
        uint256 count = 0;
        vm.startPrank(admin);
        while (count < 10 && cursor < 99) {
            uint64 gap = uint64(uint256(keccak256(abi.encode(seed, count, "gap"))) % 5);
            uint64 len = 1 + uint64(uint256(keccak256(abi.encode(seed, count))) % 15);
            uint64 from = cursor + gap;
            if (from >= 100) break;
            uint64 to = from + len > 100 ? 100 : from + len;
            reg.linkAssets(100, from, to, 1 + (count % 2), new uint256[](0));
            bounds[count] = from;
            cursor = to;
            ++count;
        }
        vm.stopPrank();
        probe = uint64(bound(probe, 0, 120));
        uint256 expected = 0;
        for (uint256 k = 0; k < count; ++k) {
            AnchoredRanges.LeafRange memory r = reg.rangeAt(k);
            vm.assertEq(uint256(r.fromIndex), uint256(bounds[k]), "sorted");
            if (probe >= r.fromIndex && probe < r.toIndex) expected = 1 + (k % 2);
        }
        (uint256 model,) = reg.lineageOf(probe);
        vm.assertEq(model, expected, "binary search = linear scan");
    }
}

/// @dev Registers datasets from a few senders over a few hashes, remembering what it registered.
contract RegistryHandler is MintTest {
    LineageRegistry internal immutable reg;
    address[] public senders;
    bytes32[] public hashes;
    uint256[] public ids;

    constructor(LineageRegistry r) {
        reg = r;
        senders.push(makeAddr("curator"));
        senders.push(makeAddr("mallory"));
        senders.push(makeAddr("eve"));
        for (uint256 i = 1; i <= 4; ++i) hashes.push(keccak256(abi.encode(i)));
    }

    function register(uint256 who, uint256 which, bool ai) external {
        address sender = senders[who % senders.length];
        bytes32 h = hashes[which % hashes.length];
        if (reg.datasetIdOf(sender, h) != 0) return;
        vm.prank(sender);
        ids.push(reg.registerDataset(h, bytes32(0), "x", ai));
    }

    function count() external view returns (uint256) {
        return ids.length;
    }
}

contract LineageRegistryInvariantTest is MintTest {
    LineageRegistry internal reg;
    RegistryHandler internal handler;

    function setUp() public {
        reg = new LineageRegistry(makeAddr("admin"), new ProvenanceLog(makeAddr("admin"), makeAddr("anchorer")));
        handler = new RegistryHandler(reg);
    }

    function targetContracts() public view returns (address[] memory t) {
        t = new address[](1);
        t[0] = address(handler);
    }

    /// @dev Every entry is found under its own registrant and hash, and under nobody else's.
    /// forge-config: default.invariant.runs = 16
    /// forge-config: default.invariant.depth = 24
    function invariant_entriesAreKeyedByTheirRegistrant() public view {
        uint256 n = reg.datasetCount();
        vm.assertEq(n, handler.count(), "every registration made one entry");
        for (uint256 id = 1; id <= n; ++id) {
            LineageRegistry.Dataset memory d = reg.dataset(id);
            vm.assertEq(reg.datasetIdOf(d.curator, d.datasheetHash), id, "found under its curator");
            for (uint256 s = 0; s < 3; ++s) {
                address other = handler.senders(s);
                if (other != d.curator) {
                    vm.assertNotEq(reg.datasetIdOf(other, d.datasheetHash), id, "never under another");
                }
            }
        }
    }
}
