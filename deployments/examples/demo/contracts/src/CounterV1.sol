// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {OwnableUpgradeable} from "@openzeppelin/contracts-upgradeable/access/OwnableUpgradeable.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts-upgradeable/proxy/utils/UUPSUpgradeable.sol";

/// @title CounterV1: shipgate's demo upgradeable (UUPS) counter and name registry.
/// @notice Deployed behind an ERC1967Proxy; the owner authorises upgrades.
contract CounterV1 is Initializable, OwnableUpgradeable, UUPSUpgradeable {
    /// Storage layout v1. Later versions may only append after `entries`.
    uint256 public count;
    mapping(string => address) public entries;

    error CountIsZero();

    event Incremented(uint256 count);
    event Registered(string name, address addr);

    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor() {
        _disableInitializers();
    }

    function initialize(address owner_, uint256 start) external initializer {
        __Ownable_init(owner_);
        count = start;
    }

    function increment() external {
        count += 1;
        emit Incremented(count);
    }

    function decrement() external {
        if (count == 0) revert CountIsZero();
        count -= 1;
    }

    function register(string calldata name, address addr) external onlyOwner {
        entries[name] = addr;
        emit Registered(name, addr);
    }

    function version() external pure virtual returns (string memory) {
        return "1";
    }

    function _authorizeUpgrade(address) internal override onlyOwner {}
}
