#!/usr/bin/env node
// The compiled CLI lives in dist/ (npm ci and npm pack build it through `prepare`).
import('../dist/src/cli/main.js').then(
  ({ main }) => main(process.argv).then((code) => { process.exitCode = code; }),
  (e) => {
    const missing = e && e.code === 'ERR_MODULE_NOT_FOUND' && String(e.message).includes('dist/src/cli/main.js');
    process.stderr.write(missing ? 'sculpt: dist/ is not built: run npm run build (npm ci runs it)\n' : `sculpt: internal error: ${String(e && e.message).split('\n')[0]}\n`);
    process.exitCode = missing ? 2 : 1;
  },
);
