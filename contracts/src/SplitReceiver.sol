// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

/// @title SplitReceiver: the logic behind each split's royalty address
/// @notice Every RoyaltyVault split gets its own address (a minimal clone of this contract) that
/// CreativeAssets' ERC-2981 `royaltyInfo` names, so a marketplace that pays royalties by a plain ETH
/// transfer or an ERC-20 `transfer` pays the right split without calling the vault. Funds wait in
/// the clone until anyone calls `RoyaltyVault.flush`, which pulls them here and credits the split:
/// ETH force-sent by selfdestruct (or sent before the clone existed) is flushed the same way.
/// @dev Only the vault that deployed this implementation may pull; the clone's own bytecode
/// (SplitReceiverCode) accepts empty-calldata calls without a delegatecall, so a 2300-gas
/// `transfer` succeeds (a delegatecall to a cold implementation alone costs 2600).
contract SplitReceiver {
    using SafeERC20 for IERC20;

    address private immutable _vault;

    error NotVault(address caller);
    error TransferFailed();

    constructor() {
        _vault = msg.sender;
    }

    /// @notice Send this receiver's whole balance of `currency` (address(0) = ETH) to the vault.
    function pull(address currency) external returns (uint256 amount) {
        if (msg.sender != _vault) revert NotVault(msg.sender);
        if (currency == address(0)) {
            amount = address(this).balance;
            if (amount == 0) return 0;
            (bool ok,) = payable(_vault).call{value: amount}("");
            if (!ok) revert TransferFailed();
        } else {
            amount = IERC20(currency).balanceOf(address(this));
            if (amount != 0) IERC20(currency).safeTransfer(_vault, amount);
        }
    }
}

/// @title SplitReceiverCode: creation code of a split's receiver clone
/// @notice EIP-1167 minimal proxy with a 6-byte prelude (as 0xSplits' clones): a call without
/// calldata STOPs (accepting any ETH for 15 gas); any other call is delegated to the implementation.
library SplitReceiverCode {
    /// @dev Runtime: 36 6005 57 00 5b | 363d3d373d3d3d363d73 <impl> 5af43d82803e903d91 6031 57fd5bf3
    /// (51 bytes: the EIP-1167 body shifted by 6, so its return jump target is 0x31).
    function creationCode(address implementation) internal pure returns (bytes memory) {
        return abi.encodePacked(
            hex"3d603380600a3d3981f3", // copy the 0x33-byte runtime after this prefix and return it
            hex"36600557005b",
            hex"363d3d373d3d3d363d73",
            implementation,
            hex"5af43d82803e903d91603157fd5bf3"
        );
    }
}
