// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {CidText} from "./CidText.sol";
import {MerkleProofs} from "./MerkleProofs.sol";
import {ProvenanceLog} from "./ProvenanceLog.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {CreativeAssets} from "./CreativeAssets.sol";
import {FamilyConfig} from "./FamilyConfig.sol";
import {LicenseMarket} from "./LicenseMarket.sol";
import {LicenseTemplates} from "./LicenseTemplates.sol";

/// @title UGCRewards: a family's reward pool for verified derivatives
/// @notice The family DAO (the owner, its TimelockController) funds the pool in ETH and sets the
/// reward per derivative, a per-creator cap per epoch and a budget cap. A creator earns one reward
/// per child CID (token id = CID digest) when, checked here at submission:
/// - the child is a registered CreativeAssets token (registration proved its log leaf in an
///   anchored checkpoint, and the leaf commits to its parent's CID),
/// - its parent is in the family (FamilyConfig.inFamily),
/// - the caller owns the child and holds a LicenseMarket licence of the parent under terms that
///   are attached to the parent and allow derivatives,
/// - if the DAO named an attester, the attester vouched for the child, its parent and the caller
///   as its creator (see below).
/// Rewards are credited, then claimed by pull.
///
/// A child made by another organisation (a fan with their own workspace, keys and log) is not a
/// CreativeAssets token: `submitFromLog` takes it from the fan's own ProvenanceLog instead. Its
/// leaf sha256(0x00 ‖ child CIDv1 ‖ manifestHash ‖ parent CIDv1) must be included in a checkpoint
/// anchored there (append-only, so an anchored leaf cannot be withdrawn or rewritten), the log must
/// run ProvenanceLog's code (a contract that says yes to every proof is refused), and the caller
/// must be that log's admin: a leaf is claimed only by the organisation that logged it, never by
/// someone replaying its public proof. The same child CID earns once on either path.
/// What this alone cannot refuse: an organisation copying another's child (its public leaf data)
/// into its own log and submitting before the real creator does. The attester closes that: it
/// attests (child, parent, creator) triples, the creator read from the child's signed C2PA
/// credential, and both submit paths pay only the attested creator (`AttestedForAnother`).
///
/// What the chain cannot see: whether the child's pixels differ from the parent's. A re-signed
/// copy of the parent has a new CID (its manifest bytes differ) and passes every check above. The
/// DAO closes that gap by naming an `attester`, an off-chain service that compares perceptual
/// fingerprints of child and parent and attests only children far enough from their parent;
/// without an attester, rewards trust the creator's own tooling.
contract UGCRewards is Ownable, ReentrancyGuard {
    CreativeAssets private immutable _assets;
    LicenseMarket private immutable _market;
    LicenseTemplates private immutable _templates;
    FamilyConfig private immutable _family;
    uint256 private immutable _epochLength;

    uint256 private _reward; // per derivative, wei
    uint256 private _creatorCap; // rewards per creator per epoch
    uint256 private _budgetCap; // total rewards ever granted, wei
    uint256 private _granted; // total rewards granted so far
    uint256 private _totalOwed; // granted and not yet claimed
    address private _attester;
    mapping(uint256 child => bool) private _rewarded;
    mapping(uint256 child => Attestation) private _attested;
    mapping(address creator => mapping(uint256 epoch => uint256)) private _epochCount;
    mapping(address creator => uint256) private _owed;

    event PoolFunded(address indexed from, uint256 amount);
    event RewardSet(uint256 amount);
    event CreatorCapSet(uint256 perEpoch);
    event BudgetCapSet(uint256 cap);
    event AttesterSet(address attester);
    event ChildAttested(uint256 indexed child, uint256 indexed parent, address indexed creator);
    event RewardGranted(uint256 indexed child, uint256 indexed parent, address indexed creator, uint256 amount);
    event RewardClaimed(address indexed creator, uint256 amount);
    event PoolWithdrawn(address indexed to, uint256 amount);

    error AlreadyRewarded(uint256 child);
    error UnknownChild(uint256 child);
    error NotDerivative(uint256 child);
    error ParentNotInFamily(uint256 parent);
    error NotCreator(address caller, address owner);
    error NoLicence(uint256 parent, uint256 termsId);
    error NotAttested(uint256 child);
    error NotAttester(address caller);
    error RewardsOff();
    error CreatorCapReached(address creator, uint256 epoch);
    error OverBudget(uint256 granted, uint256 cap);
    error PoolTooSmall(uint256 available, uint256 needed);
    error NothingToClaim();
    error TransferFailed();
    error ZeroEpoch();
    error NotAProvenanceLog(address log);
    error NotLogOwner(address log, address caller);
    error CheckpointNotAnchored(address log, uint64 size);
    error NotInLog(address log, uint64 leafIndex);
    error RegisteredChild(uint256 child, address owner);
    error AttestedForAnother(uint256 child, address creator);
    error AttestedForOtherParent(uint256 child, uint256 parent);
    error AlreadyAttested(uint256 child, address creator);
    error NoCreator(uint256 child);

    /// @notice The attester's word on a child: not a near copy of `parent`, made by `creator`
    /// (the account its signed credential names): the only account that may earn its reward.
    struct Attestation {
        uint256 child;
        uint256 parent;
        address creator;
    }

    /// @notice A child logged in another organisation's ProvenanceLog, as `submitFromLog` takes it.
    /// @param childDagPb / parentDagPb: the CID codec (dag-pb for a UnixFS DAG root, else raw)
    struct LoggedChild {
        bytes32 cidDigest;
        bytes32 manifestHash;
        uint256 parent;
        bool childDagPb;
        bool parentDagPb;
        uint64 leafIndex;
        uint64 checkpointSize;
    }

    /// @notice A child was proven in `log` (not a CreativeAssets token), followed by RewardGranted.
    event ChildProvenInLog(uint256 indexed child, address indexed log, uint64 leafIndex, uint64 checkpointSize);

    constructor(address owner, LicenseMarket market, FamilyConfig family, uint256 epochLength) Ownable(owner) {
        if (epochLength == 0) revert ZeroEpoch();
        (CreativeAssets assets, LicenseTemplates templates,) = market.contracts();
        _assets = assets;
        _market = market;
        _templates = templates;
        _family = family;
        _epochLength = epochLength;
    }

    /// @notice Add msg.value to the pool (the DAO treasury, or anyone).
    function fund() external payable {
        emit PoolFunded(msg.sender, msg.value);
    }

    /// @notice Earn the reward for derivative `child`, licensed under the parent's terms `termsId`.
    function submit(uint256 child, uint256 termsId) external nonReentrant returns (uint256 reward) {
        uint256 parent = _checkChild(child, termsId);
        reward = _grant(child, parent);
    }

    /// @notice Earn the reward for derivative `c` logged in the caller's own ProvenanceLog `log`
    /// (another organisation's), licensed under the parent's terms `termsId`; `proof` is the RFC
    /// 9162 inclusion proof of its leaf in the checkpoint of size `c.checkpointSize` anchored there.
    function submitFromLog(ProvenanceLog log, LoggedChild calldata c, bytes32[] calldata proof, uint256 termsId)
        external
        nonReentrant
        returns (uint256 reward)
    {
        uint256 child = uint256(c.cidDigest);
        if (_rewarded[child]) revert AlreadyRewarded(child);
        // a child registered as an asset earns through `submit`, for its owner only: anyone may
        // copy its public leaf data into a log of their own
        if (_assets.isRegistered(child)) revert RegisteredChild(child, _assets.ownerOf(child));
        _checkLog(log);
        _checkLeaf(log, c, proof);
        _checkParent(c.parent, termsId);
        _checkAttested(child, c.parent);
        reward = _grant(child, c.parent);
        emit ChildProvenInLog(child, address(log), c.leafIndex, c.checkpointSize);
    }

    /// @notice Withdraw msg.sender's granted rewards.
    function claim() external nonReentrant returns (uint256 amount) {
        amount = _owed[msg.sender];
        if (amount == 0) revert NothingToClaim();
        _owed[msg.sender] = 0;
        _totalOwed -= amount;
        emit RewardClaimed(msg.sender, amount);
        (bool ok,) = payable(msg.sender).call{value: amount}("");
        if (!ok) revert TransferFailed();
    }

    /// @notice The attester vouches for each child: not a near copy of its parent, made by its
    /// creator. An attestation is final: the same one again is a no-op, another is refused.
    function attest(Attestation[] calldata list) external {
        if (msg.sender != _attester) revert NotAttester(msg.sender);
        for (uint256 i = 0; i < list.length; ++i) {
            Attestation calldata a = list[i];
            if (a.creator == address(0)) revert NoCreator(a.child);
            Attestation storage known = _attested[a.child];
            if (known.creator == a.creator && known.parent == a.parent) continue;
            if (known.creator != address(0)) revert AlreadyAttested(a.child, known.creator);
            _attested[a.child] = Attestation(a.child, a.parent, a.creator);
            emit ChildAttested(a.child, a.parent, a.creator);
        }
    }

    function setReward(uint256 amount) external onlyOwner {
        _reward = amount;
        emit RewardSet(amount);
    }

    function setCreatorCap(uint256 perEpoch) external onlyOwner {
        _creatorCap = perEpoch;
        emit CreatorCapSet(perEpoch);
    }

    function setBudgetCap(uint256 cap) external onlyOwner {
        _budgetCap = cap;
        emit BudgetCapSet(cap);
    }

    /// @notice Name the fingerprint attester (address(0) = no attestation required).
    function setAttester(address attester) external onlyOwner {
        _attester = attester;
        emit AttesterSet(attester);
    }

    /// @notice Send `amount` of the pool not owed to creators to `to` (the DAO spending its pool).
    function withdrawPool(address payable to, uint256 amount) external onlyOwner nonReentrant {
        uint256 free = available();
        if (amount > free) revert PoolTooSmall(free, amount);
        emit PoolWithdrawn(to, amount);
        (bool ok,) = to.call{value: amount}("");
        if (!ok) revert TransferFailed();
    }

    /// @notice Pool balance not owed to creators.
    function available() public view returns (uint256) {
        return address(this).balance - _totalOwed;
    }

    /// @notice Rewards `creator` can claim.
    function owed(address creator) external view returns (uint256) {
        return _owed[creator];
    }

    /// @notice Whether `child` has earned its reward.
    function isRewarded(uint256 child) external view returns (bool) {
        return _rewarded[child];
    }

    /// @notice Whether the attester vouched for `child`.
    function isAttested(uint256 child) external view returns (bool) {
        return _attested[child].creator != address(0);
    }

    /// @notice The attestation of `child` (creator address(0): none).
    function attestation(uint256 child) external view returns (Attestation memory) {
        return _attested[child];
    }

    /// @notice Rewards `creator` earned in `epoch`.
    function rewardsInEpoch(address creator, uint256 epoch) external view returns (uint256) {
        return _epochCount[creator][epoch];
    }

    /// @notice The current epoch (block.timestamp / epochLength).
    function currentEpoch() public view returns (uint256) {
        return block.timestamp / _epochLength;
    }

    /// @notice Parameters: reward per derivative, cap per creator per epoch, budget cap, granted
    /// so far, still owed, epoch length and attester.
    function parameters()
        external
        view
        returns (
            uint256 reward,
            uint256 creatorCap,
            uint256 budgetCap,
            uint256 granted,
            uint256 totalOwed,
            uint256 epochLength,
            address attester
        )
    {
        return (_reward, _creatorCap, _budgetCap, _granted, _totalOwed, _epochLength, _attester);
    }

    /// @notice The contracts read at submission: parents' registry, licences and the family.
    function contracts() external view returns (CreativeAssets, LicenseMarket, FamilyConfig) {
        return (_assets, _market, _family);
    }

    /// @notice The FamilyConfig whose assets are parents that earn.
    function family() external view returns (FamilyConfig) {
        return _family;
    }

    /// @dev The submission checks on the child; returns its parent.
    function _checkChild(uint256 child, uint256 termsId) private view returns (uint256 parent) {
        if (_rewarded[child]) revert AlreadyRewarded(child);
        if (!_assets.isRegistered(child)) revert UnknownChild(child);
        parent = _assets.parentOf(child);
        if (parent == 0) revert NotDerivative(child);
        if (!_family.inFamily(parent)) revert ParentNotInFamily(parent);
        address owner = _assets.ownerOf(child);
        if (msg.sender != owner) revert NotCreator(msg.sender, owner);
        if (!_holdsLicence(owner, parent, termsId)) revert NoLicence(parent, termsId);
        _checkAttested(child, parent);
    }

    /// @dev An attestation of `child`, once made, binds it to its creator and parent whether or not
    /// an attester is named now (removing the attester must not free an attested child for a
    /// copier); with an attester named, a child needs one.
    function _checkAttested(uint256 child, uint256 parent) private view {
        Attestation storage a = _attested[child];
        if (a.creator == address(0)) {
            if (_attester != address(0)) revert NotAttested(child);
            return;
        }
        if (a.creator != msg.sender) revert AttestedForAnother(child, a.creator);
        if (a.parent != parent) revert AttestedForOtherParent(child, a.parent);
    }

    /// @dev Records the reward of `child` for msg.sender after every check passed.
    function _grant(uint256 child, uint256 parent) private returns (uint256 reward) {
        reward = _checkBudget(msg.sender);
        _rewarded[child] = true;
        _granted += reward;
        _owed[msg.sender] += reward;
        _totalOwed += reward;
        emit RewardGranted(child, parent, msg.sender, reward);
    }

    /// @dev `log` runs ProvenanceLog's code (the same runtime code as the family's own log: no
    /// immutables, so every deployment has one code hash) and msg.sender is its admin.
    function _checkLog(ProvenanceLog log) private view {
        if (address(log).code.length == 0 || address(log).codehash != address(_assets.provenanceLog()).codehash) {
            revert NotAProvenanceLog(address(log));
        }
        if (!log.hasRole(bytes32(0), msg.sender)) revert NotLogOwner(address(log), msg.sender);
    }

    /// @dev The child's leaf, committing to its parent's CID, is in a checkpoint anchored in `log`.
    function _checkLeaf(ProvenanceLog log, LoggedChild calldata c, bytes32[] calldata proof) private view {
        if (!log.isAnchored(c.checkpointSize)) revert CheckpointNotAnchored(address(log), c.checkpointSize);
        bytes memory data = abi.encodePacked(
            CidText.prefix(c.childDagPb ? CidText.CODEC_DAG_PB : CidText.CODEC_RAW),
            c.cidDigest,
            c.manifestHash,
            CidText.prefix(c.parentDagPb ? CidText.CODEC_DAG_PB : CidText.CODEC_RAW),
            bytes32(c.parent)
        );
        if (!log.verifyInclusion(MerkleProofs.hashLeaf(data), c.leafIndex, c.checkpointSize, proof)) {
            revert NotInLog(address(log), c.leafIndex);
        }
    }

    /// @dev The parent is a registered family asset (inFamily checks both) whose derivative licence msg.sender holds.
    function _checkParent(uint256 parent, uint256 termsId) private view {
        if (!_family.inFamily(parent)) revert ParentNotInFamily(parent);
        if (!_holdsLicence(msg.sender, parent, termsId)) revert NoLicence(parent, termsId);
    }

    /// @dev Counts the reward against the creator's epoch cap and the budget; returns its amount.
    function _checkBudget(address creator) private returns (uint256 reward) {
        reward = _reward;
        if (reward == 0) revert RewardsOff();
        uint256 epoch = currentEpoch();
        uint256 count = _epochCount[creator][epoch];
        if (count >= _creatorCap) revert CreatorCapReached(creator, epoch);
        if (_granted + reward > _budgetCap) revert OverBudget(_granted, _budgetCap);
        uint256 free = available();
        if (reward > free) revert PoolTooSmall(free, reward);
        _epochCount[creator][epoch] = count + 1;
    }

    function _holdsLicence(address holder, uint256 parent, uint256 termsId) private view returns (bool) {
        if (!_market.isAttached(parent, termsId)) return false;
        if (!_templates.terms(termsId).derivativesAllowed) return false;
        return _market.balanceOf(holder, _market.licenseIdOf(parent, termsId)) != 0;
    }
}
