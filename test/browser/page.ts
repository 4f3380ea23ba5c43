/**
 * A local page for browser tests: a node:http server on 127.0.0.1 serving fixed bytes by path, and
 * Debian's Chromium (headless, through playwright-core) opened on it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

export const chromiumMissing = existsSync(CHROMIUM) ? false : `${CHROMIUM} is missing (apt-get install chromium)`;

const TYPES: Record<string, string> = { '.mjs': 'text/javascript', '.js': 'text/javascript', '.html': 'text/html', '.json': 'application/json', '.wasm': 'application/wasm' };

/** Builds dist/browser/sculpt.mjs with `npm run build:browser`'s script (its Node-import check included) and returns the bundle. */
export function buildBundle(): Uint8Array {
  const r = spawnSync(process.execPath, ['scripts/build-browser.mjs'], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`build:browser failed: ${r.stderr}${r.stdout}`);
  return readFileSync(join(ROOT, 'dist/browser/sculpt.mjs'));
}

export interface LocalSite {
  readonly url: string;
  /** Paths the browser asked for, in order. */
  readonly requests: string[];
  close(): Promise<void>;
}

/**
 * Serves `files` (path → bytes) on 127.0.0.1 at a free port; any other path is a 404. Pages are
 * cross-origin isolated (COOP/COEP), which gives them a 5 µs clock instead of 100 µs.
 */
export async function serve(files: Readonly<Record<string, Uint8Array | string>>): Promise<LocalSite> {
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    requests.push(path);
    const body = files[path];
    if (body === undefined) {
      res.writeHead(404).end();
      return;
    }
    const ext = path.slice(path.lastIndexOf('.'));
    res.writeHead(200, {
      'content-type': TYPES[ext] ?? 'application/octet-stream', 'cache-control': 'no-store',
      'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp',
    }).end(body);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((ok) => server.close(() => ok())),
  };
}

/** Opens a headless Chromium; `problems` collects console errors and page errors. */
export async function openBrowser(executablePath = CHROMIUM): Promise<{ browser: Browser; page: Page; problems: string[] }> {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath, args: ARGS });
  const page = await browser.newPage();
  const problems: string[] = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console error: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  return { browser, page, problems };
}
