// `sculpt demo` end to end (shortened with --rounds 2 --epochs 1): real training on the built-in
// Fashion-MNIST subset, exact IMP and one-shot densities, and a report that opens cleanly in Chromium.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { sculpt, tempDir } from './helpers.js';

const CHROMIUM = '/usr/bin/chromium';

test('sculpt demo: IMP densities, accuracy above chance, one-shot densities, report in Chromium', { timeout: 300_000 }, async () => {
  const out = join(tempDir(), 'demo');
  const r = sculpt(['demo', '--out', out, '--rounds', '2', '--epochs', '1', '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /built-in Fashion-MNIST subset/);
  const s = JSON.parse(r.stdout.trim().split('\n').pop()!);
  assert.deepEqual(s.imp.rounds.map((x: { density: number }) => x.density), [1, 0.5]);
  assert.ok(s.imp.rounds[0].testAccuracy > 0.6, `dense accuracy ${s.imp.rounds[0].testAccuracy}`);
  assert.ok(s.imp.rounds[1].controls.reinit.testAccuracy > 0.5);
  for (const scope of ['global', 'layer'] as const) {
    const densities = s.oneShot[scope].rounds.map((x: { density: number }) => Number(x.density.toFixed(6)));
    assert.deepEqual(densities, [1, 0.5, 0.2, 0.1, 0.05, 0.02]);
  }
  // The dense network is the same one IMP trained: one-shot round 0 reproduces its accuracy.
  assert.equal(s.oneShot.global.rounds[0].testAccuracy, s.imp.rounds[0].testAccuracy);
  for (const f of ['report.html', 'imp/metrics.json', 'imp/round-1/model.json', 'one-shot-global/metrics.json', 'one-shot-layer/round-3/model.json']) {
    assert.ok(existsSync(join(out, f)), f);
  }
  const html = readFileSync(join(out, 'report.html'), 'utf8');
  assert.equal((html.match(/<svg/g) ?? []).length, 3);
  assert.doesNotMatch(html, /https?:\/\/(?!www\.w3\.org)/);

  if (!existsSync(CHROMIUM)) return; // CI installs chromium; the report module's own test says so when skipped.
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
    page.on('pageerror', (e) => problems.push(e.message));
    await page.goto(pathToFileURL(join(out, 'report.html')).href, { waitUntil: 'load' });
    const sizes = await page.evaluate(() => Array.from(document.querySelectorAll("svg")).map((e) => e.getBoundingClientRect().width * e.getBoundingClientRect().height));
    assert.equal(sizes.length, 3);
    for (const a of sizes) assert.ok(a > 10_000, `chart area ${a}`);
    assert.deepEqual(problems, []);
  } finally {
    await browser.close();
  }
});
