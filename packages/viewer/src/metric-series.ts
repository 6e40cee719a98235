/**
 * Turns stored metric points into chart series: per-interval deltas of cumulative points, request
 * rate, error ratio and latency percentiles per route from `http.server.request.duration`, and a
 * generic view of any metric by name.
 */
import { ATTR_HTTP_RESPONSE_STATUS_CODE, ATTR_HTTP_ROUTE } from './semconv.js';
import type { StoredPoint } from './store.js';

/** A point's contribution to its interval: what was measured since the previous point of its series. */
interface Delta {
  point: StoredPoint;
  count: number;
  sum: number;
  value: number;
  buckets: number[] | null;
}

/**
 * Per-interval deltas of each series. Cumulative points are differenced against the previous point
 * of the same series (same start time); the first point of a series, and one after a reset, counts
 * whole. Delta points and gauges are taken as they are.
 */
export function deltas(points: readonly StoredPoint[]): Delta[] {
  const last = new Map<string, StoredPoint>();
  const out: Delta[] = [];
  for (const p of points) {
    const prev = last.get(p.series);
    last.set(p.series, p);
    const cumulative = p.temporality === 'cumulative' && p.type !== 'gauge';
    const comparable =
      cumulative &&
      prev !== undefined &&
      prev.startUs === p.startUs &&
      (p.count ?? p.value ?? 0) >= (prev.count ?? prev.value ?? 0);
    const minus = (a: number | null, b: number | null | undefined) => (a ?? 0) - (comparable ? (b ?? 0) : 0);
    out.push({
      point: p,
      count: minus(p.count, prev?.count),
      sum: minus(p.sum, prev?.sum),
      value: p.type === 'gauge' || (p.type === 'sum' && !cumulative) ? (p.value ?? 0) : minus(p.value, prev?.value),
      buckets: p.bucketCounts
        ? p.bucketCounts.map((c, i) => c - (comparable ? (prev?.bucketCounts?.[i] ?? 0) : 0))
        : null,
    });
  }
  return out;
}

/**
 * The `q` quantile (0..1) of an explicit-bucket histogram, by linear interpolation inside the bucket
 * it falls in (as Prometheus' `histogram_quantile`); null for an empty histogram. A quantile in the
 * overflow bucket is the highest bound.
 */
export function histogramQuantile(q: number, buckets: readonly number[], bounds: readonly number[]): number | null {
  const total = buckets.reduce((a, b) => a + b, 0);
  if (total <= 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < buckets.length; i++) {
    const n = buckets[i] ?? 0;
    if (seen + n >= rank && n > 0) {
      if (i >= bounds.length) return bounds[bounds.length - 1] ?? null;
      const lower = i === 0 ? 0 : (bounds[i - 1] ?? 0);
      const upper = bounds[i] ?? lower;
      return lower + (upper - lower) * ((rank - seen) / n);
    }
    seen += n;
  }
  return bounds[bounds.length - 1] ?? null;
}

/** Chart data for one route (or all routes): aligned arrays, one entry per time step. */
export interface RouteSeries {
  route: string;
  /** Step start times, seconds since the Unix epoch (uPlot's x axis). */
  times: number[];
  /** Requests per second in each step. */
  rate: number[];
  /** Share of requests answered 5xx (or with `error.type`), null when there were none. */
  errorRatio: (number | null)[];
  /** Latency percentiles, milliseconds, null when there were no requests. */
  p50: (number | null)[];
  p95: (number | null)[];
  p99: (number | null)[];
  /** Requests in the whole range. */
  requests: number;
  /** Exemplars in the range: time (s), value (ms) and trace. */
  exemplars: { time: number; valueMs: number; traceId: string }[];
}

/** Adds `add` into `into`, element by element. */
function addInto(into: number[], add: readonly number[]): void {
  for (let i = 0; i < add.length; i++) into[i] = (into[i] ?? 0) + (add[i] ?? 0);
}

interface Bin {
  count: number;
  errors: number;
  buckets: number[];
  bounds: number[];
}

function isError(attributes: StoredPoint['attributes']): boolean {
  const status = attributes[ATTR_HTTP_RESPONSE_STATUS_CODE];
  return (typeof status === 'number' && status >= 500) || attributes['error.type'] !== undefined;
}

/**
 * Request rate, error ratio and p50/p95/p99 per `http.route` (and `'(all routes)'` first), in steps
 * of `stepMs` from `fromMs` to `toMs`, from the points of `http.server.request.duration` (seconds or
 * milliseconds, by the points' unit).
 */
