// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title ReadBatch: many view calls answered by one eth_call, without deploying anything
/// @notice Never deployed: a verifier sends this contract's creation code with its constructor
/// arguments as an `eth_call` without a `to`. The constructor static-calls every target and returns
/// `abi.encode(bool[] ok, bytes[] results)` in place of runtime code, so the call's return data is
/// the answers. A failing call (e.g. `ownerOf` of an unminted token) is `ok == false`, not a revert.
/// Works on any node (nothing to deploy, nothing written); the answer is bounded by the code-size
/// limit (24 KiB), so callers send bounded batches.
contract ReadBatch {
    error LengthMismatch(uint256 targets, uint256 calls);

    constructor(address[] memory targets, bytes[] memory calls) {
        if (targets.length != calls.length) revert LengthMismatch(targets.length, calls.length);
        bool[] memory ok = new bool[](calls.length);
        bytes[] memory results = new bytes[](calls.length);
        for (uint256 i; i < calls.length; ++i) {
            (ok[i], results[i]) = targets[i].staticcall(calls[i]);
        }
        bytes memory answer = abi.encode(ok, results);
        assembly ("memory-safe") {
            return(add(answer, 32), mload(answer))
        }
    }
}
