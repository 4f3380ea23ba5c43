/**
 * Plain data the report is built from. Every field but `title` is optional, so each command
 * (train, imp, gmp, demo, experiments) fills only the sections it has.
 */

/** One point of accuracy versus density; `series` names the method ("ticket", "reinit", ...). */
export interface AccuracyPoint {
  readonly series: string;
  /** Fraction of weights kept, in (0, 1]. */
  readonly density: number;
  /** Accuracy in [0, 1]. */
  readonly accuracy: number;
}

/** Density of one layer under one scope ("global", "layer", or any other label). */
export interface LayerDensity {
  readonly layer: string;
  readonly scope: string;
  /** Fraction of weights kept, in [0, 1]. */
  readonly density: number;
}

/** One point of speed-up versus sparsity; `kind` is e.g. "measured" or "predicted". */
export interface SpeedupPoint {
  readonly kind: string;
  /** Fraction of weights removed, in [0, 1). */
  readonly sparsity: number;
  /** Dense time divided by sparse time. */
  readonly speedup: number;
}

/** One cell's mean of a metric with its confidence interval [lo, hi] over n seeds. */
export interface IntervalPoint {
  readonly cell: string;
  readonly mean: number;
  readonly lo: number;
  readonly hi: number;
  readonly n: number;
}

/** Per-layer numbers of one pruning run. */
export interface LayerStats {
  readonly layer: string;
  readonly shape?: readonly number[];
  readonly total: number;
  readonly kept: number;
  /** Magnitude threshold below which this layer's weights were removed, where one exists. */
  readonly threshold?: number;
}

export interface AccuracySection {
  readonly title?: string;
  readonly points: readonly AccuracyPoint[];
  /** Y axis label; "accuracy" unless told. */
  readonly metric?: string;
}

export interface LayerDensitySection {
  readonly title?: string;
  readonly rows: readonly LayerDensity[];
}

export interface MagnitudeSection {
  readonly title?: string;
  /** Weight values or magnitudes; absolute values are taken. */
  readonly values: ArrayLike<number>;
  /** The selection threshold, drawn as a vertical rule. */
  readonly threshold?: number;
  /** Number of histogram bins (default 60). */
  readonly bins?: number;
}

export interface SpeedupSection {
  readonly title?: string;
  readonly points: readonly SpeedupPoint[];
  /** Draw the FLOP-count bound 1 / (1 − sparsity) (default true). */
  readonly flopLine?: boolean;
}

export interface LayerStatsSection {
  readonly title?: string;
  readonly rows: readonly LayerStats[];
}

/** A free-form table for sections the report does not know about. */
export interface TableSection {
  readonly title: string;
  readonly columns: readonly string[];
  readonly rows: readonly (readonly (string | number | boolean | null)[])[];
}

/** A free-form Vega-Lite chart (a top-level spec object) for later experiments. */
export interface ChartSection {
  readonly title: string;
  readonly spec: Record<string, unknown>;
}

export interface ReportData {
  readonly title: string;
  /** One line under the title, e.g. the command and date. */
  readonly subtitle?: string;
  /** The run's settings, shown as a two-column table. */
  readonly settings?: Readonly<Record<string, string | number | boolean | null | undefined>>;
  readonly summary?: readonly string[];
  readonly accuracy?: AccuracySection;
  readonly layerDensity?: LayerDensitySection;
  readonly magnitudes?: MagnitudeSection;
  readonly speedup?: SpeedupSection;
  readonly layers?: LayerStatsSection;
  readonly charts?: readonly ChartSection[];
  readonly tables?: readonly TableSection[];
}