export function routeSeries(
  points: readonly StoredPoint[],
  fromMs: number,
  toMs: number,
  stepMs: number,
): RouteSeries[] {
  const steps = Math.max(1, Math.min(2000, Math.ceil((toMs - fromMs) / stepMs)));
  const byRoute = new Map<string, { bins: (Bin | undefined)[]; exemplars: RouteSeries['exemplars'] }>();
  const all = '(all routes)';
  const toMsFactor = (p: StoredPoint) => (p.unit === 'ms' ? 1 : 1000);
  for (const d of deltas(points)) {
    if (d.point.type !== 'histogram' || d.count <= 0 || !d.buckets || !d.point.bounds) continue;
    const step = Math.floor((d.point.timeUs / 1000 - fromMs) / stepMs);
    if (step < 0 || step >= steps) continue;
    const route =
      typeof d.point.attributes[ATTR_HTTP_ROUTE] === 'string'
        ? (d.point.attributes[ATTR_HTTP_ROUTE] as string)
        : '(no route)';
    for (const key of [all, route]) {
      let r = byRoute.get(key);
      if (!r) {
        r = { bins: new Array(steps), exemplars: [] };
        byRoute.set(key, r);
      }
      let bin = r.bins[step];
      if (!bin) {
        bin = { count: 0, errors: 0, buckets: new Array(d.buckets.length).fill(0), bounds: d.point.bounds };
        r.bins[step] = bin;
      }
      bin.count += d.count;
      if (isError(d.point.attributes)) bin.errors += d.count;
      if (bin.buckets.length === d.buckets.length) addInto(bin.buckets, d.buckets);
      for (const e of d.point.exemplars ?? []) {
        if (e.traceId && key === route) {
          const exemplar = { time: e.timeUs / 1e6, valueMs: e.value * toMsFactor(d.point), traceId: e.traceId };
          r.exemplars.push(exemplar);
          byRoute.get(all)?.exemplars.push(exemplar);
        }
      }
    }
  }
  const factor = points[0] ? toMsFactor(points[0]) : 1000;
  const times = Array.from({ length: steps }, (_, i) => (fromMs + i * stepMs) / 1000);
  const out: RouteSeries[] = [];
  for (const [route, { bins, exemplars }] of byRoute) {
    const q = (quantile: number) =>
      Array.from(bins, (b) => {
        const v = b ? histogramQuantile(quantile, b.buckets, b.bounds) : null;
        return v === null ? null : v * factor;
      });
    out.push({
      route,
      times,
      rate: Array.from(bins, (b) => (b ? b.count / (stepMs / 1000) : 0)),
      errorRatio: Array.from(bins, (b) => (b && b.count > 0 ? b.errors / b.count : null)),
      p50: q(0.5),
      p95: q(0.95),
      p99: q(0.99),
      requests: bins.reduce((a, b) => a + (b?.count ?? 0), 0),
      exemplars,
    });
  }
  return out.sort((a, b) => (a.route === all ? -1 : b.route === all ? 1 : a.route.localeCompare(b.route)));
}

/** Chart data for any metric: one line per series (at most `maxSeries`), aligned on time steps. */
export interface MetricChart {
  name: string;
  unit: string | null;
  type: string;
  /** What the values are: `value` (gauge, up-down sum), `rate /s` (monotonic sum), `p95` (histogram). */
  measure: string;
  times: number[];
  series: { label: string; values: (number | null)[] }[];
}

/**
 * Any metric by name: gauges and non-monotonic sums as their last value per step, monotonic sums as
 * a rate per second, histograms as their p95, one line per attribute set.
 */
export function metricChart(
  points: readonly StoredPoint[],
  fromMs: number,
  toMs: number,
  stepMs: number,
  maxSeries = 12,
): MetricChart | null {
  const first = points[0];
  if (!first) return null;
  const steps = Math.max(1, Math.min(2000, Math.ceil((toMs - fromMs) / stepMs)));
  const measure =
    first.type === 'histogram'
      ? 'p95'
      : first.type === 'sum' && first.temporality === 'cumulative'
        ? 'rate /s'
        : 'value';
  const lines = new Map<string, { values: (number | null)[]; hist: (Bin | undefined)[] }>();
  for (const d of deltas(points)) {
    const step = Math.floor((d.point.timeUs / 1000 - fromMs) / stepMs);
    if (step < 0 || step >= steps) continue;
    const label = labelOf(d.point);
    let line = lines.get(label);
    if (!line) {
      if (lines.size >= maxSeries) continue;
      line = { values: new Array(steps).fill(null), hist: new Array(steps) };
      lines.set(label, line);
    }
    if (measure === 'p95') {
      if (!d.buckets || !d.point.bounds) continue;
      let bin = line.hist[step];
      if (!bin) {
        bin = { count: 0, errors: 0, buckets: new Array(d.buckets.length).fill(0), bounds: d.point.bounds };
        line.hist[step] = bin;
      }
      addInto(bin.buckets, d.buckets);
    } else if (measure === 'rate /s') {
      line.values[step] = (line.values[step] ?? 0) + d.value / (stepMs / 1000);
    } else {
      line.values[step] = d.value;
    }
  }
  return {
    name: first.name,
    unit: first.unit,
    type: first.type,
    measure,
    times: Array.from({ length: steps }, (_, i) => (fromMs + i * stepMs) / 1000),
    series: [...lines].map(([label, line]) => ({
      label,
      values:
        measure === 'p95'
          ? Array.from(line.hist, (b) => (b ? histogramQuantile(0.95, b.buckets, b.bounds) : null))
          : line.values,
    })),
  };
}

function labelOf(p: StoredPoint): string {
  const parts = Object.entries(p.attributes).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  return parts.length ? parts.join(', ') : p.name;
}
