// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {Multicall} from "@openzeppelin/contracts/utils/Multicall.sol";
import {AnchoredRanges} from "./AnchoredRanges.sol";
import {ProvenanceLog} from "./ProvenanceLog.sol";

/// @title LineageRegistry: datasets, models and the generated assets they produced
/// @notice Anyone can register a dataset (as its curator) or a model (as its trainer, declaring the
/// datasets it was trained on). An entry is keyed by its registrant and content hash, so nobody can
/// squat a datasheet or weights hash: registering the same hash first only creates the squatter's own
/// entry, and readers look entries up by the curator or trainer they expect. LINKER_ROLE links ranges
/// of ProvenanceLog leaves (generated assets) to the model and datasets that produced them, one
/// transaction per anchored checkpoint.
contract LineageRegistry is AccessControl, AnchoredRanges, Multicall {
    bytes32 public constant LINKER_ROLE = keccak256("LINKER_ROLE");
    /// @notice Bound on the dataset list of a model or of a link, keeping gas predictable.
    uint256 public constant MAX_DATASETS = 64;

    struct Dataset {
        bytes32 datasheetHash;
        bytes32 cidDigest;
        address curator;
        bool aiTrainingAllowed;
        uint64 registeredAt;
        string license;
    }

    struct Model {
        bytes32 weightsHash;
        address trainer;
        uint64 registeredAt;
        string license;
        uint256[] trainedOn;
    }

    /// @notice The file-level commitment of an ingested dataset: RFC 9162 root over its sorted
    /// file entries (mintloom's dataset leaf encoding) and the number of files it holds.
    struct FileRoot {
        bytes32 merkleRoot;
        uint64 fileCount;
    }

    struct Link {
        uint256 modelId;
        uint256[] datasetIds;
    }

    Dataset[] private _datasets; // id = position + 1
    Model[] private _models; // id = position + 1
    mapping(bytes32 curatorAndHash => uint256 id) private _datasetIds; // key: entryKey(curator, hash)
    mapping(bytes32 trainerAndHash => uint256 id) private _modelIds; // key: entryKey(trainer, hash)
    Link[] private _links; // indexed by the stored leaf ranges' data slot
    mapping(uint256 datasetId => FileRoot) private _fileRoots; // only datasets registered with a root
    mapping(uint256 modelId => bytes32 runHash) private _trainingRuns; // only models registered with a run

    event DatasetRegistered(
        uint256 indexed datasetId,
        bytes32 indexed datasheetHash,
        address indexed curator,
        bytes32 cidDigest,
        string license,
        bool aiTrainingAllowed
    );
    event DatasetFilesCommitted(uint256 indexed datasetId, bytes32 indexed merkleRoot, uint64 fileCount);
    event ModelRegistered(
        uint256 indexed modelId,
        bytes32 indexed weightsHash,
        address indexed trainer,
        uint256[] trainedOn,
        string license
    );
    /// @notice Model `modelId` was made by the training run whose signed record hashes to `runHash`.
    event TrainingRunRecorded(uint256 indexed modelId, bytes32 indexed runHash);
    event AssetsLinked(
        uint64 indexed checkpointSize, uint64 fromIndex, uint64 toIndex, uint256 indexed modelId, uint256[] datasetIds
    );

    /// @notice msg.sender already registered this datasheet hash (as entry `datasetId`).
    error DatasetExists(uint256 datasetId);
    /// @notice msg.sender already registered these weights (as entry `modelId`).
    error ModelExists(uint256 modelId);
    error ZeroHash();
    error UnknownDataset(uint256 datasetId);
    error UnknownModel(uint256 modelId);
    error TooManyDatasets(uint256 count);
    error EmptyLineage();
    /// @notice A dataset root needs at least one file and a non-zero root.
    error EmptyDataset();

    constructor(address admin, ProvenanceLog log) AnchoredRanges(log) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(LINKER_ROLE, admin);
    }

    /// @notice Register a dataset with msg.sender as curator. Ids start at 1.
    /// @param datasheetHash hash of the dataset's datasheet; unique per curator
    /// @param cidDigest sha256 digest of the dataset archive (CIDv1 raw multihash digest)
    /// @param license SPDX id or license URI
    /// @param aiTrainingAllowed whether the curator permits training AI models on it
    function registerDataset(bytes32 datasheetHash, bytes32 cidDigest, string calldata license, bool aiTrainingAllowed)
        external
        returns (uint256 datasetId)
    {
        datasetId = _registerDataset(datasheetHash, cidDigest, license, aiTrainingAllowed);
    }

    /// @notice Register an ingested dataset with msg.sender as curator, committing to its files:
    /// `merkleRoot` over `fileCount` sorted file entries lets anyone prove a file's membership.
    /// `manifestHash` (the key, unique per curator) is the sha-256 of the dataset manifest.
    function registerDatasetFiles(
        bytes32 manifestHash,
        bytes32 cidDigest,
        string calldata license,
        bool aiTrainingAllowed,
        bytes32 merkleRoot,
        uint64 fileCount
    ) external returns (uint256 datasetId) {
        if (merkleRoot == bytes32(0) || fileCount == 0) revert EmptyDataset();
        datasetId = _registerDataset(manifestHash, cidDigest, license, aiTrainingAllowed);
        _fileRoots[datasetId] = FileRoot(merkleRoot, fileCount);
        emit DatasetFilesCommitted(datasetId, merkleRoot, fileCount);
    }

    /// @notice The file root of dataset `datasetId`; (0, 0) for a dataset registered without one.
    function fileRoot(uint256 datasetId) external view returns (FileRoot memory) {
        if (datasetId == 0 || datasetId > _datasets.length) revert UnknownDataset(datasetId);
        return _fileRoots[datasetId];
    }

    function _registerDataset(bytes32 datasheetHash, bytes32 cidDigest, string calldata license, bool ai)
        private
        returns (uint256 datasetId)
    {
        if (datasheetHash == bytes32(0)) revert ZeroHash();
        bytes32 key = entryKey(msg.sender, datasheetHash);
        uint256 existing = _datasetIds[key];
        if (existing != 0) revert DatasetExists(existing);
        _datasets.push(Dataset(datasheetHash, cidDigest, msg.sender, ai, uint64(block.timestamp), license));
        datasetId = _datasets.length;
        _datasetIds[key] = datasetId;
        emit DatasetRegistered(datasetId, datasheetHash, msg.sender, cidDigest, license, ai);
    }

    /// @notice Register a model with msg.sender as trainer, declaring the datasets it was trained on.
    function registerModel(bytes32 weightsHash, uint256[] calldata trainedOn, string calldata license)
        external
        returns (uint256 modelId)
    {
        modelId = _registerModel(weightsHash, trainedOn, license);
    }

    /// @notice Register a model trained here, with msg.sender as trainer, in one transaction with its
    /// training run: `runHash` is the sha-256 of the signed run record (datasets and their roots,
    /// base model, method, hyper-parameters, seed, code version), `trainedOn` the datasets it used.
    function registerTrainedModel(
        bytes32 weightsHash,
        uint256[] calldata trainedOn,
        string calldata license,
        bytes32 runHash
    ) external returns (uint256 modelId) {
        if (runHash == bytes32(0)) revert ZeroHash();
        if (trainedOn.length == 0) revert EmptyLineage();
        modelId = _registerModel(weightsHash, trainedOn, license);
        _trainingRuns[modelId] = runHash;
        emit TrainingRunRecorded(modelId, runHash);
    }

    /// @notice The run record hash of model `modelId`; 0 for a model registered without one.
    function trainingRun(uint256 modelId) external view returns (bytes32) {
        if (modelId == 0 || modelId > _models.length) revert UnknownModel(modelId);
        return _trainingRuns[modelId];
    }

    function _registerModel(bytes32 weightsHash, uint256[] calldata trainedOn, string calldata license)
        private
        returns (uint256 modelId)
    {
        if (weightsHash == bytes32(0)) revert ZeroHash();
        bytes32 key = entryKey(msg.sender, weightsHash);
        uint256 existing = _modelIds[key];
        if (existing != 0) revert ModelExists(existing);
        _checkDatasets(trainedOn);
        Model storage m = _models.push();
        m.weightsHash = weightsHash;
        m.trainer = msg.sender;
        m.registeredAt = uint64(block.timestamp);
        m.license = license;
        m.trainedOn = trainedOn;
        modelId = _models.length;
        _modelIds[key] = modelId;
        emit ModelRegistered(modelId, weightsHash, msg.sender, trainedOn, license);
    }

    /// @notice Link log leaves `[fromIndex, toIndex)` of anchored checkpoint `checkpointSize` to the
    /// model (0 = none) and datasets that produced them. The range may go after the last one or
    /// fill a gap; it may not overlap one.
    function linkAssets(
        uint64 checkpointSize,
        uint64 fromIndex,
        uint64 toIndex,
        uint256 modelId,
        uint256[] calldata datasetIds
    ) external onlyRole(LINKER_ROLE) {
        if (modelId == 0 && datasetIds.length == 0) revert EmptyLineage();
        if (modelId > _models.length) revert UnknownModel(modelId);
        _checkDatasets(datasetIds);
        _addRange(checkpointSize, fromIndex, toIndex, _links.length);
        _links.push(Link(modelId, datasetIds));
        emit AssetsLinked(checkpointSize, fromIndex, toIndex, modelId, datasetIds);
    }

    /// @notice The model (0 = none) and datasets linked to log leaf `leafIndex`; (0, []) if unlinked.
    function lineageOf(uint64 leafIndex) external view returns (uint256 modelId, uint256[] memory datasetIds) {
        (bool found, uint256 slot) = _findSlot(leafIndex);
        if (!found) return (0, new uint256[](0));
        Link storage l = _links[slot];
        return (l.modelId, l.datasetIds);
    }

    /// @notice The dataset with id `datasetId`; reverts UnknownDataset.
    function dataset(uint256 datasetId) external view returns (Dataset memory) {
        if (datasetId == 0 || datasetId > _datasets.length) revert UnknownDataset(datasetId);
        return _datasets[datasetId - 1];
    }

    /// @notice The model with id `modelId`; reverts UnknownModel.
    function model(uint256 modelId) external view returns (Model memory) {
        if (modelId == 0 || modelId > _models.length) revert UnknownModel(modelId);
        return _models[modelId - 1];
    }

    /// @notice Id of the dataset `curator` registered with `datasheetHash` (0 = none).
    function datasetIdOf(address curator, bytes32 datasheetHash) external view returns (uint256) {
        return _datasetIds[entryKey(curator, datasheetHash)];
    }

    /// @notice Id of the model `trainer` registered with `weightsHash` (0 = none).
    function modelIdOf(address trainer, bytes32 weightsHash) external view returns (uint256) {
        return _modelIds[entryKey(trainer, weightsHash)];
    }

    /// @notice The key an entry is stored under: keccak256(registrant, content hash).
    function entryKey(address registrant, bytes32 contentHash) public pure returns (bytes32 key) {
        assembly ("memory-safe") {
            mstore(0x00, registrant)
            mstore(0x20, contentHash)
            key := keccak256(0x00, 0x40)
        }
    }

    /// @notice Number of registered datasets (ids 1..count).
    function datasetCount() external view returns (uint256) {
        return _datasets.length;
    }

    /// @notice Number of registered models (ids 1..count).
    function modelCount() external view returns (uint256) {
        return _models.length;
    }

    /// @notice Datasets a model declares it was trained on whose curator did not allow AI training.
    function restrictedTrainingData(uint256 modelId) external view returns (uint256[] memory restricted) {
        if (modelId == 0 || modelId > _models.length) revert UnknownModel(modelId);
        uint256[] storage ids = _models[modelId - 1].trainedOn;
        restricted = new uint256[](ids.length);
        uint256 n = 0;
        for (uint256 i = 0; i < ids.length; ++i) {
            if (!_datasets[ids[i] - 1].aiTrainingAllowed) restricted[n++] = ids[i];
        }
        assembly ("memory-safe") {
            mstore(restricted, n)
        }
    }

    function _checkDatasets(uint256[] calldata ids) private view {
        if (ids.length > MAX_DATASETS) revert TooManyDatasets(ids.length);
        uint256 count = _datasets.length;
        for (uint256 i = 0; i < ids.length; ++i) {
            if (ids[i] == 0 || ids[i] > count) revert UnknownDataset(ids[i]);
        }
    }
}
