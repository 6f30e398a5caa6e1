// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {AnchoredRanges} from "./AnchoredRanges.sol";
import {CreativeAssets} from "./CreativeAssets.sol";
import {LicenseTemplates} from "./LicenseTemplates.sol";
import {ProvenanceLog} from "./ProvenanceLog.sol";

/// @title FamilyConfig: what a campaign family is and the terms its new leaves get
/// @notice A family is a set of anchored ProvenanceLog leaf ranges (a campaign, or part of one).
/// The owner — the brand while it sets the family up, then the family DAO's TimelockController —
/// adds ranges and sets `newLeafTerms`, the LicenseTemplates terms (fee, currency, derivatives,
/// revenue share) that the operator attaches to the family's new leaves and listings. The
/// LicenseMarket's ATTACHER_ROLE is global, so the DAO does not get it: this contract is the
/// family's recorded decision, which the publish pipeline reads (it is not enforced by the
/// LicenseMarket). UGCRewards reads `inFamily` to decide which parents earn rewards.
contract FamilyConfig is Ownable, AnchoredRanges {
    CreativeAssets private immutable _assets;
    LicenseTemplates private immutable _templates;
    uint256 private _newLeafTerms;

    event NewLeafTermsSet(uint256 indexed termsId);
    event FamilyRangeAdded(uint64 indexed checkpointSize, uint64 fromIndex, uint64 toIndex);

    error UnknownTerms(uint256 termsId);

    constructor(address owner, CreativeAssets assets, LicenseTemplates templates, uint256 termsId)
        Ownable(owner)
        AnchoredRanges(assets.provenanceLog())
    {
        _assets = assets;
        _templates = templates;
        _setNewLeafTerms(termsId);
    }

    /// @notice Add leaves `[fromIndex, toIndex)` of anchored checkpoint `checkpointSize` to the family.
    function addRange(uint64 checkpointSize, uint64 fromIndex, uint64 toIndex) external onlyOwner {
        _addRange(checkpointSize, fromIndex, toIndex, 0);
        emit FamilyRangeAdded(checkpointSize, fromIndex, toIndex);
    }

    /// @notice Set the terms attached to the family's new leaves and listings (must be registered).
    function setNewLeafTerms(uint256 termsId) external onlyOwner {
        _setNewLeafTerms(termsId);
    }

    /// @notice The terms the family's new leaves and listings get.
    function newLeafTerms() external view returns (uint256) {
        return _newLeafTerms;
    }

    /// @notice Whether log leaf `leafIndex` belongs to the family.
    function containsLeaf(uint64 leafIndex) public view returns (bool found) {
        (found,) = _findSlot(leafIndex);
    }

    /// @notice Whether `tokenId` is a registered CreativeAssets token whose leaf is in the family.
    function inFamily(uint256 tokenId) external view returns (bool) {
        return _assets.isRegistered(tokenId) && containsLeaf(_assets.leafIndexOf(tokenId));
    }

    /// @notice The contracts this configuration refers to.
    function contracts() external view returns (CreativeAssets assets, LicenseTemplates templates) {
        return (_assets, _templates);
    }

    function _setNewLeafTerms(uint256 termsId) private {
        if (!_templates.exists(termsId)) revert UnknownTerms(termsId);
        _newLeafTerms = termsId;
        emit NewLeafTermsSet(termsId);
    }
}
