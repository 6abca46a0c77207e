// Copies the compiled artifacts shipgate uses to govern a chain out of the pinned npm packages
// (package.json, locked in package-lock.json) into artifacts/<Name>.json. Nothing is compiled:
// these are the bytecode and ABI the upstream projects published, so a Safe deployed from them
// is the audited Safe v1.5.0 and the timelock OpenZeppelin's own build. Each file keeps the
// Hardhat artifact fields (_format, contractName, sourceName, abi, bytecode, deployedBytecode,
// link references) in a stable order; the Go test TestGovernanceArtifactsReproducible reruns
// this from a clean `npm ci` and compares the bytes with the committed files.
//
// Usage: node extract.js [outDir]   (default outDir: ./artifacts)
'use strict';

const fs = require('fs');
const path = require('path');

const root = __dirname;
const outDir = path.resolve(process.argv[2] || path.join(root, 'artifacts'));
const nm = path.join(root, 'node_modules');

const safeBuild = '@safe-global/safe-smart-account/build/artifacts/contracts';
const sources = {
  Safe: `${safeBuild}/Safe.sol/Safe.json`,
  SafeProxyFactory: `${safeBuild}/proxies/SafeProxyFactory.sol/SafeProxyFactory.json`,
  MultiSendCallOnly: `${safeBuild}/libraries/MultiSendCallOnly.sol/MultiSendCallOnly.json`,
  TimelockController: '@openzeppelin/contracts/build/contracts/TimelockController.json',
  // a transparent proxy (it deploys its own ProxyAdmin, owned by the timelock on a governed
  // chain) and the ProxyAdmin's ABI: the governed upgrade of a transparent proxy
  TransparentUpgradeableProxy: '@openzeppelin/contracts/build/contracts/TransparentUpgradeableProxy.json',
  ProxyAdmin: '@openzeppelin/contracts/build/contracts/ProxyAdmin.json',
};
const fields = ['_format', 'contractName', 'sourceName', 'abi', 'bytecode', 'deployedBytecode', 'linkReferences', 'deployedLinkReferences'];

fs.mkdirSync(outDir, { recursive: true });
for (const [name, rel] of Object.entries(sources)) {
  const a = JSON.parse(fs.readFileSync(path.join(nm, rel), 'utf8'));
  if (a.contractName !== name) throw new Error(`${rel}: contractName ${a.contractName}, want ${name}`);
  const out = {};
  for (const f of fields) if (a[f] !== undefined) out[f] = a[f];
  const pkg = rel.startsWith('@openzeppelin') ? '@openzeppelin/contracts' : '@safe-global/safe-smart-account';
  out.package = `${pkg}@${JSON.parse(fs.readFileSync(path.join(nm, pkg, 'package.json'), 'utf8')).version}`;
  fs.writeFileSync(path.join(outDir, `${name}.json`), JSON.stringify(out, null, 2) + '\n');
}
console.log(`wrote ${Object.keys(sources).length} artifacts to ${outDir}`);
