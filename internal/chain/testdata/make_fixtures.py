#!/usr/bin/env python3
"""Derives Foundry and Hardhat artifact fixtures from the demo contracts' committed solc
standard-JSON output, in the shapes those tools write (forge build with extra_output
storageLayout; hardhat compile with its .dbg.json and build-info). Run from this directory
after rebuilding the demo artifacts: python3 make_fixtures.py"""
import json, os

SRC = "../../../deployments/examples/demo/contracts/artifacts/standard-output.json"
out = json.load(open(SRC))

def write(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")

for name in ["CounterV1", "CounterV2"]:
    c = out["contracts"][f"src/{name}.sol"][name]
    evm = c["evm"]
    # Foundry: out/<File>.sol/<Name>.json, 0x-prefixed objects.
    write(f"foundry/out/{name}.sol/{name}.json", {
        "abi": c["abi"],
        "bytecode": {"object": "0x" + evm["bytecode"]["object"], "sourceMap": "", "linkReferences": {}},
        "deployedBytecode": {"object": "0x" + evm["deployedBytecode"]["object"], "sourceMap": "", "linkReferences": {},
                             "immutableReferences": evm["deployedBytecode"]["immutableReferences"]},
        "methodIdentifiers": {},
        "storageLayout": c["storageLayout"],
        "id": 0,
    })

name = "CounterV1"
c = out["contracts"][f"src/{name}.sol"][name]
hh = {
    "_format": "hh-sol-artifact-1",
    "contractName": name,
    "sourceName": f"src/{name}.sol",
    "abi": c["abi"],
    "bytecode": "0x" + c["evm"]["bytecode"]["object"],
    "deployedBytecode": "0x" + c["evm"]["deployedBytecode"]["object"],
    "linkReferences": {},
    "deployedLinkReferences": {},
}
write(f"hardhat/artifacts/src/{name}.sol/{name}.json", hh)
write(f"hardhat/artifacts/src/{name}.sol/{name}.dbg.json",
      {"_format": "hh-sol-dbg-1", "buildInfo": "../../build-info/0123abcd.json"})
write("hardhat/artifacts/build-info/0123abcd.json", {
    "id": "0123abcd", "_format": "hh-sol-build-info-1", "solcVersion": "0.8.37",
    "solcLongVersion": "0.8.37+commit.f401782d", "input": {"language": "Solidity"},
    "output": {"contracts": {f"src/{name}.sol": {name: c}}},
})
# A Hardhat artifact without its .dbg.json: no immutable references, no layout.
write(f"hardhat-nodbg/{name}.json", hh)
