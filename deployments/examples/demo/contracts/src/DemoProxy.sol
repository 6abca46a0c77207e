// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {ERC1967Proxy} from "@openzeppelin/contracts/proxy/ERC1967/ERC1967Proxy.sol";

/// @title DemoProxy: OpenZeppelin's ERC1967Proxy under a local name so it is compiled into this
/// project's artifacts with the same pinned compiler settings as the implementations.
contract DemoProxy is ERC1967Proxy {
    constructor(address implementation, bytes memory data) payable ERC1967Proxy(implementation, data) {}
}
