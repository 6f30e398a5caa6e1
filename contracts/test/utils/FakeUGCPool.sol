// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @notice Not a UGCRewards: emits its reward events for any child, log and creator it is told,
/// and reports whatever contracts it is given. `verify` must not show its rewards.
contract FakeUGCPool {
    event RewardGranted(uint256 indexed child, uint256 indexed parent, address indexed creator, uint256 amount);
    event ChildProvenInLog(uint256 indexed child, address indexed log, uint64 leafIndex, uint64 checkpointSize);

    address private immutable _market;

    constructor(address market) {
        _market = market;
    }

    function grant(uint256 child, address log, uint256 parent, address creator, uint256 amount) external {
        emit RewardGranted(child, parent, creator, amount);
        emit ChildProvenInLog(child, log, 0, 1);
    }

    function contracts() external view returns (address, address, address) {
        return (address(0), _market, address(0));
    }

    function parameters() external pure returns (uint256, uint256, uint256, uint256, uint256, uint256, address) {
        return (0, 0, 0, 0, 0, 1 days, address(0));
    }
}
