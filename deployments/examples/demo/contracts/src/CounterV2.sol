// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {OwnableUpgradeable} from "@openzeppelin/contracts-upgradeable/access/OwnableUpgradeable.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts-upgradeable/proxy/utils/UUPSUpgradeable.sol";

/// @title CounterV2: v1 plus a configurable step. Storage: v1's variables unchanged, `step` appended.
contract CounterV2 is Initializable, OwnableUpgradeable, UUPSUpgradeable {
    uint256 public count;
    mapping(string => address) public entries;
    /// Appended in v2: 0 means 1, so a proxy upgraded from v1 needs no initializer.
    uint256 public step;

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
        count += step == 0 ? 1 : step;
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

    /// New in v2.
    function setStep(uint256 newStep) external onlyOwner {
        step = newStep;
    }

    function version() external pure virtual returns (string memory) {
        return "2";
    }

    function _authorizeUpgrade(address) internal override onlyOwner {}
}
