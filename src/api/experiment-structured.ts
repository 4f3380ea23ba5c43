/**
 * The `structured` experiment's tools: TF.js models written to a scratch folder, shrunk by
 * `shrinkFile` with the selection their training masks made (what `imp --pattern channel --shrink`
 * does), converted by `exportTfjsFile` (what `sculpt export` runs) and timed in onnxruntime-node.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { StructuredTools } from '../analysis/experiments/types.js';
import { Rng } from '../core/rng.js';
import { loadModelFolder, saveModelFolder } from '../train/model-io.js';
import { exportTfjsFile } from './export-onnx.js';
import { channelsRemovedByMasks, shrinkFile } from './shrink-file.js';
import { createOrtSession } from './sparse-ort.js';

/** Tools writing into a scratch folder removed by `dispose`. */
export function structuredTools(): StructuredTools & { dispose(): void } {
  const scratch = mkdtempSync(join(tmpdir(), 'sculpt-structured-'));
  let k = 0;
  const save = async (model: tfl.LayersModel, name: string): Promise<string> => {
    const dir = join(scratch, `${name}-${k++}`);
    await saveModelFolder(model, dir);
    return dir;
  };
  return {
    async shrink(model, masks) {
      const masked = await save(model, 'masked');
      const folder = join(scratch, `shrunk-${k++}`);
      const r = shrinkFile(masked, folder, { sparsity: 0, norm: 1, scope: 'layer', removed: channelsRemovedByMasks(masks) });
      const onnx = `${folder}.onnx`;
      exportTfjsFile(folder, onnx);
      const groups = r.groups.map((g) => ({ layer: g.producers.map((p) => p.split('/')[0]).join('+'), size: g.size, removed: g.removed, pinned: g.pinned.length > 0 }));
      return { model: await loadModelFolder(folder), onnx, parameters: { ...r.parameters }, groups };
    },
    async exportOnnx(model) {
      const dir = await save(model, 'model');
      const onnx = `${dir}.onnx`;
      exportTfjsFile(dir, onnx);
      return onnx;
    },
    async latency(files, shape, batch, runs) {
      const sessions = await Promise.all(files.map((f) => createOrtSession(f, f, 1)));
      try {
        const rng = new Rng(batch);
        const dims = [batch, ...shape];
        const input = Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => rng.next());
        const feeds = sessions.map((s) => ({ [s.inputNames[0]]: { dtype: 'float32' as const, dims, data: input } }));
        for (let w = 0; w < 3; w++) for (let i = 0; i < sessions.length; i++) await sessions[i].run(feeds[i]);
        const times = files.map(() => new Float64Array(runs));
        for (let r = 0; r < runs; r++) {
          for (let i = 0; i < sessions.length; i++) {
            const t0 = performance.now();
            await sessions[i].run(feeds[i]);
            times[i][r] = performance.now() - t0;
          }
        }
        return times.map((t) => { const s = t.slice().sort(); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; });
      } finally {
        await Promise.all(sessions.map((s) => s.release()));
      }
    },
    dispose() {
      rmSync(scratch, { recursive: true, force: true });
    },
  };
}
