/**
 * Exemplars for histograms: for each series and each bucket, the most recent sampled measurement
 * (value, time, `trace_id`, `span_id`), written into the OpenMetrics exposition next to the bucket
 * (./openmetrics.ts) so a latency spike in Grafana links to a trace. The OpenTelemetry JS metrics SDK
 * keeps no exemplars, so the histograms named in {@link EXEMPLAR_HISTOGRAMS} are wrapped when they are
 * created (see {@link exemplarMeterProvider}).
 *
 * Which measurements become exemplars follows `OTEL_METRICS_EXEMPLAR_FILTER` (OpenTelemetry metrics
 * SDK specification, "ExemplarFilter"): `trace_based` (default) keeps measurements made in the context
 * of a sampled span, `always_on` any with a valid span context (an unsampled trace id links to nothing,
 * so use it only when every trace is kept), `always_off` none (the histograms are then not wrapped).
 *
 * Cost per record on the request path: one `WeakMap` lookup by the attribute object when it is frozen
 * (the server metric's attribute objects are, one per series), a bucket search over the boundaries and
 * four array writes; nothing allocated. Attribute objects that are not frozen (built per record, like
 * the database metric's) are found by a key built from their sorted entries instead.
 * Bounded: at most {@link MAX_EXEMPLAR_SERIES} series per histogram, one exemplar per bucket.
 */
import type { Attributes, Context, Histogram, Meter, MeterProvider, MetricOptions } from '@opentelemetry/api';
import { opentelemetry } from '../otel.js';

const { context: contextApi, trace, TraceFlags } = opentelemetry;

/** `OTEL_METRICS_EXEMPLAR_FILTER` values. */
export type ExemplarFilter = 'trace_based' | 'always_on' | 'always_off';

/** Histograms that carry exemplars: the RED durations of served requests, outgoing calls and database operations. */
export const EXEMPLAR_HISTOGRAMS: ReadonlySet<string> = new Set([
  'http.server.request.duration',
  'http.client.request.duration',
  'db.client.operation.duration',
]);

/** Most series per histogram that keep exemplars; measurements of further series keep none. */
export const MAX_EXEMPLAR_SERIES = 2000;

/** The metrics SDK's default explicit bucket boundaries, for histograms created without advice. */
const SDK_DEFAULT_BOUNDARIES = [0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000];

/** One exemplar as rendered. */
export interface Exemplar {
  readonly value: number;
  /** Milliseconds since the epoch. */
  readonly timeMs: number;
  readonly traceId: string;
  readonly spanId: string;
}

/** The exemplars of one series: slot i holds the latest measurement in (boundaries[i-1], boundaries[i]]. */
class SeriesExemplars {
  readonly values: Float64Array;
  /** 0 marks an empty slot. */
  readonly timesMs: Float64Array;
  readonly traceIds: string[];
  readonly spanIds: string[];

  constructor(slots: number) {
    this.values = new Float64Array(slots);
    this.timesMs = new Float64Array(slots);
    this.traceIds = new Array<string>(slots).fill('');
    this.spanIds = new Array<string>(slots).fill('');
  }

  /** The exemplars in slot order, empty slots left out. */
  list(): Exemplar[] {
    const out: Exemplar[] = [];
    for (let i = 0; i < this.values.length; i++) {
      const timeMs = this.timesMs[i] as number;
      if (timeMs === 0) continue;
      out.push({
        value: this.values[i] as number,
        timeMs,
        traceId: this.traceIds[i] as string,
        spanId: this.spanIds[i] as string,
      });
    }
    return out;
  }
}

/** The key of an attribute set, independent of the order its keys were written in. */
export function attributesKey(attributes: Attributes): string {
  const keys = Object.keys(attributes).sort();
  let key = '';
  for (const k of keys) {
    const value = attributes[k];
    if (value !== undefined) key += `${k}\u0000${typeof value === 'string' ? value : JSON.stringify(value)}\u0001`;
  }
  return key;
}

/** The exemplar store of one histogram. */
export class HistogramExemplars {
  readonly #boundaries: readonly number[];
  readonly #sampledOnly: boolean;
  /** Frozen attribute objects (reused for every record of their series) to their series. */
  readonly #byObject = new WeakMap<Attributes, SeriesExemplars>();
  readonly #byKey = new Map<string, SeriesExemplars>();

