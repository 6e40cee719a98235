/**
 * The instruments of the data layer, created from their {@link METRICS} definitions on first use
 * (the global meter provider is installed by then: the API hands out no-op meters before it is).
 */
import type { Attributes, Counter, Histogram, Meter } from '@opentelemetry/api';
import { METRICS, type MetricDefinition } from '../metrics/names.js';
import { opentelemetry } from '../otel.js';

const { metrics } = opentelemetry;

/** Meter name (instrumentation scope) of everything @obs records about databases, caches and queues. */
export const DATA_METER = '@obs/data';

let meter: Meter | undefined;
let provider: unknown;

/** The data meter, re-created if the global meter provider changed (tests install their own). */
export function dataMeter(): Meter {
  const current = metrics.getMeterProvider();
  if (!meter || provider !== current) {
    meter = current.getMeter(DATA_METER);
    provider = current;
    created.clear();
  }
  return meter;
}

const created = new Map<string, unknown>();

function make<T>(def: MetricDefinition, build: (m: Meter) => T): T {
  const m = dataMeter();
  let instrument = created.get(def.name) as T | undefined;
  if (!instrument) {
    instrument = build(m);
    created.set(def.name, instrument);
  }
  return instrument;
}

/** A histogram for a definition (with its bucket advice). */
export function histogram(def: MetricDefinition): Histogram<Attributes> {
  return make(def, (m) =>
    m.createHistogram(def.name, {
      description: def.description,
      unit: def.unit,
      ...(def.buckets ? { advice: { explicitBucketBoundaries: [...def.buckets] } } : {}),
    }),
  );
}

/** A counter for a definition. */
export function counter(def: MetricDefinition): Counter<Attributes> {
  return make(def, (m) => m.createCounter(def.name, { description: def.description, unit: def.unit }));
}

/**
 * Register observable instruments once per meter provider: `setup` runs again when the global
 * provider changed since the last call (a pool registered before @obs started is then still seen).
 */
export function observeOnce(key: string, setup: (m: Meter) => void): void {
  const m = dataMeter();
  if (created.has(key)) return;
  created.set(key, true);
  setup(m);
}

export { METRICS };
