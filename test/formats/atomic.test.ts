/**
 * Never losing data on the way out: replaced outputs keep their permissions, an ONNX model and its
 * external data are committed so that old and new are never paired, stale temporaries of dead
 * processes are swept, live ones are removed on exit and after a kill, model folders are replaced
 * as a unit, and training refuses an --out that would overwrite its --model.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { AtomicFile, AtomicFolder, sweepStaleTemporaries } from '../../src/formats/fsutil.js';
import { readOnnx, writeOnnx } from '../../src/formats/onnx.js';
import { openSafetensors, writeSafetensorsStreaming } from '../../src/formats/safetensors.js';
import { checkOutNotModel } from '../../src/train/session.js';
import { ROOT, sculpt } from '../cli/helpers.js';
import { writeBigExternalOnnx } from './big-models.js';
import { tempDir } from '../fixtures/temp.js';

const FIX = path.join(ROOT, 'test/fixtures');
const TEMPORARY = /^\..+\.\d+\.\d+\.tmp$/;

function tmpDir(): string {
  return tempDir('sculpt-atomic-');
}

function sha(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

function mode(file: string): number {
  return fs.statSync(file).mode & 0o777;
}

/** A PID no process has any more (a child that has exited and been reaped). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

/** mlp-external.onnx and its data copied into a fresh folder. */
function externalModel(dir: string): string {
  fs.copyFileSync(path.join(FIX, 'mlp-external.onnx'), path.join(dir, 'in.onnx'));
  fs.copyFileSync(path.join(FIX, 'mlp-external.data'), path.join(dir, 'mlp-external.data'));
  return path.join(dir, 'in.onnx');
}

function dataFilesOf(dir: string, base: string): string[] {
  return fs.readdirSync(dir).filter((n) => n.startsWith(`${base}.`) && n.endsWith('.data')).sort();
}

test('a replaced output keeps its permissions, from the temporary file\'s first byte', () => {
  const dir = tmpDir();
  const out = path.join(dir, 'out.safetensors');
  const src = openSafetensors(path.join(FIX, 'tiny.safetensors'));
  writeSafetensorsStreaming(src, out, () => undefined);
  const fresh = mode(out);
  fs.chmodSync(out, 0o600);
  const file = new AtomicFile(out);
  assert.equal(mode(file.tmpPath), 0o600, 'the temporary copy of a 0600 file is never readable by others');
  file.abort();
  writeSafetensorsStreaming(src, out, () => undefined);
  assert.equal(mode(out), 0o600);
  fs.chmodSync(out, 0o640);
  writeSafetensorsStreaming(src, out, () => undefined);
  assert.equal(mode(out), 0o640);
  src.close();
  assert.equal(fresh, 0o666 & ~process.umask(), 'a new output gets the usual mode');

  // ONNX: the model and its new data file take the replaced model's mode.
  const m = readOnnx(externalModel(dir));
  const onnxOut = path.join(dir, 'p.onnx');
  writeOnnx(m, onnxOut, new Map());
  fs.chmodSync(onnxOut, 0o600);
  writeOnnx(m, onnxOut, new Map([['fc3.weight', new Float32Array(1000)]]));
  assert.equal(mode(onnxOut), 0o600);
  const data = dataFilesOf(dir, 'p.onnx');
  assert.equal(data.length, 1);
  assert.equal(mode(path.join(dir, data[0])), 0o600);
  assert.deepEqual(fs.readdirSync(dir).filter((n) => TEMPORARY.test(n)), []);
});