  /**
   * @param boundaries the histogram's explicit bucket boundaries (ascending)
   * @param filter `trace_based` or `always_on`
   */
  constructor(boundaries: readonly number[], filter: Exclude<ExemplarFilter, 'always_off'>) {
    this.#boundaries = boundaries;
    this.#sampledOnly = filter === 'trace_based';
  }

  /** Keep the measurement as its bucket's exemplar when the context's span passes the filter. */
  offer(value: number, attributes: Attributes, ctx: Context): void {
    const span = trace.getSpanContext(ctx);
    if (span === undefined) return;
    if (this.#sampledOnly ? (span.traceFlags & TraceFlags.SAMPLED) === 0 : !trace.isSpanContextValid(span)) return;
    const series = this.#series(attributes);
    if (series === undefined) return;
    const boundaries = this.#boundaries;
    let slot = 0;
    while (slot < boundaries.length && value > (boundaries[slot] as number)) slot++;
    series.values[slot] = value;
    series.timesMs[slot] = Date.now();
    series.traceIds[slot] = span.traceId;
    series.spanIds[slot] = span.spanId;
  }

  #series(attributes: Attributes): SeriesExemplars | undefined {
    const cached = this.#byObject.get(attributes);
    if (cached !== undefined) return cached;
    const key = attributesKey(attributes);
    let series = this.#byKey.get(key);
    if (series === undefined) {
      if (this.#byKey.size >= MAX_EXEMPLAR_SERIES) return undefined;
      series = new SeriesExemplars(this.#boundaries.length + 1);
      this.#byKey.set(key, series);
    }
    // a frozen object is reused for every record of its series (the server metric's): find it by identity next time
    if (Object.isFrozen(attributes)) this.#byObject.set(attributes, series);
    return series;
  }

  /** The exemplars kept for a series (render time: the key is built from the data point's attributes). */
  exemplars(attributes: Attributes): Exemplar[] {
    return this.#byKey.get(attributesKey(attributes))?.list() ?? [];
  }
}

/** A histogram that offers each measurement to its exemplar store after recording it. */
class ExemplarHistogram implements Histogram {
  readonly #inner: Histogram;
  readonly #exemplars: HistogramExemplars;

  constructor(inner: Histogram, exemplars: HistogramExemplars) {
    this.#inner = inner;
    this.#exemplars = exemplars;
  }

  record(value: number, attributes: Attributes = {}, ctx: Context = contextApi.active()): void {
    this.#inner.record(value, attributes, ctx);
    this.#exemplars.offer(value, attributes, ctx);
  }
}

/** The exemplar stores of a meter provider, by instrument name. */
export class ExemplarRegistry {
  readonly #filter: Exclude<ExemplarFilter, 'always_off'>;
  readonly #byName = new Map<string, HistogramExemplars>();

  constructor(filter: Exclude<ExemplarFilter, 'always_off'>) {
    this.#filter = filter;
  }

  /** The store of an instrument (one per name, shared when two scopes create the same histogram). */
  store(name: string, boundaries: readonly number[] | undefined): HistogramExemplars {
    let store = this.#byName.get(name);
    if (store === undefined) {
      store = new HistogramExemplars(boundaries ?? SDK_DEFAULT_BOUNDARIES, this.#filter);
      this.#byName.set(name, store);
    }
    return store;
  }

  /** The exemplars of one series of an instrument (by its OpenTelemetry name). */
  exemplars(name: string, attributes: Attributes): Exemplar[] {
    return this.#byName.get(name)?.exemplars(attributes) ?? [];
  }
}

function wrapMeter(meter: Meter, registry: ExemplarRegistry): Meter {
  const createHistogram = (name: string, options?: MetricOptions): Histogram => {
    const histogram = meter.createHistogram(name, options);
    if (!EXEMPLAR_HISTOGRAMS.has(name)) return histogram;
    return new ExemplarHistogram(histogram, registry.store(name, options?.advice?.explicitBucketBoundaries));
  };
  return new Proxy(meter, {
    get(target, property) {
      if (property === 'createHistogram') return createHistogram;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/**
 * Make the histograms in {@link EXEMPLAR_HISTOGRAMS} that `provider` hands out keep exemplars in
 * `registry`: its `getMeter` is replaced by one returning meters whose `createHistogram` wraps them.
 * Everything else is the provider's own.
 */
export function exemplarMeterProvider<T extends MeterProvider>(provider: T, registry: ExemplarRegistry): T {
  const getMeter = provider.getMeter.bind(provider);
  provider.getMeter = (...args: Parameters<MeterProvider['getMeter']>) => wrapMeter(getMeter(...args), registry);
  return provider;
}
