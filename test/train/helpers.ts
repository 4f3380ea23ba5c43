import type { SessionOptions } from '../../src/train/session.js';
import { DEFAULT_TRAIN_CONFIG } from '../../src/train/loop.js';

/** The committed subset, so tests do not depend on Debian's dataset being installed. */
export const SUBSET = 'data/fashion-mnist-subset';

export function tinyOptions(over: Partial<SessionOptions> = {}): SessionOptions {
  return {
    model: 'lenet-300-100', dataset: 'fashion-mnist', dataDir: SUBSET, trainLimit: 600, testLimit: 300, seed: 7, backend: 'wasm',
    train: { ...DEFAULT_TRAIN_CONFIG, epochs: 1, batchSize: 60 },
    ...over,
  };
}
