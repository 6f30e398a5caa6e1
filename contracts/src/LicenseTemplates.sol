// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC165} from "@openzeppelin/contracts/utils/introspection/ERC165.sol";

/// @title LicenseTemplates: content-addressed registry of license terms
/// @notice Anyone can register a set of terms; registration is idempotent (the same terms, by
/// keccak256(abi.encode(terms)), always map to the same id). Terms are immutable once registered.
/// The constructor registers four standard flavours with ids 1..4. Answers ERC-165 (it implements
/// no other standard interface).
contract LicenseTemplates is ERC165 {
    struct Terms {
        bool commercialUse;
        bool derivativesAllowed;
        bool attributionRequired;
        bool aiTrainingAllowed;
        uint16 revShareBps; // share of derivative revenue owed upstream (LAP), 0..10000
        uint256 mintingFee; // per license token, in `currency` base units
        address currency; // address(0) = ETH
        bytes2 territory; // ISO 3166-1 alpha-2, or "WW" for worldwide
        uint64 expiry; // unix seconds; 0 = never
        string uri; // human/legal text
    }

    /// @notice Free, non-commercial use with derivatives and attribution.
    uint256 public constant NON_COMMERCIAL_REMIX = 1;
    /// @notice Commercial use for a fee; no derivatives.
    uint256 public constant COMMERCIAL_USE = 2;
    /// @notice Commercial use for a fee, derivatives allowed with 10% revenue share upstream.
    uint256 public constant COMMERCIAL_REMIX = 3;
    /// @notice Commercial use for a fee; no derivatives and no AI training.
    uint256 public constant COMMERCIAL_NO_AI = 4;
    uint16 public constant COMMERCIAL_REMIX_REV_SHARE_BPS = 1000;
    uint16 public constant MAX_BPS = 10_000;

    Terms[] private _terms; // id = position + 1
    mapping(bytes32 termsHash => uint256 id) private _ids;

    event TermsRegistered(uint256 indexed termsId, bytes32 indexed termsHash);

    error InvalidTerms();
    error UnknownTerms(uint256 termsId);

    /// @param standardFee minting fee (wei) of the three commercial standard flavours
    constructor(uint256 standardFee) {
        _register(Terms(false, true, true, true, 0, 0, address(0), "WW", 0, "mintloom:terms/non-commercial-remix"));
        _register(Terms(true, false, true, true, 0, standardFee, address(0), "WW", 0, "mintloom:terms/commercial-use"));
        _register(
            Terms(
                true,
                true,
                true,
                true,
                COMMERCIAL_REMIX_REV_SHARE_BPS,
                standardFee,
                address(0),
                "WW",
                0,
                "mintloom:terms/commercial-remix"
            )
        );
        _register(
            Terms(true, false, true, false, 0, standardFee, address(0), "WW", 0, "mintloom:terms/commercial-no-ai")
        );
    }

    /// @notice Register `t` (or find it); returns its id. Reverts InvalidTerms if revShareBps > 10000
    /// or territory is not two upper-case ASCII letters.
    function registerTerms(Terms calldata t) external returns (uint256 termsId) {
        return _register(t);
    }

    /// @notice The terms with id `termsId`; reverts UnknownTerms.
    function terms(uint256 termsId) external view returns (Terms memory) {
        if (!exists(termsId)) revert UnknownTerms(termsId);
        return _terms[termsId - 1];
    }

    /// @notice Number of registered terms (ids 1..count).
    function termsCount() external view returns (uint256) {
        return _terms.length;
    }

    /// @notice Whether `termsId` is registered.
    function exists(uint256 termsId) public view returns (bool) {
        return termsId != 0 && termsId <= _terms.length;
    }

    /// @notice Id of the terms whose keccak256(abi.encode(terms)) is `termsHash` (0 = none).
    function termsIdOf(bytes32 termsHash) external view returns (uint256) {
        return _ids[termsHash];
    }

    /// @notice keccak256(abi.encode(t)), the identity used for idempotent registration.
    function hashTerms(Terms calldata t) external pure returns (bytes32) {
        return keccak256(abi.encode(t));
    }

    /// @notice Name of a standard flavour ("" for any other id).
    function flavourName(uint256 termsId) external pure returns (string memory) {
        if (termsId == NON_COMMERCIAL_REMIX) return "non-commercial-remix";
        if (termsId == COMMERCIAL_USE) return "commercial-use";
        if (termsId == COMMERCIAL_REMIX) return "commercial-remix";
        if (termsId == COMMERCIAL_NO_AI) return "commercial-no-ai";
        return "";
    }

    function _register(Terms memory t) private returns (uint256 termsId) {
        if (t.revShareBps > MAX_BPS || !_isUpper(t.territory[0]) || !_isUpper(t.territory[1])) {
            revert InvalidTerms();
        }
        bytes32 h = keccak256(abi.encode(t));
        termsId = _ids[h];
        if (termsId != 0) return termsId;
        _terms.push(t);
        termsId = _terms.length;
        _ids[h] = termsId;
        emit TermsRegistered(termsId, h);
    }

    function _isUpper(bytes1 c) private pure returns (bool) {
        return c >= 0x41 && c <= 0x5a;
    }
}
