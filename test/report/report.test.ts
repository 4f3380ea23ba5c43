import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  accuracyVsDensitySvg, layerDensitySvg, magnitudeBins, magnitudeHistogramSvg, renderReport, renderTable, speedupSvg,
} from '../../src/report/index.js';
import { accuracyPoints, chartIds, fullReport, weights } from './fixtures.js';

/** The graphics elements inside the first mark container of the given type (`rect`, `symbol`, …). */
function marks(svg: string, type: string): string[] {
  const all = [...svg.matchAll(new RegExp(`<g class="mark-${type} role-mark[^"]*"[^>]*>(.*?)</g>`, 'g'))];
  return all.flatMap((m) => [...m[1].matchAll(/<(path|line)\b[^>]*>/g)].map((x) => x[0]));
}
const count = (s: string, sub: string): number => s.split(sub).length - 1;

test('accuracy chart: one line per series, one point per datum, a log x axis', async () => {
  const svg = await accuracyVsDensitySvg(accuracyPoints);
  assert.match(svg, /^<svg [^>]*width="\d+" height="\d+"/);
  assert.equal(count(svg, 'class="mark-line role-mark'), 3);
  assert.equal(marks(svg, 'symbol').length, accuracyPoints.length);
  for (const s of ['ticket', 'reinit', 'random-mask']) assert.ok(svg.includes(`>${s}</text>`), s);
  assert.ok(svg.includes('density (fraction of weights kept)'));
  // Log scale: the tick labels of a log axis over [0.26, 1] include 30% and 100% but no 0%.
  assert.ok(svg.includes('>100%</text>'));
  assert.ok(!svg.includes('>0%</text>'));
});

test('layer density chart: one bar per (layer, scope) and a scope legend', async () => {
  const rows = fullReport.layerDensity!.rows;
  const svg = await layerDensitySvg(rows);
  const bars = marks(svg, 'rect');
  assert.equal(bars.length, rows.length);
  assert.ok(svg.includes('>global</text>') && svg.includes('>layer</text>'));
  const fc3 = bars.find((b) => b.includes('layer: fc3; scope: global'));
  assert.ok(fc3 && fc3.includes('60%'));
  // Density 0.6 on a 480-wide [0, 1] axis: the bar is 288 wide.
  assert.match(fc3, /d="M0,[\d.]+h288v/);
});

test('magnitude bins count every weight once', () => {
  const bins = magnitudeBins(weights, 20);
  assert.equal(bins.length, 20);
  assert.equal(bins.reduce((s, b) => s + b.count, 0), weights.length);
  assert.equal(bins[19].hi, 1);
  const tenths = [0, -0.1, 0.2, 0.3, -0.4, 0.5, 0.6, -0.7, 0.8, 0.9, -1];
  assert.deepEqual(magnitudeBins(tenths, 4).map((b) => b.count), [3, 2, 3, 3]);
  assert.deepEqual(magnitudeBins(new Float32Array(3), 4).map((b) => b.count), [3, 0, 0, 0]);
});

test('histogram: one bar per bin and the threshold rule at its x position', async () => {
  const svg = await magnitudeHistogramSvg(weights, 0.25, 20);
  assert.equal(marks(svg, 'rect').length, 20);
  const rules = marks(svg, 'rule');
  assert.equal(rules.length, 1);
  const width = Number(/<svg [^>]*?\bwidth="(\d+)"/.exec(svg)![1]);
  assert.ok(width > 480);
  // Plot width 480 over the domain [0, 1]: 0.25 sits at x = 120.
  assert.match(rules[0], /transform="translate\(120,0\)"/);
  const noRule = await magnitudeHistogramSvg(weights, undefined, 20);
  assert.equal(marks(noRule, 'rule').length, 0);
});

test('speed-up chart: measured, predicted and the dashed FLOP-count line', async () => {
  const pts = fullReport.speedup!.points;
  const svg = await speedupSvg(pts);
  assert.equal(count(svg, 'class="mark-line role-mark'), 3);
  assert.ok(svg.includes('>FLOP count</text>'));
  assert.ok(svg.includes('stroke-dasharray="6,3"'));
  assert.equal(marks(svg, 'symbol').length, pts.length);
  const bare = await speedupSvg(pts, false);
  assert.equal(count(bare, 'class="mark-line role-mark'), 2);
  assert.ok(!bare.includes('FLOP count'));
});

test('tables escape text and right-align numbers', () => {
  const html = renderTable(['a<b', 'n'], [['<script>', 1234567], ['x', 0.123456789]]);
  assert.ok(html.includes('<th>a&lt;b</th>'));
  assert.ok(html.includes('<td>&lt;script&gt;</td>'));
  assert.ok(html.includes('<td class="num">1,234,567</td>'));
  assert.ok(html.includes('<td class="num">0.123457</td>'));
  assert.ok(!html.includes('<script>'));
});

test('full report: every section, self-contained, no scripts, no URLs', async () => {
  const html = await renderReport(fullReport);
  assert.ok(html.startsWith('<!DOCTYPE html>'));
  for (const id of chartIds) assert.ok(html.includes(`<section class="chart" id="${id}">`), id);
  assert.equal(count(html, '<svg '), chartIds.length);
  for (const id of ['layers', 'table-0', 'settings']) assert.ok(html.includes(`id="${id}"`), id);
  assert.ok(html.includes('LeNet-300-100 &lt;pruned&gt; &amp; &quot;tested&quot;'));
  assert.ok(html.includes('<td class="num">235,200</td>') && html.includes('<td>5.00%</td>'));
  // total row: 18,060 of 265,200 kept
  assert.ok(html.includes('<td class="num">18,060</td>') && html.includes('<td>6.81%</td>'));
  assert.ok(!html.includes('>note<'), 'undefined settings are left out');
  assert.ok(!/<script|<link|<img|<iframe|@import|url\(/i.test(html));
  assert.ok(!/https?:|\/\/[a-z]/i.test(html), 'no URL of any kind');
  assert.ok(!/\b(src|href)=/i.test(html));
});

test('a report with only a title has no sections', async () => {
  const html = await renderReport({ title: 'empty' });
  assert.equal(count(html, '<section'), 0);
  assert.ok(html.includes('<h1>empty</h1>'));
});