test('ONNX external data: a crash between the data rename and the model rename leaves the old model with its own data', () => {
  const dir = tmpDir();
  const m = readOnnx(externalModel(dir));
  const out = path.join(dir, 'p.onnx');
  const zeros = new Float32Array(300 * 784);
  writeOnnx(m, out, new Map([['fc1.weight', zeros]]));
  const oldData = dataFilesOf(dir, 'p.onnx');
  assert.equal(oldData.length, 1);
  const before = new Map([out, path.join(dir, oldData[0])].map((f) => [f, sha(f)]));

  // The process "dies" when it is about to rename the model into place: what is on disk at that
  // moment is what a crash leaves. Record it (and what a reader gets), then fail the rename.
  const fsMutable = createRequire(import.meta.url)('node:fs') as typeof fs;
  const rename = fsMutable.renameSync;
  let atCrash: { files: Map<string, string>; oldValues: boolean; orphan: string } | undefined;
  fsMutable.renameSync = (from: fs.PathLike, to: fs.PathLike) => {
    if (path.resolve(String(to)) === out) {
      const names = fs.readdirSync(dir).filter((n) => !n.startsWith('.'));
      const orphan = dataFilesOf(dir, 'p.onnx').find((n) => n !== oldData[0])!;
      fs.copyFileSync(path.join(dir, orphan), path.join(os.tmpdir(), `${orphan}.${process.pid}`));
      atCrash = { files: new Map(names.map((n) => [path.join(dir, n), sha(path.join(dir, n))])), oldValues: readOnnx(out).read('fc1.weight').every((v) => v === 0), orphan };
      throw Object.assign(new Error('simulated crash'), { code: 'EIO' });
    }
    rename(from, to);
  };
  syncBuiltinESMExports();
  try {
    assert.throws(() => writeOnnx(m, out, new Map([['fc1.weight', new Float32Array(300 * 784).fill(0.25)]])), /p\.onnx/);
  } finally {
    fsMutable.renameSync = rename;
    syncBuiltinESMExports();
  }
  assert.ok(atCrash, 'the new data file was renamed into place before the model');
  for (const [f, h] of before) assert.equal(atCrash.files.get(f), h, `${f} unchanged at the crash`);
  assert.ok(atCrash.oldValues, 'at the crash the old model reads its old values, not the new data');
  assert.match(atCrash.orphan, /^p\.onnx\.[0-9a-f]{16}\.data$/);
  // A failure the process lives through takes back the data file nothing names.
  assert.deepEqual(dataFilesOf(dir, 'p.onnx'), oldData);
  for (const [f, h] of before) assert.equal(sha(f), h);

  // The crash's leftover, as a crash would have left it.
  fs.renameSync(path.join(os.tmpdir(), `${atCrash.orphan}.${process.pid}`), path.join(dir, atCrash.orphan));
  assert.equal(dataFilesOf(dir, 'p.onnx').length, 2);
  // The next write removes both the replaced data and the orphan of the crashed run.
  writeOnnx(m, out, new Map([['fc1.weight', new Float32Array(300 * 784).fill(0.5)]]));
  const now = dataFilesOf(dir, 'p.onnx');
  assert.equal(now.length, 1);
  assert.deepEqual(readOnnx(out).externalFiles(), [path.join(fs.realpathSync(dir), now[0])]);
  assert.ok(readOnnx(out).read('fc1.weight').every((v) => v === 0.5));
  assert.equal(sha(path.join(dir, 'mlp-external.data')), sha(path.join(FIX, 'mlp-external.data')), 'the input data file is never touched');
});

test('every file is flushed to disk before it is renamed, and its folder after: data files, then the model', () => {
  const dir = tmpDir();
  const m = readOnnx(externalModel(dir));
  const out = path.join(dir, 'p.onnx');
  const events: string[] = [];
  const fsMutable = createRequire(import.meta.url)('node:fs') as typeof fs;
  const { fsyncSync, renameSync } = fsMutable;
  fsMutable.fsyncSync = (fd: number) => {
    events.push(fs.fstatSync(fd).isDirectory() ? 'fsync folder' : 'fsync file');
    fsyncSync(fd);
  };
  fsMutable.renameSync = (from: fs.PathLike, to: fs.PathLike) => {
    events.push(`rename ${path.basename(String(to)).replace(/[0-9a-f]{16}/, 'HASH')}`);
    renameSync(from, to);
  };
  syncBuiltinESMExports();
  try {
    writeOnnx(m, out, new Map([['fc1.weight', new Float32Array(300 * 784)]]));
  } finally {
    Object.assign(fsMutable, { fsyncSync, renameSync });
    syncBuiltinESMExports();
  }
  assert.deepEqual(events, ['fsync file', 'fsync file', 'rename p.onnx.HASH.data', 'fsync folder', 'rename p.onnx', 'fsync folder']);
});

