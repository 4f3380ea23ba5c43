/**
 * The `llm` experiment's tools: the committed GPT fixture (test/fixtures/gpt of a checkout), pruned
 * by `pruneLanguageModelFile` (what `sculpt prune` runs) into a scratch folder and scored by
 * `evalFile` (what `sculpt eval --metric perplexity` runs).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LanguageModelTools } from '../analysis/experiments/types.js';
import { SculptError } from '../core/errors.js';
import { pruneOptions } from '../core/options.js';
import { packageRoot } from '../formats/datasets/idx.js';
import { evalFile } from './eval.js';
import { pruneLanguageModelFile } from './prune-lm.js';

/** The fixture's folder: model, tokenizer, calibration and held-out text. */
export function gptFixtureDir(): string {
  return join(packageRoot(), 'test', 'fixtures', 'gpt');
}

/** Tools over the GPT in `dir`; pruned copies go to a scratch folder removed by `dispose`. */
export function languageModelTools(dir = gptFixtureDir()): LanguageModelTools & { dispose(): void } {
  const model = join(dir, 'gpt.onnx');
  if (!existsSync(model)) throw new SculptError(`${model}: the GPT fixture is missing; run from a sculpt checkout (python3 scripts/fixtures/make_gpt.py makes it)`);
  const tokenizer = join(dir, 'tokenizer.json');
  const scratch = mkdtempSync(join(tmpdir(), 'sculpt-llm-'));
  let k = 0;
  return {
    model,
    calibration: `text:${join(dir, 'calib.txt')}`,
    evaluation: `text:${join(dir, 'eval.txt')}`,
    async prune(o) {
      const output = join(scratch, `pruned-${k++}.onnx`);
      const opts = pruneOptions({ criterion: o.criterion, sparsity: o.sparsity, pattern: o.pattern, scope: 'layer', seed: o.seed });
      await pruneLanguageModelFile(model, output, opts, {
        calibration: `text:${join(dir, 'calib.txt')}`, samples: o.samples, dataOptions: { tokenizer, seqLen: o.seqLen }, allocation: o.allocation,
      });
      return output;
    },
    async perplexity(m, o) {
      const r = await evalFile(m, { data: `text:${join(dir, 'eval.txt')}`, metric: 'perplexity', dataOptions: { tokenizer, seqLen: o.seqLen, limit: o.limit } });
      return { perplexity: r.value, tokens: r.tokens ?? 0 };
    },
    dispose() {
      rmSync(scratch, { recursive: true, force: true });
    },
  };
}
