/* global console, process */
// Bundles src/browser.ts for web pages: dist/browser/sculpt.mjs (ES module, wasm kernels inside).
// Fails if anything reachable imports a Node built-in (node:fs, path, …) or uses Node globals:
// core, sparse and the ONNX decoder must stay browser-safe. Usage: npm run build:browser
// (node scripts/build-browser.mjs [--entry FILE] [--outfile FILE]: another entry, for the tests)
import { builtinModules } from 'node:module';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, relative } from 'node:path';
import * as esbuild from 'esbuild';

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}
const ENTRY = option('entry', 'src/browser.ts');
const OUT = option('outfile', 'dist/browser/sculpt.mjs');
const builtins = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);
const problems = [];

/** Refuses Node built-ins at resolution time, naming the importing file. */
const noNode = {
  name: 'no-node-builtins',
  setup(build) {
    build.onResolve({ filter: /.*/ }, (args) => {
      if (args.path.startsWith('node:') || builtins.has(args.path)) {
        problems.push(`${relative('.', args.importer)}: imports ${args.path}`);
        return { path: args.path, external: true };
      }
      return undefined;
    });
  },
};

const result = await esbuild.build({
  entryPoints: [ENTRY],
  outfile: OUT,
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  sourcemap: true,
  sourcesContent: false,
  metafile: true,
  write: false,
  logLevel: 'warning',
  plugins: [noNode],
});
// Node globals a browser lacks (esbuild leaves free identifiers alone).
const bundle = result.outputFiles.find((f) => f.path.endsWith('.mjs'));
const text = bundle.text;
for (const g of ['process', 'Buffer', 'require', '__dirname', '__filename']) {
  const use = new RegExp(`(?<![\\w$.'"\`])${g}(?=\\s*[.(])`, 'g');
  for (const m of text.matchAll(use)) problems.push(`${OUT}: uses the Node global ${g}: …${text.slice(Math.max(0, m.index - 40), m.index + 40).replace(/\s+/g, ' ')}…`);
}
if (problems.length > 0) {
  console.error(`build:browser: the browser bundle must not depend on Node:\n  ${problems.join('\n  ')}\nMove the Node-only code behind a module ${ENTRY} does not import.`);
  process.exit(1);
}
mkdirSync(dirname(OUT), { recursive: true });
for (const f of result.outputFiles) writeFileSync(f.path, f.contents);
const modules = Object.keys(result.metafile.inputs).length;
console.log(`${OUT}: ${(bundle.contents.length / 1024).toFixed(0)} KiB from ${modules} modules, no Node built-ins`);
