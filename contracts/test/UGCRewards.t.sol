// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {DaoFixture} from "./utils/DaoFixture.sol";
import {LicenseMarket} from "../src/LicenseMarket.sol";
import {UGCRewards} from "../src/UGCRewards.sol";

/// @notice A creator contract whose ETH hook re-enters claim and submit.
contract ReentrantCreator {
    UGCRewards internal immutable rewards;
    uint256 internal child;
    uint256 internal terms;
    bytes4 public claimError;
    bytes4 public submitError;
    uint256 public received;

    constructor(UGCRewards r) {
        rewards = r;
    }

    function licence(LicenseMarket market, uint256 parent, uint256 termsId) external {
        market.buyLicense(parent, termsId, 1, address(this));
    }

    function submit(uint256 c, uint256 t) external {
        child = c;
        terms = t;
        rewards.submit(c, t);
    }

    function claim() external {
        rewards.claim();
    }

    receive() external payable {
        received += msg.value;
        try rewards.claim() {}
        catch (bytes memory reason) {
            // forge-lint: disable-next-line(unsafe-typecast)
            claimError = bytes4(reason);
        }
        try rewards.submit(child, terms) {}
        catch (bytes memory reason) {
            // forge-lint: disable-next-line(unsafe-typecast)
            submitError = bytes4(reason);
        }
    }

    function onERC721Received(address, address, uint256, bytes calldata) external pure returns (bytes4) {
        return this.onERC721Received.selector;
    }

    function onERC1155Received(address, address, uint256, uint256, bytes calldata) external pure returns (bytes4) {
        return this.onERC1155Received.selector;
    }
}

