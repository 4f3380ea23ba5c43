/**
 * `llm`: perplexity of the committed GPT (test/fixtures/gpt, trained on the King James Bible)
 * pruned one-shot by magnitude, Wanda and SparseGPT at 50/60/70 % and 2:4, per layer (what the
 * papers use) with a uniform or an OWL allocation, on held-out text (the Gospel of John). The
 * claim checked: SparseGPT (and Wanda) lose little at 50 % where magnitude loses much.
 * Pruning and evaluation run through the command's own code paths, injected by the CLI.
 */
import { round } from './charts.js';
import type { Experiment } from './types.js';

export const LLM_CRITERIA = ['magnitude', 'wanda', 'sparsegpt'] as const;

interface Row {
  criterion: string;
  setting: string;
  allocation: string;
  sparsity: number;
  perplexity: number;
  seconds: number;
}

export const llmExperiment: Experiment = {
  name: 'llm',
  description: 'perplexity of the committed GPT pruned by magnitude, wanda, sparsegpt at 50/60/70% and 2:4, uniform and OWL allocation',
  needsTraining: false,
  async run(ctx) {
    const lm = ctx.languageModel;
    if (lm === undefined) throw new Error('experiment llm needs the language-model tools (run it through sculpt experiment)');
    const samples = ctx.quick ? 16 : 128;
    const seqLen = ctx.quick ? 64 : 128;
    const evalWindows = ctx.quick ? 24 : undefined;
    const settings: { setting: string; sparsity?: number; pattern?: string; allocation: 'uniform' | 'owl' }[] = ctx.quick
      ? [{ setting: '50%', sparsity: 0.5, allocation: 'uniform' }, { setting: '2:4', pattern: '2:4', allocation: 'uniform' }]
      : [
        ...[0.5, 0.6, 0.7].map((s) => ({ setting: `${Math.round(s * 100)}%`, sparsity: s, allocation: 'uniform' as const })),
        { setting: '2:4', pattern: '2:4', allocation: 'uniform' },
        ...[0.5, 0.6, 0.7].map((s) => ({ setting: `${Math.round(s * 100)}%`, sparsity: s, allocation: 'owl' as const })),
      ];
    const ppl = async (model: string): Promise<number> => (await lm.perplexity(model, { seqLen, limit: evalWindows })).perplexity;
    const dense = await ppl(lm.model);
    ctx.log(`llm: dense perplexity ${dense.toFixed(3)}`);
    const rows: Row[] = [];
    for (const st of settings) {
      for (const criterion of LLM_CRITERIA) {
        const t0 = Date.now();
        const out = await lm.prune({ criterion, sparsity: st.sparsity, pattern: st.pattern, allocation: st.allocation, samples, seqLen, seed: ctx.seed });
        const seconds = (Date.now() - t0) / 1000;
        const perplexity = await ppl(out);
        rows.push({ criterion, setting: st.setting, allocation: st.allocation, sparsity: st.sparsity ?? 0.5, perplexity, seconds });
        ctx.log(`llm: ${criterion} ${st.setting} ${st.allocation}: perplexity ${perplexity.toFixed(3)} (${seconds.toFixed(1)} s)`);
      }
    }
    const at = (c: string, setting: string, allocation = 'uniform'): number => rows.find((r) => r.criterion === c && r.setting === setting && r.allocation === allocation)?.perplexity ?? NaN;
    const keys = [...new Set(rows.map((r) => `${r.setting} ${r.allocation}`))];
    const claim50 = { dense, magnitude: at('magnitude', '50%'), wanda: at('wanda', '50%'), sparsegpt: at('sparsegpt', '50%') };
    const holds = claim50.sparsegpt < claim50.magnitude && claim50.sparsegpt - dense < (claim50.magnitude - dense) / 2;
    return {
      result: {
        experiment: 'llm', model: lm.model, calibration: lm.calibration, evaluation: lm.evaluation, samples, seqLen, evalWindows: evalWindows ?? 'all',
        scope: 'layer', densePerplexity: dense, rows, claim50, claimHolds: holds,
      },
      report: {
        title: 'Pruning a GPT by perplexity: magnitude, Wanda, SparseGPT',
        subtitle: `${lm.model}; calibration ${samples} windows of ${seqLen} tokens from ${lm.calibration}; perplexity on ${lm.evaluation}`,
        settings: { densePerplexity: round(dense, 3), samples, seqLen, scope: 'layer (head and embeddings dense)', seed: ctx.seed },
        summary: [
          `dense perplexity ${dense.toFixed(3)}; at 50%: magnitude ${claim50.magnitude.toFixed(3)}, wanda ${claim50.wanda.toFixed(3)}, sparsegpt ${claim50.sparsegpt.toFixed(3)}`,
          `claim "SparseGPT loses little at 50% where magnitude loses much": ${holds ? 'holds' : 'does not hold'} on this model`,
        ],
        tables: [{
          title: 'Perplexity (lower is better)',
          columns: ['setting', 'allocation', ...LLM_CRITERIA],
          rows: [['dense', '-', ...LLM_CRITERIA.map(() => round(dense, 3))], ...keys.map((k) => {
            const [setting, allocation] = k.split(' ');
            return [setting, allocation, ...LLM_CRITERIA.map((c) => round(at(c, setting, allocation), 3))];
          })],
        }],
      },
    };
  },
};
