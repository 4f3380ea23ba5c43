// Runs every test/**/*.test.ts file with node's own test runner, TypeScript loaded through tsx.
// Usage: node scripts/run-tests.mjs [substring filter...]
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}
// onnxruntime-node is an optional dependency: npm leaves it out when its installer fails (it tries
// to download CUDA files unless told not to), and then half the suite would fail on imports.
if (!existsSync('node_modules/onnxruntime-node/package.json')) {
  console.error('run-tests: node_modules/onnxruntime-node is missing: npm left it out because its installer could not download its CUDA files ' +
    '(npm 11 skips that installer as package.json allowScripts says; an older npm does not). Run: ONNXRUNTIME_NODE_INSTALL=skip npm ci');
  process.exit(1);
}
const filters = process.argv.slice(2);
const files = walk('test').filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)));
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