contract UGCRewardsTest is DaoFixture {
    uint256 internal constant REWARD = 0.05 ether;
    uint256[] internal ids;

    function setUp() public override {
        super.setUp();
        ids = _registerChain(4); // 0 brand; 1, 3 fan; 2, 4 fan2
        _openPool(brand, REWARD, 2, 1 ether, 1 ether);
    }

    function test_verifiedDerivativeEarnsAndClaims() public {
        _license(fan, ids[0]);
        vm.expectEmit(true, true, true, true, address(rewards));
        emit UGCRewards.RewardGranted(ids[1], ids[0], fan, REWARD);
        vm.prank(fan);
        vm.assertEq(rewards.submit(ids[1], remix), REWARD, "granted");
        vm.assertTrue(rewards.isRewarded(ids[1]), "recorded by child CID");
        vm.assertEq(rewards.owed(fan), REWARD, "owed");
        vm.assertEq(rewards.available(), 1 ether - REWARD, "reserved from the pool");
        vm.prank(fan);
        rewards.claim();
        vm.assertEq(fan.balance, REWARD, "paid by pull");
        vm.assertEq(rewards.owed(fan), 0, "settled");
        vm.prank(fan);
        vm.expectRevert(UGCRewards.NothingToClaim.selector);
        rewards.claim();
    }

    function test_sameChildTwiceRefused() public {
        _license(fan, ids[0]);
        vm.startPrank(fan);
        rewards.submit(ids[1], remix);
        vm.expectRevert(abi.encodeWithSelector(UGCRewards.AlreadyRewarded.selector, ids[1]));
        rewards.submit(ids[1], remix);
        vm.stopPrank();
        // nor after the child changes hands
        vm.prank(fan);
        assets.transferFrom(fan, fan2, ids[1]);
        _license(fan2, ids[0]);
        vm.prank(fan2);
        vm.expectRevert(abi.encodeWithSelector(UGCRewards.AlreadyRewarded.selector, ids[1]));
        rewards.submit(ids[1], remix);
    }

    function test_childWithoutLicenceRefused() public {
        vm.prank(fan);
        vm.expectRevert(abi.encodeWithSelector(UGCRewards.NoLicence.selector, ids[0], remix));
        rewards.submit(ids[1], remix);
        // a licence of another asset does not count
        _license(fan, ids[1]);
        vm.prank(fan);
        vm.expectRevert(abi.encodeWithSelector(UGCRewards.NoLicence.selector, ids[0], remix));
        rewards.submit(ids[1], remix);
    }

    function test_licenceWithoutDerivativesRefused() public {
        vm.deal(fan, 1 ether);
        vm.prank(fan);
        market.buyLicense{value: STANDARD_FEE}(ids[0], useOnly, 1, fan);
        vm.prank(fan);
        vm.expectRevert(abi.encodeWithSelector(UGCRewards.NoLicence.selector, ids[0], useOnly));
        rewards.submit(ids[1], useOnly);
        // terms not attached to the parent at all
        uint256 other = templates.COMMERCIAL_REMIX();
        vm.prank(fan);
        vm.expectRevert(abi.encodeWithSelector(UGCRewards.NoLicence.selector, ids[0], other));
        rewards.submit(ids[1], other);
    }

    function test_parentNotInFamilyRefused() public {
        uint256 foreign = _register(10, outsider, 0);
        uint256 child = _register(11, fan, foreign);
        _license(fan, foreign);
        vm.prank(fan);
        vm.expectRevert(abi.encodeWithSelector(UGCRewards.ParentNotInFamily.selector, foreign));
        rewards.submit(child, remix);
    }

    function test_originalsAndUnregisteredChildrenRefused() public {
        vm.prank(brand);
        vm.expectRevert(abi.encodeWithSelector(UGCRewards.NotDerivative.selector, ids[0]));
        rewards.submit(ids[0], remix);
        uint256 unregistered = _tokenId(5); // in the log, never registered (proven) on chain
        vm.prank(fan);
        vm.expectRevert(abi.encodeWithSelector(UGCRewards.UnknownChild.selector, unregistered));
        rewards.submit(unregistered, remix);
    }

    function test_onlyTheChildsOwnerSubmits() public {
        _license(fan, ids[0]);
        _license(mallory, ids[0]);
        vm.prank(mallory);
        vm.expectRevert(abi.encodeWithSelector(UGCRewards.NotCreator.selector, mallory, fan));
        rewards.submit(ids[1], remix);
    }

    function test_overBudgetRefused() public {
        vm.prank(brand);
        rewards.setBudgetCap(REWARD); // room for one reward although the pool holds 1 ether
        _license(fan, ids[0]);
        _license(fan2, ids[1]);
        vm.prank(fan);
        rewards.submit(ids[1], remix);
        vm.prank(fan2);
        vm.expectRevert(abi.encodeWithSelector(UGCRewards.OverBudget.selector, REWARD, REWARD));
        rewards.submit(ids[2], remix);
    }

    function test_poolTooSmallRefused() public {
        vm.prank(brand);
        rewards.setReward(2 ether);
        vm.prank(brand);
        rewards.setBudgetCap(10 ether);
        _license(fan, ids[0]);
        vm.prank(fan);
        vm.expectRevert(abi.encodeWithSelector(UGCRewards.PoolTooSmall.selector, 1 ether, 2 ether));
        rewards.submit(ids[1], remix);
    }

    function test_rewardsOffUntilSet() public {
        vm.prank(brand);
        rewards.setReward(0);
        _license(fan, ids[0]);
        vm.prank(fan);
        vm.expectRevert(UGCRewards.RewardsOff.selector);
        rewards.submit(ids[1], remix);
    }

    /// fan owns children 1 and 3 and, with a cap of one per epoch, earns for the second only after
    /// the epoch turns.
    function test_overCreatorCapRefusedUntilNextEpoch() public {
        vm.prank(brand);
        rewards.setCreatorCap(1);
        _license(fan, ids[0]);
        _license(fan, ids[2]);
        vm.prank(fan);
        rewards.submit(ids[1], remix);
        uint256 epoch = rewards.currentEpoch();
        vm.prank(fan);
        vm.expectRevert(abi.encodeWithSelector(UGCRewards.CreatorCapReached.selector, fan, epoch));
        rewards.submit(ids[3], remix);
        vm.warp(block.timestamp + EPOCH);
        vm.prank(fan);
        rewards.submit(ids[3], remix);
        vm.assertEq(rewards.owed(fan), 2 * REWARD, "one per epoch");
        vm.assertEq(rewards.rewardsInEpoch(fan, epoch), 1, "counted in its epoch");
    }

    /// A re-signed copy of the parent has its own CID, so on chain it looks like any derivative;
    /// with an attester named, only children the fingerprint attester vouched for earn.
    function test_unattestedChildRefusedOnceAnAttesterIsNamed() public {
        address attester = _nameAttester();
        _license(fan, ids[0]);
        vm.prank(fan);
        vm.expectRevert(abi.encodeWithSelector(UGCRewards.NotAttested.selector, ids[1]));
        rewards.submit(ids[1], remix);
        UGCRewards.Attestation[] memory vouched = _vouch(ids[1], ids[0], fan);
        vm.prank(fan);
        vm.expectRevert(abi.encodeWithSelector(UGCRewards.NotAttester.selector, fan));
        rewards.attest(vouched);
        vm.prank(attester);
        rewards.attest(vouched);
        vm.prank(fan);
        rewards.submit(ids[1], remix);
        vm.assertEq(rewards.owed(fan), REWARD, "attested child earns");
    }

    /// The attestation names the creator: a registered child attested for someone else (the
    /// attester read another creator in its credential) earns nothing for its token's owner, and
    /// one attested as a remix of another parent earns nothing either.
    function test_childAttestedForAnotherCreatorOrParentRefused() public {
        address attester = _nameAttester();
        _license(fan, ids[0]);
        _license(fan2, ids[1]);
        vm.startPrank(attester);
        rewards.attest(_vouch(ids[1], ids[0], fan2));
        rewards.attest(_vouch(ids[2], ids[0], fan2)); // ids[2] is a remix of ids[1]
        vm.stopPrank();
        vm.prank(fan);
        vm.expectRevert(abi.encodeWithSelector(UGCRewards.AttestedForAnother.selector, ids[1], fan2));
        rewards.submit(ids[1], remix);
        vm.prank(fan2);
        vm.expectRevert(abi.encodeWithSelector(UGCRewards.AttestedForOtherParent.selector, ids[2], ids[0]));
        rewards.submit(ids[2], remix);
        vm.assertFalse(rewards.isRewarded(ids[1]) || rewards.isRewarded(ids[2]), "nothing granted");
    }

    /// An attestation is final: repeating it is a no-op, rewriting it (another creator or parent)
    /// is refused, and a creator of address(0) is no attestation.
    function test_attestationIsFinal() public {
        address attester = _nameAttester();
        vm.startPrank(attester);
        rewards.attest(_vouch(ids[1], ids[0], fan));
        rewards.attest(_vouch(ids[1], ids[0], fan));
        vm.expectRevert(abi.encodeWithSelector(UGCRewards.AlreadyAttested.selector, ids[1], fan));
        rewards.attest(_vouch(ids[1], ids[0], fan2));
        vm.expectRevert(abi.encodeWithSelector(UGCRewards.AlreadyAttested.selector, ids[1], fan));
        rewards.attest(_vouch(ids[1], ids[2], fan));
        vm.expectRevert(abi.encodeWithSelector(UGCRewards.NoCreator.selector, ids[3]));
        rewards.attest(_vouch(ids[3], ids[2], address(0)));
        vm.stopPrank();
        UGCRewards.Attestation memory a = rewards.attestation(ids[1]);
        vm.assertEq(a.creator, fan, "first attestation kept");
        vm.assertEq(a.parent, ids[0], "its parent kept");
        vm.assertFalse(rewards.isAttested(ids[3]), "no creator, no attestation");
    }

    function _nameAttester() internal returns (address attester) {
        attester = makeAddr("attester");
        vm.prank(brand);
        rewards.setAttester(attester);
    }

    function _vouch(uint256 child, uint256 parent, address creator)
        internal
        pure
        returns (UGCRewards.Attestation[] memory list)
    {
        list = new UGCRewards.Attestation[](1);
        list[0] = UGCRewards.Attestation(child, parent, creator);
    }

    function test_claimAndSubmitReentrancyRefused() public {
        ReentrantCreator creator = new ReentrantCreator(rewards);
        uint256 child = _register(5, address(creator), ids[4]);
        creator.licence(market, ids[4], remix);
        creator.submit(child, remix);
        creator.claim();
        bytes4 guarded = ReentrancyGuard.ReentrancyGuardReentrantCall.selector;
        vm.assertEq(creator.claimError(), guarded, "claim re-entry refused");
        vm.assertEq(creator.submitError(), guarded, "submit re-entry refused");
        vm.assertEq(creator.received(), REWARD, "paid once");
        vm.assertEq(rewards.owed(address(creator)), 0, "settled");
        vm.assertEq(address(rewards).balance, 1 ether - REWARD, "the rest of the pool stays");
    }

    function test_ownerOnlyAndPoolWithdrawalBounded() public {
        vm.prank(mallory);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, mallory));
        rewards.setReward(1);
        vm.prank(mallory);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, mallory));
        rewards.withdrawPool(payable(mallory), 1);
        _license(fan, ids[0]);
        vm.prank(fan);
        rewards.submit(ids[1], remix);
        vm.prank(brand);
        vm.expectRevert(abi.encodeWithSelector(UGCRewards.PoolTooSmall.selector, 1 ether - REWARD, 1 ether));
        rewards.withdrawPool(payable(brand), 1 ether); // the fan's reward is not the DAO's to take
        vm.prank(brand);
        rewards.withdrawPool(payable(brand), 1 ether - REWARD);
        vm.prank(fan);
        rewards.claim();
        vm.assertEq(fan.balance, REWARD, "the fan is still paid");
    }

    function testFuzz_grantsStayWithinBudgetAndPool(uint256 reward, uint256 budget, uint256 funding) public {
        reward = bound(reward, 1, 1 ether);
        budget = bound(budget, 0, 3 ether);
        funding = bound(funding, 0, 3 ether);
        UGCRewards r = new UGCRewards(brand, market, family, EPOCH);
        vm.startPrank(brand);
        r.setReward(reward);
        r.setCreatorCap(10);
        r.setBudgetCap(budget);
        vm.stopPrank();
        vm.deal(brand, funding);
        vm.prank(brand);
        r.fund{value: funding}();
        uint256 granted = 0;
        for (uint256 i = 1; i <= 4; ++i) {
            address creator = i % 2 == 1 ? fan : fan2;
            _license(creator, ids[i - 1]);
            vm.prank(creator);
            try r.submit(ids[i], remix) {
                granted += reward;
            } catch {}
        }
        (,,, uint256 total, uint256 owedTotal,,) = r.parameters();
        vm.assertEq(total, granted, "granted as counted");
        vm.assertLe(total, budget, "within the budget cap");
        vm.assertLe(owedTotal, funding, "within the pool");
        vm.assertEq(r.owed(fan) + r.owed(fan2), owedTotal, "owed adds up");
        uint256 fit = reward * 4 <= budget && reward * 4 <= funding ? 4 : 0;
        if (fit == 4) vm.assertEq(total, 4 * reward, "all four paid when budget and pool allow");
    }
}
