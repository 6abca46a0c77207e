// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {OwnableUpgradeable} from "@openzeppelin/contracts-upgradeable/access/OwnableUpgradeable.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts-upgradeable/proxy/utils/UUPSUpgradeable.sol";

/// @title CounterV3Bad: a deliberately INCOMPATIBLE upgrade, kept so shipgate's storage layout
/// check has a real compiler output to refuse. `count` is retyped (uint256 -> uint128) and a new
/// variable is inserted before `entries`, which would corrupt a v2 proxy's storage.
contract CounterV3Bad is Initializable, OwnableUpgradeable, UUPSUpgradeable {
    uint128 public count;
    address public admin;
    mapping(string => address) public entries;
    uint256 public step;

    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor() {
        _disableInitializers();
    }

    function version() external pure returns (string memory) {
        return "3-bad";
    }

    function _authorizeUpgrade(address) internal override onlyOwner {}
}
