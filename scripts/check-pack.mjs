// The package as users get it: `npm pack`, then `npm install <tarball>` into an empty project (its
// dependencies from the registry or npm's cache; our .npmrc and package.json policies do not apply
// there), then the installed `sculpt` command and `import('sculpt-ml')` from that project.
// Usage: node scripts/check-pack.mjs [--keep]   (npm run check:pack)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const keep = process.argv.includes('--keep');
const work = mkdtempSync(join(tmpdir(), 'sculpt-pack-'));

// A user's shell, not ours: no npm_* variables inherited from `npm run` (they would point npm and
// onnxruntime-node's installer at this repository's configuration).
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));

function run(cmd, args, cwd, { allowFail = false } = {}) {
  const t0 = Date.now();
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', maxBuffer: 64 << 20 });
  const line = `$ ${[cmd, ...args].join(' ')}  (${((Date.now() - t0) / 1000).toFixed(1)} s, exit ${r.status})`;
  console.log(line);
  if (r.status !== 0 && !allowFail) {
    console.error(r.stdout.slice(-4000), r.stderr.slice(-4000));
    fail(`${cmd} ${args[0]} failed`);
  }
  return r;
}

function fail(message) {
  console.error(`check-pack: ${message} (work folder ${work})`);
  process.exit(1);
}

function check(ok, message) {
  if (!ok) fail(message);
  console.log(`  ok: ${message}`);
}

try {
  const packed = run('npm', ['pack', '--json', '--pack-destination', work], ROOT);
  const info = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('[')))[0];
  const tarball = join(work, info.filename);
  check(info.name === pkg.name && existsSync(tarball), `packed ${info.filename}: ${info.entryCount} files, ${(info.size / 1e6).toFixed(1)} MB`);
  check(!info.files.some((f) => f.path.startsWith('test/') || f.path.startsWith('src/')), 'no sources or tests in the tarball, only dist/');

  const project = join(work, 'project');
  run('mkdir', ['-p', project], work);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'sculpt-user', version: '1.0.0', private: true, type: 'module' }, null, 2));
  const install = run('npm', ['install', '--no-audit', '--no-fund', tarball], project);
  check(!/Unknown (project|user|env) config/.test(install.stderr), 'npm install prints no unknown-config warning');
  const ort = existsSync(join(project, 'node_modules/onnxruntime-node/package.json'));
  console.log(`  onnxruntime-node ${ort ? 'installed' : 'left out (its installer could not download its CUDA files; optional)'}`);

  const help = run('npx', ['--no-install', 'sculpt', '--help'], project);
  check(/^Usage: sculpt /m.test(help.stdout) && /\bprune\b/.test(help.stdout), 'npx sculpt --help from the installed package');
  check(!/Unknown (project|user|env) config/.test(help.stderr), 'npx prints no unknown-config warning');

  const fixture = join(ROOT, 'test/fixtures/mlp.onnx');
  const inspect = run('npx', ['--no-install', 'sculpt', 'inspect', fixture, '--json'], project);
  const tensors = JSON.parse(inspect.stdout).tensors;
  check(Array.isArray(tensors) && tensors.length === 6, `sculpt inspect mlp.onnx --json: ${tensors.length} tensors`);

  const out = join(work, 'mlp-90.onnx');
  const pruned = run('npx', ['--no-install', 'sculpt', 'prune', fixture, '-o', out, '--sparsity', '0.9', '--json'], project);
  check(existsSync(out) && Math.abs(JSON.parse(pruned.stdout).target.densityAfter - 0.1) < 1e-3, 'sculpt prune mlp.onnx --sparsity 0.9 writes a 10%-dense copy');

  const script = [
    "const m = await import('sculpt-ml');",
    "if (typeof m.pruneFile !== 'function' || typeof m.pruneOptions !== 'function') throw new Error('exports missing');",
    "const r = m.pruneFile(process.argv[1], process.argv[2], m.pruneOptions({ sparsity: 0.5 }));",
    'console.log(r.targetTotal.densityAfter.toFixed(4));',
  ].join('\n');
  const lib = run(process.execPath, ['--input-type=module', '-e', script, fixture, join(work, 'mlp-50.onnx')], project);
  check(lib.stdout.trim() === '0.5000', "import('sculpt-ml') and pruneFile from the installed package");

  if (!ort) {
    const x = join(ROOT, 'test/fixtures/mlp.input.npy');
    const r = run('npx', ['--no-install', 'sculpt', 'run', fixture, '--input', x, '-o', join(work, 'y.npy'), '--engine', 'onnxruntime'], project, { allowFail: true });
    check(r.status !== 0 && /^sculpt: onnxruntime-node is not installed.*ONNXRUNTIME_NODE_INSTALL=skip/.test(r.stderr) && r.stderr.trim().split('\n').length === 1,
      'without onnxruntime-node, --engine onnxruntime is one line saying how to install it');
    const sparse = run('npx', ['--no-install', 'sculpt', 'run', fixture, '--input', x, '-o', join(work, 'y.npy')], project);
    check(existsSync(join(work, 'y.npy')), `sculpt run on the sparse engine works without it (${sparse.stdout.split('\n')[0]})`);
  }
  console.log('check-pack: the packed package installs and runs');
} finally {
  if (!keep) rmSync(work, { recursive: true, force: true });
}