test('ONNX external data names are content hashes: the same output twice is byte-identical; old sculpt\'s <out>.data is removed once unreferenced', () => {
  const dir = tmpDir();
  const m = readOnnx(externalModel(dir));
  const out = path.join(dir, 'p.onnx');
  const update = new Map([['fc2.weight', new Float32Array(30000).fill(-1)]]);
  writeOnnx(m, out, update);
  const first = new Map(fs.readdirSync(dir).map((n) => [n, sha(path.join(dir, n))]));
  writeOnnx(m, out, update);
  assert.deepEqual(new Map(fs.readdirSync(dir).map((n) => [n, sha(path.join(dir, n))])), first);

  // An output written by an earlier sculpt: q.onnx naming q.onnx.data; q.onnx.7.data is named by nothing.
  const legacyModel = writeBigExternalOnnx(dir, 'q.onnx', 1, 8);
  fs.renameSync(legacyModel, path.join(dir, 'q.onnx'));
  fs.writeFileSync(path.join(dir, 'q.onnx.7.data'), 'not referenced by q.onnx');
  assert.deepEqual(readOnnx(path.join(dir, 'q.onnx')).externalFiles(), [path.join(fs.realpathSync(dir), 'q.onnx.data')]);
  writeOnnx(m, path.join(dir, 'q.onnx'), update);
  const q = dataFilesOf(dir, 'q.onnx');
  assert.equal(q.length, 2);
  assert.ok(q.includes('q.onnx.7.data'), 'a data file the replaced model did not name is left alone');
  assert.match(q.find((n) => n !== 'q.onnx.7.data')!, /^q\.onnx\.[0-9a-f]{16}\.data$/);
});

test('start-up sweep: stale temporaries of dead processes go, live ones and other files stay, a folder moved aside is put back', async () => {
  const dir = tmpDir();
  const dead = deadPid();
  const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  try {
    const names = {
      staleFile: `.out.onnx.${dead}.1.tmp`,
      staleFolder: `.tfjs-out.${dead}.2.tmp`,
      live: `.out.onnx.${sleeper.pid}.1.tmp`,
      mine: `.out.onnx.${process.pid}.99.tmp`,
      other: '.out.onnx.tmp',
      user: 'notes.123.4.tmp',
      asideRestored: `.round-0.${dead}.3.old`,
      asideDropped: `.round-1.${dead}.4.old`,
    };
    for (const n of [names.staleFile, names.live, names.mine, names.other, names.user]) fs.writeFileSync(path.join(dir, n), 'x');
    for (const n of [names.staleFolder, names.asideRestored, names.asideDropped]) {
      fs.mkdirSync(path.join(dir, n));
      fs.writeFileSync(path.join(dir, n, 'model.json'), n);
    }
    fs.mkdirSync(path.join(dir, 'round-1'));
    const done = sweepStaleTemporaries(dir, true).sort();
    assert.deepEqual(done, [names.asideRestored, names.asideDropped, names.staleFile, names.staleFolder].sort());
    assert.deepEqual(fs.readdirSync(dir).sort(), [names.live, names.mine, names.other, 'notes.123.4.tmp', 'round-0', 'round-1'].sort());
    assert.equal(fs.readFileSync(path.join(dir, 'round-0', 'model.json'), 'utf8'), names.asideRestored, 'the folder moved aside is back');
  } finally {
    sleeper.kill();
  }
});

/** Runs a TypeScript snippet in a child process (with tsx), `$FSUTIL` standing for fsutil's path. */
function runSnippet(code: string, wait = true): ReturnType<typeof spawnSync> | ReturnType<typeof spawn> {
  const file = path.join(tmpDir(), 'snippet.mts');
  fs.writeFileSync(file, code.replaceAll('$FSUTIL', path.join(ROOT, 'src/formats/fsutil.ts')));
  const args = ['--import', path.join(ROOT, 'node_modules/tsx/dist/esm/index.mjs'), file];
  return wait ? spawnSync(process.execPath, args, { encoding: 'utf8' }) : spawn(process.execPath, args, { stdio: 'ignore' });
}

test('live temporaries are removed when the process exits mid-write, and by the watchdog after SIGKILL', async () => {
  const dir = tmpDir();
  const r = runSnippet(`import { AtomicFile, AtomicFolder } from '$FSUTIL';
    const f = new AtomicFile(${JSON.stringify(path.join(dir, 'a.bin'))});
    f.write(new Uint8Array(1000));
    new AtomicFolder(${JSON.stringify(path.join(dir, 'folder'))}).writeFile('model.json', '{}');
    process.exit(3);`) as ReturnType<typeof spawnSync>;
  assert.equal(r.status, 3, String(r.stderr));
  assert.deepEqual(fs.readdirSync(dir), [], 'exit removed the temporary file and folder');

  const child = runSnippet(`import { AtomicFile } from '$FSUTIL';
    new AtomicFile(${JSON.stringify(path.join(dir, 'b.bin'))}, { watchAfter: 0 }).write(new Uint8Array(1000));
    setInterval(() => {}, 1000);`, false) as ReturnType<typeof spawn>;
  const until = async (what: string, cond: () => boolean): Promise<void> => {
    for (const end = Date.now() + 60_000; !cond();) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((res) => setTimeout(res, 10));
    }
  };
  // Bytes in it: the constructor has returned, so the watchdog has been started.
  await until('the temporary with its bytes', () => fs.readdirSync(dir).some((n) => TEMPORARY.test(n) && fs.statSync(path.join(dir, n)).size === 1000));
  child.kill('SIGKILL');
  await until('the watchdog to remove the temporary', () => fs.readdirSync(dir).length === 0);
});

