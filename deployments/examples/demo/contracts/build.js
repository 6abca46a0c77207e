// Compiles src/*.sol with the pinned solc-js (package.json) in --standard-json mode and writes
// artifacts/standard-input.json and artifacts/standard-output.json. The output is deterministic:
// shipgate's Go test rebuilds it from a clean `npm ci` and compares the bytes with the committed
// files, so a change to a source, a dependency or the compiler shows up as a test failure.
//
// Usage: node build.js [outDir]   (default outDir: ./artifacts)
'use strict';

const fs = require('fs');
const path = require('path');
const solc = require('solc');

const root = __dirname;
const outDir = path.resolve(process.argv[2] || path.join(root, 'artifacts'));
const srcDir = path.join(root, 'src');

const sources = {};
for (const name of fs.readdirSync(srcDir).filter((f) => f.endsWith('.sol')).sort()) {
  sources[`src/${name}`] = { content: fs.readFileSync(path.join(srcDir, name), 'utf8') };
}

const outputs = [
  'abi',
  'evm.bytecode.object',
  'evm.bytecode.linkReferences',
  'evm.deployedBytecode.object',
  'evm.deployedBytecode.immutableReferences',
  'evm.deployedBytecode.linkReferences',
  'storageLayout',
];
const outputSelection = {};
for (const file of Object.keys(sources)) outputSelection[file] = { '*': outputs };

const input = {
  language: 'Solidity',
  sources,
  settings: {
    // cancun: supported by every chain shipgate targets and by go-ethereum's simulated backend.
    evmVersion: 'cancun',
    optimizer: { enabled: true, runs: 200 },
    outputSelection,
  },
};

// Imports resolve against node_modules only (the pinned OpenZeppelin packages).
function findImports(importPath) {
  const candidate = path.join(root, 'node_modules', importPath);
  if (!candidate.startsWith(path.join(root, 'node_modules') + path.sep)) {
    return { error: `import outside node_modules: ${importPath}` };
  }
  try {
    return { contents: fs.readFileSync(candidate, 'utf8') };
  } catch (e) {
    return { error: `cannot read ${importPath}: ${e.message}` };
  }
}

const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
const errors = (output.errors || []).filter((e) => e.severity === 'error');
for (const e of output.errors || []) console.error(e.formattedMessage || e.message);
if (errors.length > 0) {
  console.error(`solc ${solc.version()}: ${errors.length} error(s)`);
  process.exit(1);
}
// Warnings go to stderr above; the committed output carries only the contracts, so the file does
// not change when an unrelated warning's wording does.
delete output.errors;
delete output.sources;

fs.mkdirSync(outDir, { recursive: true });
const write = (name, obj) => fs.writeFileSync(path.join(outDir, name), JSON.stringify(obj, null, 2) + '\n');
// The exact compiler input, for anyone re-running it with a native solc of the same version.
write('standard-input.json', { compiler: `solc-js ${solc.version()}`, input });
write('standard-output.json', output);
console.log(`solc ${solc.version()}: wrote ${Object.keys(output.contracts).length} source(s) to ${outDir}`);
