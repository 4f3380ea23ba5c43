import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '**/*.wasm', 'src/sparse/wasm/build/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'off',
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  // The layer table of DESIGN.md: dependencies point downwards only.
  ...layer('src/core/**', ['formats', 'train', 'sparse', 'analysis', 'report', 'api', 'cli'], true),
  ...layer('src/formats/**', ['train', 'sparse', 'analysis', 'report', 'api', 'cli'], false),
  ...layer('src/sparse/**', ['formats', 'train', 'analysis', 'report', 'api', 'cli'], true),
  ...layer('src/train/**', ['sparse', 'analysis', 'report', 'api', 'cli'], false),
  ...layer('src/analysis/**', ['formats', 'sparse', 'report', 'api', 'cli'], true),
  ...layer('src/report/**', ['core', 'formats', 'train', 'sparse', 'analysis', 'api', 'cli'], true),
  ...layer('src/api/**', ['cli', 'report'], false),
);

/** `files` may not import the named sibling layers; browser layers may not import Node built-ins either. */
function layer(files, forbidden, browser) {
  const patterns = [{ group: forbidden.flatMap((l) => [`../${l}/*`, `../${l}/**`]), message: `${files.split('/')[1]} may not import these layers (DESIGN.md, layer table)` }];
  if (browser) patterns.push({ group: ['node:*', 'fs', 'path', 'os', 'child_process'], message: 'core, sparse, analysis and report must run in a browser: no Node imports.' });
  return [{ files: [files], rules: { 'no-restricted-imports': ['error', { patterns }] } }];
}
