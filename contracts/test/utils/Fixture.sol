// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {MintTest} from "./MintTest.sol";
import {RefMerkle} from "./RefMerkle.sol";
import {TestERC20} from "./TestERC20.sol";
import {ProvenanceLog} from "../../src/ProvenanceLog.sol";
import {CreativeAssets} from "../../src/CreativeAssets.sol";
import {LicenseTemplates} from "../../src/LicenseTemplates.sol";
import {RoyaltyVault} from "../../src/RoyaltyVault.sol";
import {LicenseMarket} from "../../src/LicenseMarket.sol";

/// @notice Full mintloom stack over a log of N assets whose leaves are
/// sha256(0x00 ‖ 0x01551220 ‖ digest_i ‖ manifest_i [‖ 0x01551220 ‖ digest_parent]), built
/// independently of the contracts. Assets 1-9, 11 and 12 derive from the asset before them
/// (chains 0 <- 1 <- … <- 9 and 10 <- 11 <- 12); every other asset is an original.
abstract contract Fixture is MintTest {
    uint256 internal constant N = 32;
    uint256 internal constant STANDARD_FEE = 0.01 ether;
    /// @dev the sha2-256 digest of a token metadata JSON, as registration takes it
    bytes32 internal constant META = 0xc04ab18e6ea42f6580a0a9f8da5d560d5e5a5ee13c45d27263e242befa64671d; // sha256('{"name":"fixture"}')

    ProvenanceLog internal log;
    CreativeAssets internal assets;
    LicenseTemplates internal templates;
    RoyaltyVault internal vault;
    LicenseMarket internal market;
    TestERC20 internal usd;

    address internal admin = makeAddr("admin");
    address internal anchorer = makeAddr("anchorer");
    address internal royaltyReceiver = makeAddr("royaltyReceiver");
    address internal mallory = makeAddr("mallory");
    address internal buyer = makeAddr("buyer");

    bytes32[] internal digests;
    bytes32[] internal manifests;
    bytes32[] internal leafHashes;

    function setUp() public virtual {
        log = new ProvenanceLog(admin, anchorer);
        assets = new CreativeAssets(admin, log, royaltyReceiver, 500);
        templates = new LicenseTemplates(STANDARD_FEE);
        vault = new RoyaltyVault(admin, log, assets);
        market = new LicenseMarket(admin, log, assets, templates, vault);
        usd = new TestERC20();
        vm.prank(admin);
        assets.setDerivativeGuard(market);
        for (uint256 i = 0; i < N; ++i) {
            bytes32 d = sha256(abi.encodePacked("asset", i));
            bytes32 m = keccak256(abi.encodePacked("manifest", i));
            digests.push(d);
            manifests.push(m);
            bytes memory data = abi.encodePacked(bytes4(0x01551220), d, m);
            if (_isDerivative(i)) data = abi.encodePacked(data, bytes4(0x01551220), digests[i - 1]);
            leafHashes.push(RefMerkle.leaf(data));
        }
    }

    /// @dev Whether asset i's leaf commits to asset i-1 as its parent.
    function _isDerivative(uint256 i) internal pure returns (bool) {
        return (i >= 1 && i <= 9) || i == 11 || i == 12;
    }

    function _anchor(uint256 oldSize, uint256 newSize) internal {
        bytes32[] memory l = leafHashes;
        bytes32 root = RefMerkle.root(l, newSize);
        bytes32[] memory proof = RefMerkle.consistency(l, oldSize, newSize);
        vm.prank(anchorer);
        log.anchor(uint64(newSize), root, proof);
    }

    function _proof(uint256 i, uint256 size) internal view returns (bytes32[] memory) {
        bytes32[] memory l = leafHashes;
        return RefMerkle.inclusion(l, i, size);
    }

    /// @dev Registers asset i (proof against checkpoint N, which must be anchored) to `to`.
    function _register(uint256 i, address to, uint256 parent) internal returns (uint256 tokenId) {
        bytes32[] memory proof = _proof(i, N);
        bytes32 d = digests[i];
        bytes32 m = manifests[i];
        vm.prank(admin);
        tokenId = assets.register(to, d, m, uint64(i), uint64(N), proof, parent, META);
    }

    function _tokenId(uint256 i) internal view returns (uint256) {
        return uint256(digests[i]);
    }

    function _attach(uint256 fromIndex, uint256 toIndex, uint256 termsId) internal {
        vm.prank(admin);
        market.attachTerms(uint64(N), uint64(fromIndex), uint64(toIndex), termsId);
    }

    function _split1(address recipient) internal returns (uint256) {
        address[] memory r = new address[](1);
        r[0] = recipient;
        uint32[] memory s = new uint32[](1);
        s[0] = 10_000;
        return vault.createSplit(r, s);
    }

    function _assignSplit(uint256 fromIndex, uint256 toIndex, uint256 splitId) internal {
        vm.prank(admin);
        vault.assignSplit(uint64(N), uint64(fromIndex), uint64(toIndex), splitId);
    }

    function _terms(bool derivatives, uint16 revShare, uint256 fee, address currency, uint64 expiry)
        internal
        pure
        returns (LicenseTemplates.Terms memory)
    {
        return LicenseTemplates.Terms(true, derivatives, true, true, revShare, fee, currency, "WW", expiry, "test");
    }
}
