// A short, deterministic run of the fuzzing harness (bench/fuzz): a fixed number of mutated inputs
// per parser, in this process (every one must be read or refused with one printable line), and the
// harness's own detection of crashes, hangs and memory blow-ups on a target with planted bugs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { makeInput, runOne, TARGETS } from '../../bench/fuzz/targets.js';
import { tempDir } from '../fixtures/temp.js';

const INPUTS = 60;
const scratch = tempDir('sculpt-fuzz-smoke-');

for (const target of TARGETS) {
  test(`fuzz smoke: ${INPUTS} mutated ${target.name} inputs are read or refused with one line`, { timeout: 120_000 }, () => {
    const seeds = target.seeds();
    let read = 0;
    for (let i = 0; i < INPUTS; i++) {
      const outcome = runOne(target, makeInput(target, seeds, 1, i).input, join(scratch, target.name));
      assert.ok(outcome.ok, `input ${i}: ${outcome.ok ? '' : `${outcome.kind} ${outcome.signature}\n${outcome.detail}`}`);
      if (!outcome.refused) read++;
    }
    // The mutations are not all fatal: some inputs get through to the deeper checks and reads.
    assert.ok(read > 0, 'no input was read in full');
  });
}

test('fuzz harness: finds a planted crash, hang and memory blow-up, and saves each as a case', { timeout: 180_000 }, () => {
  const out = tempDir('sculpt-fuzz-canary-');
  // Seed 17 makes inputs 2, 3 and 4 a hang, a crash and a 2 GiB allocation.
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'bench/fuzz/main.ts', '--targets', 'canary', '--execs', '5', '--seed', '17', '--timeout-ms', '1000', '--memory-mb', '400', '--out', out, '--json'], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 1, r.stderr);
  const report = JSON.parse(r.stdout.trim().split('\n').pop()!) as { reports: { target: string; execs: number; findings: number; hangs: number; memory: number }[] };
  const c = report.reports[0];
  assert.equal(c.execs, 5);
  assert.equal(c.hangs, 1);
  assert.equal(c.memory, 1);
  assert.equal(c.findings, 3);
  const cases = readdirSync(join(out, 'canary')).sort();
  assert.deepEqual(cases.map((n) => n.split('-')[0]), ['crash', 'hang', 'memory']);
  for (const n of cases) assert.ok(existsSync(join(out, 'canary', n, 'x.bin')) && existsSync(join(out, 'canary', n, 'finding.txt')));
});
