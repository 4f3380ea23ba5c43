import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { renderReport } from '../../src/report/index.js';
import { chartIds, fullReport } from './fixtures.js';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

test('the report opens in Chromium without errors and every chart has a visible <svg>', {
  skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} is missing (apt-get install chromium)`,
  timeout: 60_000,
}, async () => {
  const { chromium } = await import('playwright-core');
  const dir = mkdtempSync(join(tmpdir(), 'sculpt-report-'));
  const file = join(dir, 'report.html');
  writeFileSync(file, await renderReport(fullReport));
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  try {
    const page = await browser.newPage();
    const problems: string[] = [];
    const requests: string[] = [];
    page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`); });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
    const sizes = await page.evaluate((ids) => ids.map((id) => {
      const svg = document.querySelector(`#${id} svg`);
      const r = svg?.getBoundingClientRect();
      return { id, width: r?.width ?? 0, height: r?.height ?? 0, marks: svg?.querySelectorAll('path, line').length ?? 0 };
    }), chartIds);
    for (const s of sizes) {
      assert.ok(s.width > 100 && s.height > 50, `${s.id}: ${s.width}×${s.height}`);
      assert.ok(s.marks > 5, `${s.id}: ${s.marks} marks`);
    }
    assert.equal(await page.locator('table').count(), 3);
    assert.deepEqual(problems, []);
    assert.deepEqual(requests, [pathToFileURL(file).href], 'the page loads nothing but itself');
  } finally {
    await browser.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
