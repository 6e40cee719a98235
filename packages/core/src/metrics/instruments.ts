/**
 * Typed helpers for application metrics. Instruments are created once (at start-up, not per
 * request) and recorded with attributes whose names the type system checks.
 *
 * ```ts
 * const orders = obs.metrics.counter('shop.orders.created', { unit: '{order}', labels: ['payment.method'] });
 * orders.add(1, { 'payment.method': 'card' });
 * ```
 * Names follow OpenTelemetry instrument naming (`^[A-Za-z][A-Za-z0-9_./-]{0,254}$`); in Prometheus
 * dots become underscores and counters gain `_total`. Keep label values bounded (no ids, no paths):
 * each metric is capped at the SDK's cardinality limit (2000 series) and overflow is folded into
 * one `otel.metric.overflow` series.
 */
import { warn } from '../diag.js';
import { opentelemetry } from '../otel.js';

const { metrics } = opentelemetry;

/** Attribute values allowed on metrics. */
export type LabelValue = string | number | boolean;
/** Attributes keyed by the declared label names. */
export type Labels<L extends string> = Partial<Record<L, LabelValue>>;

/** Common instrument options. */
export interface InstrumentOptions<L extends string> {
  description?: string;
  /** UCUM unit: `s` for seconds, `By` for bytes, `1` for ratios, `{thing}` for counts. */
  unit?: string;
  /** Label (attribute) names the instrument is recorded with. */
  labels?: readonly L[];
}

/** Histogram options. */
export interface HistogramOptions<L extends string> extends InstrumentOptions<L> {
  /** Explicit bucket boundaries in the instrument's unit (defaults to the SDK's). */
  buckets?: readonly number[];
}

export interface Counter<L extends string> {
  /** Add a non-negative amount. */
  add(value: number, labels?: Labels<L>): void;
}
export interface UpDownCounter<L extends string> {
  add(value: number, labels?: Labels<L>): void;
}
export interface Histogram<L extends string> {
  record(value: number, labels?: Labels<L>): void;
}
export interface Gauge<L extends string> {
  /** Set the current value. */
  set(value: number, labels?: Labels<L>): void;
}

const NAME = /^[A-Za-z][A-Za-z0-9_./-]{0,254}$/;
const METER = '@obs/app';

function valid(name: string): boolean {
  if (NAME.test(name)) return true;
  warn(`metric name ${JSON.stringify(name)} is not a valid OpenTelemetry instrument name; not recording it`);
  return false;
}

function meter() {
  return metrics.getMeter(METER);
}

/** The application-metrics facade exposed as `obs.metrics`. */
export const instruments = {
  counter<L extends string = string>(name: string, opts: InstrumentOptions<L> = {}): Counter<L> {
    if (!valid(name)) return { add() {} };
    const c = meter().createCounter(name, { description: opts.description, unit: opts.unit });
    return { add: (value, labels) => c.add(value, labels) };
  },
  upDownCounter<L extends string = string>(name: string, opts: InstrumentOptions<L> = {}): UpDownCounter<L> {
    if (!valid(name)) return { add() {} };
    const c = meter().createUpDownCounter(name, { description: opts.description, unit: opts.unit });
    return { add: (value, labels) => c.add(value, labels) };
  },
  histogram<L extends string = string>(name: string, opts: HistogramOptions<L> = {}): Histogram<L> {
    if (!valid(name)) return { record() {} };
    const h = meter().createHistogram(name, {
      description: opts.description,
      unit: opts.unit,
      ...(opts.buckets ? { advice: { explicitBucketBoundaries: [...opts.buckets] } } : {}),
    });
    return { record: (value, labels) => h.record(value, labels) };
  },
  gauge<L extends string = string>(name: string, opts: InstrumentOptions<L> = {}): Gauge<L> {
    if (!valid(name)) return { set() {} };
    const g = meter().createGauge(name, { description: opts.description, unit: opts.unit });
    return { set: (value, labels) => g.record(value, labels) };
  },
};
