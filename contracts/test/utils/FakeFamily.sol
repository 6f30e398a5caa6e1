// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @notice Not a FamilyConfig: says every token is in the family and reports the genuine
/// CreativeAssets and LicenseTemplates it is given, like a FamilyConfig over them would. A genuine
/// UGCRewards wired to it pays for any parent; `verify` must not show such a pool's rewards as a
/// family's.
contract FakeFamily {
    address private immutable _assets;
    address private immutable _templates;
    uint256 private immutable _terms;

    constructor(address assets, address templates, uint256 termsId) {
        _assets = assets;
        _templates = templates;
        _terms = termsId;
    }

    function inFamily(uint256) external pure returns (bool) {
        return true;
    }

    function contracts() external view returns (address, address) {
        return (_assets, _templates);
    }

    function newLeafTerms() external view returns (uint256) {
        return _terms;
    }
}
