// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Fixture} from "./Fixture.sol";
import {Marketplace} from "../../src/Marketplace.sol";

/// @notice The mintloom stack plus a Marketplace (1% fee), wired as deploy.py wires it: the vault
/// routes royalties, the market registers assets and issues licences. Checkpoint N is anchored,
/// leaves [0, N) pay split 1 (alice 60%, bob 40%) and carry the commercial-use terms (id 2).
abstract contract MarketFixture is Fixture {
    uint256 internal constant SELLER_PK = 0xA11CE;
    uint256 internal constant BUYER_PK = 0xB0B;
    uint256 internal constant BRAND_PK = 0xB8A4D;
    uint256 internal constant MALLORY_PK = 0xBAD;
    uint16 internal constant FEE_BPS = 100;
    uint256 internal constant TERMS = 2; // COMMERCIAL_USE

    Marketplace internal mkt;
    address internal seller = vm.addr(SELLER_PK);
    address internal bidder = vm.addr(BUYER_PK);
    address internal brand = vm.addr(BRAND_PK);
    address internal feeTo = makeAddr("feeTo");
    address internal alice = makeAddr("alice");
    address internal bob = makeAddr("bob");
    uint256 internal splitId;

    function setUp() public virtual override {
        super.setUp();
        mkt = _deployMarket(feeTo, FEE_BPS);
        _anchor(0, N);
        splitId = _split2();
        _assignSplit(0, N, splitId);
        _attach(0, N, TERMS);
    }

    function _deployMarket(address feeRecipient, uint16 bps) internal returns (Marketplace m) {
        m = new Marketplace(admin, assets, market, feeRecipient, bps);
        vm.startPrank(admin);
        assets.setRoyaltyRouter(vault);
        assets.grantRole(assets.REGISTRAR_ROLE(), address(m));
        market.grantRole(market.ISSUER_ROLE(), address(m));
        m.grantRole(m.BRAND_ROLE(), brand);
        vm.stopPrank();
    }

    function _split2() internal returns (uint256) {
        address[] memory r = new address[](2);
        r[0] = alice;
        r[1] = bob;
        uint32[] memory s = new uint32[](2);
        s[0] = 6000;
        s[1] = 4000;
        return vault.createSplit(r, s);
    }

    function _sig(uint256 pk, bytes32 digest) internal pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(pk, digest);
        return abi.encodePacked(r, s, v);
    }

    /// @dev A one-asset ETH listing of asset i by `seller`, valid for a day.
    function _listing(uint256 i, uint256 price) internal view returns (Marketplace.Order memory o) {
        o = Marketplace.Order({
            signer: seller,
            side: Marketplace.Side.Listing,
            kind: Marketplace.Kind.Asset,
            tokenId: _tokenId(i),
            termsId: 0,
            fromLeaf: 0,
            toLeaf: 0,
            amount: 1,
            currency: address(0),
            unitPrice: price,
            expiry: uint64(block.timestamp + 1 days),
            salt: i,
            counter: 0
        });
    }

    /// @dev A lot of `amount` licences of asset i under TERMS, listed by `seller`.
    function _lot(uint256 i, uint256 amount, uint256 unitPrice, address currency)
        internal
        view
        returns (Marketplace.Order memory o)
    {
        o = _listing(i, unitPrice);
        o.kind = Marketplace.Kind.Licence;
        o.termsId = TERMS;
        o.amount = amount;
        o.currency = currency;
    }

    /// @dev Registers asset i to `seller` and lets the market move it.
    function _ownedBySeller(uint256 i) internal returns (uint256 tokenId) {
        tokenId = _register(i, seller, 0);
        vm.prank(seller);
        assets.setApprovalForAll(address(mkt), true);
    }

    /// @dev `seller` buys `amount` licences of registered asset i from the LicenseMarket.
    function _licencesToSeller(uint256 i, uint256 amount) internal returns (uint256 licenseId) {
        vm.deal(seller, STANDARD_FEE * amount);
        vm.prank(seller);
        licenseId = market.buyLicense{value: STANDARD_FEE * amount}(_tokenId(i), TERMS, amount, seller);
        vm.prank(seller);
        market.setApprovalForAll(address(mkt), true);
    }
}
