import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

/**
 * Compiles a Vega-Lite spec and renders it to an SVG string without a DOM (headless view).
 * The namespace attributes are dropped: inline SVG in HTML does not need them, and the report
 * must contain no URLs at all.
 */
export async function renderSvg(spec: TopLevelSpec | Record<string, unknown>): Promise<string> {
  const compiled = compile(spec as TopLevelSpec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    const svg = await view.toSVG();
    return svg.replace(/\s+xmlns(:xlink)?="[^"]*"/g, '');
  } finally {
    view.finalize();
  }
}
