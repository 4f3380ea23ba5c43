/** The dataset registry's readers: exact shapes and values, and one-line errors. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { openDataset, parseDataSpec, batches, decodeImage, resizeBilinear, parseNpyArray, loadTokenizer, textWindows, splitCsvLine } from '../../src/formats/datasets/index.js';
import { splitExamples } from '../../src/train/data.js';
import { PNG } from 'pngjs';
import { tempDir } from '../cli/helpers.js';

const D = 'test/fixtures/datasets';
const EXPECTED = JSON.parse(readFileSync(join(D, 'expected.json'), 'utf8'));
const sum = (a: ArrayLike<number>, from = 0, to = a.length): number => { let s = 0; for (let i = from; i < to; i++) s += a[i]; return s; };

test('parseDataSpec: KIND:PATH, bare fashion-mnist, a bare folder is idx, unknown kinds listed', () => {
  assert.equal(parseDataSpec('images:a/b').reader.kind, 'images');
  assert.equal(parseDataSpec('images:a/b').path, 'a/b');
  assert.equal(parseDataSpec('npy:x.npy,y.npy').path, 'x.npy,y.npy');
  assert.equal(parseDataSpec('fashion-mnist').reader.kind, 'fashion-mnist');
  assert.equal(parseDataSpec('data/fashion-mnist-subset').reader.kind, 'idx');
  assert.throws(() => parseDataSpec('imgs:x'), /^SculptError: imgs:x: unknown dataset kind 'imgs'; sculpt reads images:DIR, npy:X.npy\[,Y.npy\], npz:FILE.npz, csv:FILE, idx:DIR, text:FILE, fashion-mnist$/);
  assert.throws(() => parseDataSpec('images:'), /images:: no path after 'images:'; write images:DIR/);
  assert.throws(() => parseDataSpec('nothing-here'), /nothing-here: no such dataset or folder; name it KIND:PATH/);
});

test('images: class folders in sorted order, PNGs resized exactly as PyTorch, JPEG close to libjpeg, the text file skipped', () => {
  const s = openDataset(`images:${D}/images`, { imageSize: [8, 8], mean: [0.5], std: [0.25] });
  assert.equal(s.count, 12);
  assert.deepEqual(s.sampleShape, [8, 8, 3]);
  assert.deepEqual(s.classNames, ['circles', 'squares', 'stripes']);
  assert.deepEqual(Array.from(s.labels!), EXPECTED.images.labels);
  assert.equal(s.classes, 3);
  assert.match(s.notes.join('\n'), /skipped 1 file not .png\/.jpg\/.jpeg/);
  for (let i = 0; i < 12; i++) {
    const got = sum(s.inputs, i * 192, (i + 1) * 192);
    // Image 2 of each class is the JPEG: jpeg-js upsamples chroma without libjpeg's smoothing.
    const tol = i % 4 === 2 ? 2 : 1e-3;
    assert.ok(Math.abs(got - EXPECTED.images.image_sums[i]) < tol, `image ${i}: ${got} vs PyTorch ${EXPECTED.images.image_sums[i]}`);
  }
  const jpg = decodeImage(readFileSync(`${D}/images/circles/2.jpg`), 'circles/2.jpg');
  const ref = parseNpyArray(readFileSync(`${D}/circles-2.jpg.pixels.npy`), 'pixels').data;
  let diff = 0;
  for (let p = 0; p < 100; p++) for (let c = 0; c < 3; c++) diff += Math.abs(jpg.data[4 * p + c] - ref[3 * p + c]);
  assert.equal(jpg.width, 10);
  // jpeg-js upsamples chroma without libjpeg's smoothing: 3.4 levels of 255 on average for this 10×10 image.
  assert.ok(diff / 300 < 4, `mean |jpeg-js − libjpeg| = ${diff / 300}`);
});

test('images: channels 1 is luma, a preprocessing spec is read and flags win over it, sizes must agree without --image-size', () => {
  const dir = tempDir();
  const spec = join(dir, 'pre.json');
  writeFileSync(spec, JSON.stringify({ imageSize: [4, 4], channels: 1, mean: 0.25 }));
  const s = openDataset(`images:${D}/images`, { preprocess: spec });
  assert.deepEqual(s.sampleShape, [4, 4, 1]);
  const flags = openDataset(`images:${D}/images`, { preprocess: spec, imageSize: [2, 3] });
  assert.deepEqual(flags.sampleShape, [2, 3, 1]);
  // A 1×2 image of known colours: luma, or RGB, then the mean and std.
  mkdirSync(join(dir, 'one', 'a'), { recursive: true });
  const png = new PNG({ width: 2, height: 1 });
  png.data.set([10, 200, 30, 255, 255, 0, 0, 255]);
  writeFileSync(join(dir, 'one', 'a', 'x.png'), PNG.sync.write(png));
  const gray = openDataset(`images:${join(dir, 'one')}`, { channels: 1 });
  assert.deepEqual(gray.sampleShape, [1, 2, 1]);
  assert.ok(Math.abs(gray.inputs[0] - (0.299 * 10 + 0.587 * 200 + 0.114 * 30) / 255) < 1e-6);
  const rgb = openDataset(`images:${join(dir, 'one')}`, { mean: [0.5], std: [0.5] });
  assert.deepEqual(rgb.sampleShape, [1, 2, 3]);
  assert.deepEqual(Array.from(rgb.inputs), [10, 200, 30, 255, 0, 0].map((v) => Math.fround((v / 255 - 0.5) / 0.5)));
  assert.throws(() => openDataset(`images:${D}/images`), /images differ in size \(.*circles\/0.png is 12×12, .*circles\/1.png is 8×8\); pass --image-size H,W/);
  writeFileSync(join(dir, 'bad.json'), '{"size": [2, 2]}');
  assert.throws(() => openDataset(`images:${D}/images`, { preprocess: join(dir, 'bad.json') }), /unknown key size; the spec takes imageSize, channels, mean, std/);
  assert.throws(() => openDataset(`images:${D}/images`, { imageSize: [8, 8], mean: [0.1, 0.2] }), /--mean has 2 values for 3 channels/);
});

test('images: empty and missing folders are one-line errors', () => {
  const dir = tempDir();
  mkdirSync(join(dir, 'cls'));
  assert.throws(() => openDataset(`images:${dir}`), /no .png, .jpg or .jpeg files in the class folders of .*; the dataset is empty/);
  assert.throws(() => openDataset(`images:${join(dir, 'cls')}`), /has no class sub-folders/);
  assert.throws(() => openDataset(`images:${join(dir, 'nope')}`), /no such folder/);
  writeFileSync(join(dir, 'cls', 'x.png'), 'not a png');
  assert.throws(() => openDataset(`images:${dir}`), /x.png: not a PNG or JPEG file/);
});

test('resizeBilinear: half-pixel centres as torch.nn.functional.interpolate(align_corners=False)', () => {
  const up = resizeBilinear(Float32Array.from([0, 1, 2, 3]), 2, 2, 1, 4, 4);
  assert.deepEqual(Array.from(up), [0, 0.25, 0.75, 1, 0.5, 0.75, 1.25, 1.5, 1.5, 1.75, 2.25, 2.5, 2, 2.25, 2.75, 3]);
  const down = resizeBilinear(Float32Array.from({ length: 12 }, (_, i) => i), 3, 4, 1, 2, 3);
  const torch = [1.1666667461395264, 2.5, 3.8333334922790527, 7.1666669845581055, 8.5, 9.833333015441895];
  down.forEach((v, i) => assert.ok(Math.abs(v - torch[i]) < 1e-5, `${i}: ${v} vs ${torch[i]}`));
});

test('npy, npz: inputs and labels exact; npz members found by name; label errors', () => {
  const s = openDataset(`npy:${D}/x.npy,${D}/y.npy`);
  assert.equal(s.count, 40);
  assert.deepEqual(s.sampleShape, [16]);
  assert.ok(s.inputs instanceof Float32Array);
  assert.deepEqual(Array.from(s.inputs.subarray(0, 3)), [0.3455841839313507, 0.8216181397438049, 0.3304370641708374].map(Math.fround));
  assert.equal(s.inputs[40 * 16 - 1], Math.fround(0.13752688));
  assert.deepEqual(Array.from(s.labels!.subarray(0, 10)), [0, 9, 1, 3, 2, 2, 0, 1, 2, 4]);
  assert.equal(sum(s.labels!), 188);
  assert.equal(s.classes, 10);
  const z = openDataset(`npz:${D}/xy.npz`);
  assert.deepEqual(z.inputs, s.inputs);
  assert.deepEqual(z.labels, s.labels);
  assert.match(z.notes[0], /inputs 'x', labels 'y'/);
  const x = openDataset(`npy:${D}/x.npy`, { limit: 5 });
  assert.equal(x.count, 5);
  assert.equal(x.labels, undefined);
  assert.throws(() => openDataset(`npy:${D}/x.npy,${D}/corpus.txt`), /corpus.txt: not a NumPy .npy file/);
  assert.throws(() => openDataset(`npy:${D}/x.npy,${D}/x.npy`), /x.npy: labels must have shape \(N,\), got \(40, 16\)/);
  assert.throws(() => openDataset(`npy:${D}/y.npy,${D}/x.npy`), /labels must have shape/);
  assert.throws(() => openDataset(`npy:${D}/missing.npy`), /cannot read .*missing.npy \(ENOENT\)/);
  assert.throws(() => openDataset(`npz:${D}/x.npy`), /not a readable .npz \(zip\) file/);
});

test('csv: header, string labels numbered in sorted order, --label-column by name and index, errors name the line', () => {
  const s = openDataset(`csv:${D}/table.csv`, { labelColumn: 'species' });
  assert.equal(s.count, 12);
  assert.deepEqual(s.sampleShape, [8]);
  assert.deepEqual(s.classNames, ['ant', 'bee', 'cat']);
  const npy = openDataset(`npy:${D}/x.npy,${D}/y.npy`);
  for (let r = 0; r < 12; r++) {
    assert.equal(s.labels![r], npy.labels![r] % 3);
    for (let c = 0; c < 8; c++) assert.ok(Math.abs(s.inputs[r * 8 + c] - npy.inputs[r * 16 + c]) < 1e-5);
  }
  assert.deepEqual(openDataset(`csv:${D}/table.csv`, { labelColumn: '8' }).labels, s.labels);
  assert.deepEqual(openDataset(`csv:${D}/table.csv`).labels, s.labels); // last column by default
  const dir = tempDir();
  writeFileSync(join(dir, 'a.csv'), 'a,b,label\n1,2,0\n3,x,1\n');
  assert.throws(() => openDataset(`csv:${join(dir, 'a.csv')}`), /a.csv: line 3, column b: 'x' is not a number/);
  writeFileSync(join(dir, 'b.csv'), 'a,label\n1,-1\n');
  assert.throws(() => openDataset(`csv:${join(dir, 'b.csv')}`), /label -1 on line 2 is out of range; class indices start at 0/);
  writeFileSync(join(dir, 'c.csv'), 'a,label\n');
  assert.throws(() => openDataset(`csv:${join(dir, 'c.csv')}`), /only a header row/);
  assert.throws(() => openDataset(`csv:${D}/table.csv`, { labelColumn: 'kind' }), /--label-column kind: no such column .*\(columns: f0, .*species\)/);
  assert.deepEqual(splitCsvLine('1,"a, b","say ""hi"""'), ['1', 'a, b', 'say "hi"']);
});

test('idx: fashion-mnist and idx:DIR, train or test split', () => {
  const test10 = openDataset('idx:data/fashion-mnist-subset', { limit: 10 });
  assert.equal(test10.count, 10);
  assert.deepEqual(test10.sampleShape, [28, 28, 1]);
  assert.ok(test10.image);
  const train = openDataset('idx:data/fashion-mnist-subset', { split: 'train', limit: 3 });
  assert.notDeepEqual(Array.from(train.inputs.subarray(0, 784)), Array.from(test10.inputs.subarray(0, 784)));
  assert.equal(openDataset('fashion-mnist', { limit: 2 }).count, 2);
  assert.throws(() => openDataset(`idx:${D}`), /idx:test\/fixtures\/datasets: needs train-images-idx3-ubyte/);
});

test('text: tokenizer.json through @huggingface/tokenizers gives the Python BPE ids; bytes; windows and scored positions', () => {
  const tok = loadTokenizer(`${D}/tokenizer.json`);
  assert.equal(tok.vocabSize, EXPECTED.text.vocab);
  const ids = Array.from(tok.encode(readFileSync(`${D}/corpus.txt`, 'utf8')));
  assert.deepEqual(ids, Array.from(parseNpyArray(readFileSync(`${D}/corpus.tokens.npy`), 'tokens').data));
  const s = openDataset(`text:${D}/corpus.txt`, { tokenizer: `${D}/tokenizer.json`, seqLen: 32 });
  assert.equal(s.count, 40);
  assert.deepEqual(s.sampleShape, [32]);
  assert.ok(s.inputs instanceof Int32Array);
  assert.deepEqual(Array.from(s.inputs.subarray(32, 64)), ids.slice(32, 64));
  assert.equal(s.text!.tokens, 1298);
  assert.deepEqual(Array.from(s.text!.scoreFrom.subarray(0, 3)), [1, 1, 1]);
  const over = openDataset(`text:${D}/corpus.txt`, { tokenizer: `${D}/tokenizer.json`, seqLen: 32, stride: 16 });
  assert.equal(over.count, 80);
  assert.deepEqual(Array.from(over.text!.scoreFrom.subarray(0, 3)), [1, 16, 16]);
  const b = openDataset(`text:${D}/corpus.txt`, { tokenizer: 'bytes', seqLen: 32 });
  assert.equal(b.text!.tokens, 2522);
  assert.equal(b.count, Math.floor(2522 / 32));
  assert.equal(b.inputs[0], 'A'.charCodeAt(0));
  const j = openDataset(`text:${D}/corpus.jsonl`, { tokenizer: `${D}/tokenizer.json`, seqLen: 32 });
  assert.equal(j.count, EXPECTED.text['jsonl-bpe-32-32'].windows);
  assert.deepEqual([...batches(s, 16)].map((x) => x.count), [16, 16, 8]);
  assert.deepEqual(Array.from(textWindows(10, 4, 3, 't').starts), [0, 3, 6]);
});

test('text: errors for no tokenizer, an unknown one, too little text, bad JSONL', () => {
  const dir = tempDir();
  assert.throws(() => openDataset(`text:${D}/corpus.txt`), /text needs a tokenizer: pass --tokenizer PATH\/tokenizer.json or --tokenizer bytes/);
  assert.throws(() => openDataset(`text:${D}/corpus.txt`, { tokenizer: 'gpt2' }), /--tokenizer gpt2: unknown tokenizer; give the path of a Hugging Face tokenizer.json, or bytes/);
  writeFileSync(join(dir, 'short.txt'), 'tiny');
  assert.throws(() => openDataset(`text:${join(dir, 'short.txt')}`, { tokenizer: 'bytes', seqLen: 8 }), /4 tokens, fewer than one window of --seq-len 8/);
  writeFileSync(join(dir, 'empty.txt'), '');
  assert.throws(() => openDataset(`text:${join(dir, 'empty.txt')}`, { tokenizer: 'bytes' }), /no text in .*empty.txt; the dataset is empty/);
  writeFileSync(join(dir, 'bad.jsonl'), '{"text": "a"}\n{"body": "b"}\n');
  assert.throws(() => openDataset(`text:${join(dir, 'bad.jsonl')}`, { tokenizer: 'bytes' }), /bad.jsonl: line 2 has no "text" string/);
  copyFileSync(`${D}/corpus.txt`, join(dir, 'tokenizer.json'));
  assert.throws(() => loadTokenizer(join(dir, 'tokenizer.json')), /not valid JSON/);
});

test('splitExamples: any labelled set as train/test, held-out examples spread through the classes', () => {
  const set = openDataset(`images:${D}/images`, { imageSize: [8, 8] });
  const ds = splitExamples(set, 0.25);
  assert.equal(ds.train.count, 9);
  assert.equal(ds.test.count, 3);
  assert.deepEqual(Array.from(ds.test.labels), [0, 1, 2]);
  assert.deepEqual(ds.imageShape, [8, 8, 3]);
  assert.deepEqual(Array.from(ds.test.images.subarray(0, 192)), Array.from(set.inputs.subarray(3 * 192, 4 * 192)));
  const csv = splitExamples(openDataset(`csv:${D}/table.csv`));
  assert.deepEqual(csv.imageShape, [1, 8, 1]);
  assert.throws(() => splitExamples(openDataset(`npy:${D}/x.npy`)), /has no labels; training needs a classification dataset/);
});
