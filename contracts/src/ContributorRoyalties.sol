// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {LineageRegistry} from "./LineageRegistry.sol";
import {MerkleProofs} from "./MerkleProofs.sol";

/// @title ContributorRoyalties: a dataset's data share paid to its contributors by Merkle claim
/// @notice The curator of a LineageRegistry dataset posts, once per revenue epoch, one RFC 9162
/// distribution root over (index, contributor, amount) leaves and the ETH to pay them. Each
/// contributor then claims with an inclusion proof: one transaction per epoch for the curator
/// however many contributors there are. Amounts are computed off chain by floor division, so the
/// curator declares `allocated` (the sum of the leaves); what was sent beyond it is the rounding
/// dust, recorded and returned to the curator's balance. Claims can never pay out more than
/// `allocated` of an epoch, even under a wrong tree.
///
/// Leaf data (abi.encodePacked): this contract (20) ‖ datasetId (32) ‖ epoch (8) ‖ index (8) ‖
/// account (20) ‖ amount (32) — 120 bytes, so a proof is bound to one contract, dataset, epoch and
/// position and cannot be replayed elsewhere.
contract ContributorRoyalties is ReentrancyGuard {
    struct Distribution {
        bytes32 root;
        uint64 size;
        uint128 allocated;
        uint128 claimed;
        uint128 dust;
    }

    LineageRegistry public immutable registry;
    mapping(bytes32 key => Distribution) private _distributions; // key: keccak256(datasetId, epoch)
    mapping(bytes32 key => mapping(uint256 word => uint256 bits)) private _claimed;
    /// @notice Rounding dust owed back to each curator, withdrawn with `withdrawDust`.
    mapping(address curator => uint256 wei_) public dustOf;

    event DistributionPosted(
        uint256 indexed datasetId, uint64 indexed epoch, bytes32 root, uint64 size, uint256 allocated, uint256 dust
    );
    event Claimed(
        uint256 indexed datasetId, uint64 indexed epoch, uint64 index, address indexed account, uint256 amount
    );
    event DustWithdrawn(address indexed curator, uint256 amount);

    error NotCurator(uint256 datasetId, address sender);
    error DistributionExists(uint256 datasetId, uint64 epoch);
    error UnknownDistribution(uint256 datasetId, uint64 epoch);
    error EmptyDistribution();
    error Underfunded(uint256 allocated, uint256 received);
    error AlreadyClaimed(uint256 datasetId, uint64 epoch, uint64 index);
    error InvalidProof();
    error ExceedsAllocation(uint256 remaining, uint256 amount);
    error PaymentFailed(address to);

    constructor(LineageRegistry registry_) {
        registry = registry_;
    }

    /// @notice Post epoch `epoch`'s distribution of dataset `datasetId` (its curator only), paying
    /// msg.value: `allocated` of it to the tree's leaves, the rest is dust back to the curator.
    function distribute(uint256 datasetId, uint64 epoch, bytes32 root, uint64 size, uint128 allocated)
        external
        payable
    {
        if (registry.dataset(datasetId).curator != msg.sender) revert NotCurator(datasetId, msg.sender);
        if (root == bytes32(0) || size == 0) revert EmptyDistribution();
        if (msg.value < allocated) revert Underfunded(allocated, msg.value);
        bytes32 key = distributionKey(datasetId, epoch);
        if (_distributions[key].size != 0) revert DistributionExists(datasetId, epoch);
        // casting to 'uint128' is safe because no account holds 2^128 wei
        // forge-lint: disable-next-line(unsafe-typecast)
        uint128 dust = uint128(msg.value - allocated);
        _distributions[key] = Distribution(root, size, allocated, 0, dust);
        dustOf[msg.sender] += dust;
        emit DistributionPosted(datasetId, epoch, root, size, allocated, dust);
    }

    /// @notice Pay `amount` to `account` (anyone may submit) if leaf `index` of the epoch's tree
    /// says so and it was not claimed yet.
    function claim(
        uint256 datasetId,
        uint64 epoch,
        uint64 index,
        address account,
        uint256 amount,
        bytes32[] calldata proof
    ) external nonReentrant {
        bytes32 key = distributionKey(datasetId, epoch);
        Distribution storage d = _distributions[key];
        if (d.size == 0) revert UnknownDistribution(datasetId, epoch);
        if (isClaimed(datasetId, epoch, index)) revert AlreadyClaimed(datasetId, epoch, index);
        bytes32 leaf = MerkleProofs.hashLeaf(leafData(datasetId, epoch, index, account, amount));
        if (!MerkleProofs.verifyInclusion(index, d.size, leaf, proof, d.root)) revert InvalidProof();
        uint256 remaining = d.allocated - d.claimed;
        if (amount > remaining) revert ExceedsAllocation(remaining, amount);
        _claimed[key][index >> 8] |= 1 << (index & 0xff);
        d.claimed += uint128(amount);
        emit Claimed(datasetId, epoch, index, account, amount);
        _pay(account, amount);
    }

    /// @notice Send the caller the rounding dust of the distributions they posted.
    function withdrawDust() external nonReentrant {
        uint256 amount = dustOf[msg.sender];
        dustOf[msg.sender] = 0;
        emit DustWithdrawn(msg.sender, amount);
        _pay(msg.sender, amount);
    }

    function distribution(uint256 datasetId, uint64 epoch) external view returns (Distribution memory) {
        return _distributions[distributionKey(datasetId, epoch)];
    }

    function isClaimed(uint256 datasetId, uint64 epoch, uint64 index) public view returns (bool) {
        return _claimed[distributionKey(datasetId, epoch)][index >> 8] & (1 << (index & 0xff)) != 0;
    }

    function distributionKey(uint256 datasetId, uint64 epoch) public pure returns (bytes32) {
        return keccak256(abi.encode(datasetId, epoch));
    }

    /// @notice The leaf data of a claim (see the contract's notice); Python builds the same bytes.
    function leafData(uint256 datasetId, uint64 epoch, uint64 index, address account, uint256 amount)
        public
        view
        returns (bytes memory)
    {
        return abi.encodePacked(address(this), datasetId, epoch, index, account, amount);
    }

    function _pay(address to, uint256 amount) private {
        if (amount == 0) return;
        (bool ok,) = to.call{value: amount}("");
        if (!ok) revert PaymentFailed(to);
    }
}
