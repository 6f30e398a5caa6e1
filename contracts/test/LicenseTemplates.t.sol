// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";
import {MintTest} from "./utils/MintTest.sol";
import {LicenseTemplates} from "../src/LicenseTemplates.sol";

contract LicenseTemplatesTest is MintTest {
    LicenseTemplates internal templates;

    function setUp() public {
        templates = new LicenseTemplates(1 ether);
    }

    function _custom(uint16 revShare, uint256 fee, bytes2 territory, uint64 expiry)
        internal
        pure
        returns (LicenseTemplates.Terms memory)
    {
        return
            LicenseTemplates.Terms(true, true, false, false, revShare, fee, address(0), territory, expiry, "ipfs://t");
    }

    function test_supportsInterface() public view {
        vm.assertTrue(templates.supportsInterface(type(IERC165).interfaceId), "165");
        vm.assertFalse(templates.supportsInterface(0xffffffff), "0xffffffff");
        vm.assertFalse(templates.supportsInterface(0x80ac58cd), "not 721");
    }

    function test_standardFlavours() public view {
        vm.assertEq(templates.termsCount(), 4, "four standard flavours");
        vm.assertEq(templates.flavourName(templates.NON_COMMERCIAL_REMIX()), "non-commercial-remix", "1");
        vm.assertEq(templates.flavourName(templates.COMMERCIAL_USE()), "commercial-use", "2");
        vm.assertEq(templates.flavourName(templates.COMMERCIAL_REMIX()), "commercial-remix", "3");
        vm.assertEq(templates.flavourName(templates.COMMERCIAL_NO_AI()), "commercial-no-ai", "4");
        vm.assertEq(templates.flavourName(5), "", "custom");

        LicenseTemplates.Terms memory nc = templates.terms(1);
        vm.assertFalse(nc.commercialUse, "nc: non-commercial");
        vm.assertTrue(nc.derivativesAllowed, "nc: remix");
        vm.assertEq(nc.mintingFee, 0, "nc: free");
        LicenseTemplates.Terms memory cu = templates.terms(2);
        vm.assertTrue(cu.commercialUse, "cu: commercial");
        vm.assertFalse(cu.derivativesAllowed, "cu: no remix");
        vm.assertEq(cu.mintingFee, 1 ether, "cu: fee");
        LicenseTemplates.Terms memory cr = templates.terms(3);
        vm.assertTrue(cr.derivativesAllowed, "cr: remix");
        vm.assertEq(uint256(cr.revShareBps), 1000, "cr: 10%");
        LicenseTemplates.Terms memory na = templates.terms(4);
        vm.assertTrue(na.commercialUse, "na: commercial");
        vm.assertFalse(na.aiTrainingAllowed, "na: no AI");
        vm.assertEq(bytes32(na.territory), bytes32(bytes2("WW")), "worldwide");
        vm.assertEq(uint256(na.expiry), 0, "never expires");
    }

    function test_registerTermsIsIdempotent() public {
        LicenseTemplates.Terms memory t = _custom(500, 3, "DE", 0);
        bytes32 h = keccak256(abi.encode(t));
        vm.expectEmit(true, true, false, true, address(templates));
        emit LicenseTemplates.TermsRegistered(5, h);
        uint256 id = templates.registerTerms(t);
        vm.assertEq(id, 5, "next id");
        vm.assertEq(templates.registerTerms(t), 5, "same id again");
        vm.assertEq(templates.termsCount(), 5, "no duplicate");
        vm.assertEq(templates.termsIdOf(h), 5, "by hash");
        vm.assertEq(templates.hashTerms(t), h, "hash = keccak(abi.encode)");
        vm.assertEq(templates.terms(5).uri, "ipfs://t", "stored");
        // a standard flavour registered again returns its id
        LicenseTemplates.Terms memory std = templates.terms(3);
        vm.assertEq(templates.registerTerms(std), 3, "standard id");
    }

    function test_RevertWhen_invalidTerms() public {
        vm.expectRevert(LicenseTemplates.InvalidTerms.selector);
        templates.registerTerms(_custom(10_001, 0, "WW", 0));
        vm.expectRevert(LicenseTemplates.InvalidTerms.selector);
        templates.registerTerms(_custom(0, 0, "de", 0));
        vm.expectRevert(LicenseTemplates.InvalidTerms.selector);
        templates.registerTerms(_custom(0, 0, bytes2(0), 0));
    }

    function test_RevertWhen_unknownTerms() public {
        vm.expectRevert(abi.encodeWithSelector(LicenseTemplates.UnknownTerms.selector, 0));
        templates.terms(0);
        vm.expectRevert(abi.encodeWithSelector(LicenseTemplates.UnknownTerms.selector, 5));
        templates.terms(5);
        vm.assertFalse(templates.exists(5), "exists");
        vm.assertTrue(templates.exists(4), "exists");
    }

    function testFuzz_distinctTermsGetDistinctIds(uint16 a, uint16 b, uint256 feeA, uint256 feeB) public {
        a = uint16(bound(a, 0, 10_000));
        b = uint16(bound(b, 0, 10_000));
        uint256 idA = templates.registerTerms(_custom(a, feeA, "US", 0));
        uint256 idB = templates.registerTerms(_custom(b, feeB, "US", 0));
        vm.assertEq(idA == idB, a == b && feeA == feeB, "same id iff same terms");
        vm.assertEq(templates.registerTerms(_custom(a, feeA, "US", 0)), idA, "idempotent");
        vm.assertEq(templates.termsCount(), idA == idB ? 5 : 6, "count");
    }
}
