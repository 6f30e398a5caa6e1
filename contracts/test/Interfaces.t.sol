// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IERC2981} from "@openzeppelin/contracts/interfaces/IERC2981.sol";
import {IERC721} from "@openzeppelin/contracts/token/ERC721/IERC721.sol";
import {IERC721Metadata} from "@openzeppelin/contracts/token/ERC721/extensions/IERC721Metadata.sol";
import {IERC1155} from "@openzeppelin/contracts/token/ERC1155/IERC1155.sol";
import {IERC1155MetadataURI} from "@openzeppelin/contracts/token/ERC1155/extensions/IERC1155MetadataURI.sol";
import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";
import {Fixture} from "./utils/Fixture.sol";
import {LineageRegistry} from "../src/LineageRegistry.sol";

/// ERC-165 of every deployed contract: the interfaces it implements are advertised, by their
/// published ids (checked against the interface types), 0xffffffff never, others not.
contract InterfacesTest is Fixture {
    bytes4 internal constant ERC165 = 0x01ffc9a7;
    bytes4 internal constant ERC721 = 0x80ac58cd;
    bytes4 internal constant ERC721_METADATA = 0x5b5e139f;
    bytes4 internal constant ERC2981 = 0x2a55205a;
    bytes4 internal constant ERC1155 = 0xd9b67a26;
    bytes4 internal constant ERC1155_METADATA_URI = 0x0e89341c;
    bytes4 internal constant INVALID = 0xffffffff;

    LineageRegistry internal lineage;

    function setUp() public override {
        super.setUp();
        lineage = new LineageRegistry(admin, log);
    }

    function test_publishedIdsMatchTheInterfaceTypes() public pure {
        vm.assertEq(type(IERC165).interfaceId, ERC165, "165");
        vm.assertEq(type(IERC721).interfaceId, ERC721, "721");
        vm.assertEq(type(IERC721Metadata).interfaceId, ERC721_METADATA, "721 metadata");
        vm.assertEq(type(IERC2981).interfaceId, ERC2981, "2981");
        vm.assertEq(type(IERC1155).interfaceId, ERC1155, "1155");
        vm.assertEq(type(IERC1155MetadataURI).interfaceId, ERC1155_METADATA_URI, "1155 metadata uri");
    }

    function test_creativeAssets() public view {
        IERC165 c = IERC165(address(assets));
        vm.assertTrue(c.supportsInterface(ERC165), "165");
        vm.assertTrue(c.supportsInterface(ERC721), "721");
        vm.assertTrue(c.supportsInterface(ERC721_METADATA), "721 metadata");
        vm.assertTrue(c.supportsInterface(ERC2981), "2981");
        vm.assertTrue(c.supportsInterface(type(IAccessControl).interfaceId), "access control");
        vm.assertFalse(c.supportsInterface(ERC1155), "not 1155");
        vm.assertFalse(c.supportsInterface(INVALID), "0xffffffff");
    }

    function test_licenseMarket() public view {
        IERC165 c = IERC165(address(market));
        vm.assertTrue(c.supportsInterface(ERC165), "165");
        vm.assertTrue(c.supportsInterface(ERC1155), "1155");
        vm.assertTrue(c.supportsInterface(ERC1155_METADATA_URI), "1155 metadata uri");
        vm.assertTrue(c.supportsInterface(type(IAccessControl).interfaceId), "access control");
        vm.assertFalse(c.supportsInterface(ERC721), "not 721");
        vm.assertFalse(c.supportsInterface(INVALID), "0xffffffff");
    }

    /// LicenseTemplates answered no ERC-165 query at all before (the call reverted).
    function test_licenseTemplates() public view {
        IERC165 c = IERC165(address(templates));
        vm.assertTrue(c.supportsInterface(ERC165), "165");
        vm.assertFalse(c.supportsInterface(ERC721), "not 721");
        vm.assertFalse(c.supportsInterface(ERC1155), "not 1155");
        vm.assertFalse(c.supportsInterface(INVALID), "0xffffffff");
    }

    function test_accessControlledContracts() public view {
        address[3] memory cs = [address(log), address(vault), address(lineage)];
        for (uint256 i = 0; i < cs.length; ++i) {
            IERC165 c = IERC165(cs[i]);
            vm.assertTrue(c.supportsInterface(ERC165), "165");
            vm.assertTrue(c.supportsInterface(type(IAccessControl).interfaceId), "access control");
            vm.assertFalse(c.supportsInterface(ERC721), "not 721");
            vm.assertFalse(c.supportsInterface(INVALID), "0xffffffff");
        }
    }

    function testFuzz_noContractClaimsAnUnknownInterface(bytes4 id) public view {
        vm.assume(id != ERC165 && id != ERC721 && id != ERC721_METADATA && id != ERC2981);
        vm.assume(id != ERC1155 && id != ERC1155_METADATA_URI && id != type(IAccessControl).interfaceId);
        address[6] memory cs =
            [address(assets), address(market), address(templates), address(log), address(vault), address(lineage)];
        for (uint256 i = 0; i < cs.length; ++i) {
            vm.assertFalse(IERC165(cs[i]).supportsInterface(id), "unknown id");
        }
    }
}