test('a model folder is replaced as a unit; a folder holding other files is not replaced', () => {
  const dir = tmpDir();
  const target = path.join(dir, 'round-0');
  fs.mkdirSync(target);
  fs.writeFileSync(path.join(target, 'model.json'), 'old json');
  fs.writeFileSync(path.join(target, 'weights.bin'), 'old weights');
  const folder = new AtomicFolder(target);
  folder.writeFile('model.json', 'new json');
  folder.writeFile('weights.bin', 'new weights');
  assert.equal(fs.readFileSync(path.join(target, 'model.json'), 'utf8'), 'old json', 'nothing changes before the commit');
  folder.commit(true);
  assert.deepEqual(fs.readdirSync(target).sort(), ['model.json', 'weights.bin']);
  assert.equal(fs.readFileSync(path.join(target, 'weights.bin'), 'utf8'), 'new weights');
  assert.deepEqual(fs.readdirSync(dir), ['round-0'], 'no temporary or moved-aside folder left');

  // Without `replace` (TF.js prune output), a folder that is not empty is refused, untouched.
  const other = new AtomicFolder(target);
  other.writeFile('model.json', 'x');
  assert.throws(() => other.commit(), /not empty/);
  assert.equal(fs.readFileSync(path.join(target, 'model.json'), 'utf8'), 'new json');
  assert.deepEqual(fs.readdirSync(dir), ['round-0']);
});

test('train, imp and gmp refuse an --out whose round-K/ is the --model; the input is untouched', () => {
  const dir = tmpDir();
  const round0 = path.join(dir, 'D', 'round-0');
  fs.mkdirSync(round0, { recursive: true });
  fs.writeFileSync(path.join(round0, 'model.json'), '{"modelTopology": {}, "weightsManifest": []}');
  fs.writeFileSync(path.join(round0, 'weights.bin'), 'weights');
  const before = [sha(path.join(round0, 'model.json')), sha(path.join(round0, 'weights.bin'))];
  assert.throws(() => checkOutNotModel(round0, path.join(dir, 'D')), /--out .*D: the run writes .*round-0\/, which would overwrite the input --model/);
  assert.throws(() => checkOutNotModel(path.join(round0, 'model.json'), path.join(dir, 'D')), /overwrite the input/);
  assert.doesNotThrow(() => checkOutNotModel(round0, path.join(dir, 'E')));
  assert.doesNotThrow(() => checkOutNotModel('lenet-300-100', path.join(dir, 'D')));
  for (const cmd of [['imp', '--rounds', '2'], ['train'], ['gmp', '--final-sparsity', '0.5']]) {
    const r = sculpt([...cmd, '--model', round0, '--out', path.join(dir, 'D'), '--train-limit', '60', '--test-limit', '20']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^sculpt: --out .*D: the run writes .*round-0\/, which would overwrite the input --model .*round-0; choose another --out\n$/);
  }
  assert.deepEqual([sha(path.join(round0, 'model.json')), sha(path.join(round0, 'weights.bin'))], before);
});

test('an --out that cannot be written says why (EACCES, EROFS), before any training', (t) => {
  const dir = tmpDir();
  let out: string;
  if (process.getuid?.() === 0) {
    // root writes anywhere a mode allows nothing; /sys refuses even root.
    if (!fs.existsSync('/sys/kernel')) return t.skip('needs /sys (running as root)');
    out = '/sys/sculpt-test-out';
  } else {
    fs.mkdirSync(path.join(dir, 'ro'), { mode: 0o555 });
    out = path.join(dir, 'ro', 'out');
  }
  const r = sculpt(['train', '--model', 'lenet-300-100', '--out', out, '--train-limit', '60', '--test-limit', '20']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /cannot (create|write in) the output folder \((EACCES, permission denied|EPERM, operation not permitted|EROFS, read-only file system)\); choose a writable --out\n$/);
  assert.doesNotMatch(r.stderr, /no such file|epoch/);
});
