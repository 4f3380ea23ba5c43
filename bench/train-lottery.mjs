/* global process, console */
// The lottery-ticket check of issue 3: LeNet-300-100 on the full Fashion-MNIST, IMP removing 50%
// of the surviving weights per round for 6 rounds (density 1 → 3.1%), 2 epochs a round (Adam,
// lr 1.2e-3, batch 60), rewinding to initialisation, with the reinit control. Prints a table and
// the verdict; results land in --out (default out/lottery/): metrics.json, run.json, round-K/.
// Options: --out DIR  --seed S  --rounds R  --rate p  --epochs E  --controls reinit,random-mask
import { register } from 'tsx/esm/api';

register();
const { runImp } = await import('../src/train/methods.ts');
const { DEFAULT_TRAIN_CONFIG } = await import('../src/train/loop.ts');

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const out = opt('out', 'out/lottery');
const seed = Number(opt('seed', '0'));
const rounds = Number(opt('rounds', '6'));
const rate = Number(opt('rate', '0.5'));
const epochs = Number(opt('epochs', '2'));
const controls = opt('controls', 'reinit').split(',').filter((c) => c !== '');

const t0 = Date.now();
const res = await runImp({
  model: 'lenet-300-100', dataset: 'fashion-mnist', seed, out,
  train: { ...DEFAULT_TRAIN_CONFIG, epochs, batchSize: 60, lr: 1.2e-3, optimizer: 'adam' },
  rounds, rate, rewindTo: 0, controls, scope: 'global',
}, (e) => {
  if (e.kind === 'note') console.log(e.message);
  if (e.kind === 'result') {
    console.log(`round ${e.round} ${e.run.padEnd(11)} density ${(100 * e.density).toFixed(2).padStart(6)}%  test ${(100 * e.testAccuracy).toFixed(2)}%  (${(e.trainSeconds ?? 0).toFixed(1)} s)`);
  }
});
const r = res.metrics.rounds;
console.log('\n| round | density | ticket test acc | ' + controls.map((c) => `${c} test acc`).join(' | ') + ' |');
console.log('| --- | --- | --- | ' + controls.map(() => '---').join(' | ') + ' |');
for (const e of r) {
  const cs = controls.map((c) => (e.controls[c] ? `${(100 * e.controls[c].testAccuracy).toFixed(2)}%` : '—'));
  console.log(`| ${e.round} | ${(100 * e.density).toFixed(2)}% | ${(100 * e.testAccuracy).toFixed(2)}% | ${cs.join(' | ')} |`);
}
const dense = r[0].testAccuracy;
const last = r[r.length - 1];
console.log(`\ndense ${(100 * dense).toFixed(2)}%, ticket at ${(100 * last.density).toFixed(2)}%: ${(100 * last.testAccuracy).toFixed(2)}% (Δ ${(100 * (last.testAccuracy - dense)).toFixed(2)} points)`);
if (last.controls.reinit) {
  const gap = 100 * (last.testAccuracy - last.controls.reinit.testAccuracy);
  console.log(`reinit ${(100 * last.controls.reinit.testAccuracy).toFixed(2)}% (ticket − reinit = ${gap.toFixed(2)} points)`);
  // "Within 1 point" of the dense network: not more than 1 point below it (above is fine).
  const holds = last.testAccuracy >= dense - 0.01 && gap >= 2;
  console.log(`claim (ticket at most 1 point below dense, reinit ≥ 2 points below the ticket): ${holds ? 'HOLDS' : 'DOES NOT HOLD'}`);
}
console.log(`wall time ${((Date.now() - t0) / 1000).toFixed(0)} s`);
