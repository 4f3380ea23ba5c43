// Replays the fuzzing corpus (test/fixtures/fuzz-corpus/<target>/<case>/): the shrunk inputs that
// once crashed, hung, blew up memory or printed a raw message in a parser. Each must now be read
// or refused with one printable line (a SculptError with exit code 2), quickly and within memory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readCase, runOne, targetNamed } from '../../bench/fuzz/targets.js';
import { tempDir } from '../fixtures/temp.js';

const CORPUS = 'test/fixtures/fuzz-corpus';
const scratch = tempDir('sculpt-corpus-');
const targets = existsSync(CORPUS) ? readdirSync(CORPUS).filter((t) => !t.includes('.')).sort() : [];

test('the fuzz corpus has cases for the parsers it was built from', () => {
  const count = targets.reduce((n, t) => n + readdirSync(join(CORPUS, t)).length, 0);
  assert.ok(count >= 10, `${count} cases`);
});

for (const name of targets) {
  const target = targetNamed(name);
  for (const c of readdirSync(join(CORPUS, name)).sort()) {
    const dir = join(CORPUS, name, c);
    test(`fuzz corpus ${name}/${c}`, { timeout: 60_000 }, () => {
      const before = process.memoryUsage().rss;
      const outcome = runOne(target, readCase(dir), join(scratch, `${name}-${c}`));
      const note = existsSync(join(dir, 'finding.txt')) ? readFileSync(join(dir, 'finding.txt'), 'utf8').split('\n')[0] : '';
      assert.ok(outcome.ok, `${note}: ${outcome.ok ? '' : `${outcome.kind} ${outcome.signature}\n${outcome.detail}`}`);
      assert.ok(process.memoryUsage().rss - before < 1024 * 2 ** 20, 'within 1 GiB');
    });
  }
}
