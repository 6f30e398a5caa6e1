// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {ERC20Votes} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Votes.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {RoyaltyVault} from "./RoyaltyVault.sol";

/// @title RoyaltyShares: a campaign family's owner role in the royalty split, as an ERC-20
/// @notice A fixed supply (minted once to the brand) of voting (ERC20Votes) and permit-able shares.
/// This contract is itself the split recipient of the family's owner role in the RoyaltyVault: its
/// revenue (ETH, or one of the ERC-20 `currencies` fixed at deployment) is pulled by `collect`
/// (or arrives by plain transfer) and `distribute` credits it to share holders pro rata WITHOUT
/// snapshots: a magnified cumulative revenue per share, and per-account corrections written on
/// every transfer so that a transfer never moves revenue already accrued. Claims are O(1) pulls.
///
/// Exactness: the supply S is fixed, so the magnification is S itself and the magnified revenue
/// per share is the cumulative revenue C, an integer: nothing is lost when revenue is spread.
/// An account's accrual is floor((C·balance + correction) / S), exactly the floor of its pro-rata
/// share; the only dust is that floor (under 1 wei per holder), which stays in the contract:
/// credited = Σ accrued + dust, Σ accrued = Σ claimable + Σ claimed, held = Σ claimable + dust.
/// Revenue in a currency outside the list is never distributed (it stays claimable for this
/// contract in the vault, or idle here): the list is fixed so a transfer's cost stays bounded.
contract RoyaltyShares is ERC20, ERC20Permit, ERC20Votes, ReentrancyGuard {
    using SafeERC20 for IERC20;

    /// @notice Bound on the supply (with MAX_REVENUE, keeps C·balance below 2^240).
    uint256 public constant MAX_SUPPLY = type(uint128).max;
    /// @notice Bound on the ERC-20 currencies (besides ETH) tracked: each transfer updates each one.
    uint256 public constant MAX_CURRENCIES = 4;
    /// @notice Bound on a currency's total credited revenue, keeping magnified products in int256.
    uint256 public constant MAX_REVENUE = type(uint112).max;

    struct Book {
        uint256 credited; // revenue credited so far = revenue per share magnified by the supply
        uint256 held; // credited and not yet claimed (what this contract owes)
        mapping(address account => int256) corrections;
        mapping(address account => uint256) claimed;
    }

    RoyaltyVault private immutable _vault;
    address[] private _currencies; // index 0 = ETH (address(0))
    mapping(address currency => bool) private _tracked;
    mapping(address currency => Book) private _books;

    event RevenueDistributed(address indexed currency, uint256 amount, uint256 credited);
    event RevenueClaimed(address indexed account, address indexed currency, uint256 amount);

    error UnknownCurrency(address currency);
    error TooManyCurrencies(uint256 count);
    error DuplicateCurrency(address currency);
    error InvalidSupply(uint256 supply);
    error ZeroAddress();
    error NothingToClaim();
    error RevenueTooLarge(uint256 credited);
    error TransferFailed();

    /// @param vault the RoyaltyVault whose balance for this contract `collect` pulls (may be 0)
    /// @param brand receives the whole supply
    /// @param currencies ERC-20 revenue currencies distributed besides ETH (≤ MAX_CURRENCIES)
    constructor(
        string memory name,
        string memory symbol,
        address brand,
        uint256 supply,
        RoyaltyVault vault,
        address[] memory currencies
    ) ERC20(name, symbol) ERC20Permit(name) {
        if (supply == 0 || supply > MAX_SUPPLY) revert InvalidSupply(supply);
        if (brand == address(0)) revert ZeroAddress();
        if (currencies.length > MAX_CURRENCIES) revert TooManyCurrencies(currencies.length);
        _vault = vault;
        _track(address(0));
        for (uint256 i = 0; i < currencies.length; ++i) {
            if (currencies[i] == address(0) || _tracked[currencies[i]]) revert DuplicateCurrency(currencies[i]);
            _track(currencies[i]);
        }
        _mint(brand, supply);
    }

    /// @notice ETH revenue arrives by plain transfer (the vault's claim, a split receiver, anyone);
    /// it is credited to holders by the next `distribute`.
    receive() external payable {}

    /// @notice Claim this contract's balance of `currency` from the RoyaltyVault (if any) and
    /// distribute everything new; returns the amount distributed.
    function collect(address currency) external nonReentrant returns (uint256) {
        _requireTracked(currency);
        RoyaltyVault vault = _vault;
        if (address(vault) != address(0) && vault.claimable(address(this), currency) != 0) {
            vault.claim(currency);
        }
        return _distribute(currency);
    }

    /// @notice Credit to holders whatever this contract holds of `currency` beyond what it owes
    /// (new revenue); returns the amount distributed. Anyone may call.
    function distribute(address currency) external nonReentrant returns (uint256) {
        _requireTracked(currency);
        return _distribute(currency);
    }

    /// @notice Withdraw all of msg.sender's claimable revenue in `currency`.
    function claim(address currency) external nonReentrant returns (uint256 amount) {
        _requireTracked(currency);
        Book storage b = _books[currency];
        amount = _claimable(b, msg.sender);
        if (amount == 0) revert NothingToClaim();
        b.claimed[msg.sender] += amount;
        b.held -= amount;
        emit RevenueClaimed(msg.sender, currency, amount);
        if (currency == address(0)) {
            (bool ok,) = payable(msg.sender).call{value: amount}("");
            if (!ok) revert TransferFailed();
        } else {
            IERC20(currency).safeTransfer(msg.sender, amount);
        }
    }

    /// @notice Revenue of `currency` that `account` can claim now.
    function claimable(address account, address currency) external view returns (uint256) {
        return _claimable(_books[currency], account);
    }

    /// @notice Revenue of `currency` accrued to `account` over all time (claimed or not).
    function accrued(address account, address currency) public view returns (uint256) {
        return _accrued(_books[currency], account);
    }

    /// @notice Revenue of `currency` that `account` has claimed.
    function claimed(address account, address currency) external view returns (uint256) {
        return _books[currency].claimed[account];
    }

    /// @notice Accounting totals of `currency`: revenue credited (also the revenue per share,
    /// magnified by the supply) and still held (owed to holders: Σ claimable + dust).
    function totals(address currency) external view returns (uint256 credited, uint256 held) {
        Book storage b = _books[currency];
        return (b.credited, b.held);
    }

    /// @notice The tracked currencies (address(0) = ETH first).
    function currencies() external view returns (address[] memory) {
        return _currencies;
    }

    /// @notice The RoyaltyVault `collect` claims from.
    function vault() external view returns (RoyaltyVault) {
        return _vault;
    }

    function nonces(address owner) public view override(ERC20Permit, Nonces) returns (uint256) {
        return super.nonces(owner);
    }

    /// @dev Moves the corrections with the shares so every account's accrued amount is unchanged.
    function _update(address from, address to, uint256 value) internal override(ERC20, ERC20Votes) {
        super._update(from, to, value);
        uint256 n = _currencies.length;
        for (uint256 i = 0; i < n; ++i) {
            Book storage b = _books[_currencies[i]];
            // casting to 'int256' is safe because credited * value <= MAX_REVENUE * MAX_SUPPLY < 2^240
            // forge-lint: disable-next-line(unsafe-typecast)
            int256 delta = int256(b.credited * value);
            if (from != address(0)) b.corrections[from] += delta;
            if (to != address(0)) b.corrections[to] -= delta;
        }
    }

    function _distribute(address currency) private returns (uint256 amount) {
        Book storage b = _books[currency];
        uint256 balance = currency == address(0) ? address(this).balance : IERC20(currency).balanceOf(address(this));
        amount = balance - b.held;
        if (amount == 0) return 0;
        uint256 credited = b.credited + amount;
        if (credited > MAX_REVENUE) revert RevenueTooLarge(credited);
        b.credited = credited;
        b.held += amount;
        emit RevenueDistributed(currency, amount, credited);
    }

    function _accrued(Book storage b, address account) private view returns (uint256) {
        // casting is safe: the product is < 2^240, and the corrected sum is the account's magnified
        // accrual, never negative
        // forge-lint: disable-next-line(unsafe-typecast)
        int256 magnified = int256(b.credited * balanceOf(account)) + b.corrections[account];
        // forge-lint: disable-next-line(unsafe-typecast)
        return uint256(magnified) / totalSupply();
    }

    function _claimable(Book storage b, address account) private view returns (uint256) {
        return _accrued(b, account) - b.claimed[account];
    }

    function _track(address currency) private {
        _tracked[currency] = true;
        _currencies.push(currency);
    }

    function _requireTracked(address currency) private view {
        if (!_tracked[currency]) revert UnknownCurrency(currency);
    }
}
