/**
 * The OpenMetrics 1.0 text exposition (https://prometheus.io/docs/specs/om/open_metrics_spec/) of
 * collected metrics, with exemplars on histogram buckets. The series are the ones
 * `@opentelemetry/exporter-prometheus` writes in the text format 0.0.4 (same metric and label names,
 * `target_info`, `otel_scope_*` labels), so queries and dashboards work whichever format a scraper asks
 * for; what differs is the format's rules:
 * - a counter's family is named without `_total`, its sample with it (`# TYPE x counter`, `x_total 3`);
 * - no `# UNIT` line: OpenMetrics requires the unit as the name's suffix, and the OpenTelemetry names
 *   are kept as they are (`http_server_request_duration`, unit `s`) so both formats give the same series;
 * - histogram buckets may carry one exemplar: `x_bucket{le="0.1"} 8 # {trace_id="…",span_id="…"} 0.054 1700000000.123`;
 * - the exposition ends with `# EOF`.
 */
import type { Attributes, AttributeValue } from '@opentelemetry/api';
import type { DataPoint, Histogram, MetricData, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { sdkMetrics } from '../otel.js';
import type { Exemplar } from './exemplars.js';

const { DataPointType } = sdkMetrics;

/** Content type of the OpenMetrics 1.0 text format. */
export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

/** The exemplars of a series: OpenTelemetry instrument name and the data point's attributes. */
export type ExemplarSource = (instrument: string, attributes: Attributes) => readonly Exemplar[];

const NONE: ExemplarSource = () => [];

/** `[a-zA-Z_][a-zA-Z0-9_]*`, as the Prometheus exporter sanitizes names. */
export function sanitizeName(name: string): string {
  const clean = name.replace(/[^a-z0-9_]/gi, '_').replace(/_{2,}/g, '_');
  return clean.charCodeAt(0) >= 48 && clean.charCodeAt(0) <= 57 ? `_${clean}` : clean;
}

function escapeLabelValue(value: AttributeValue | undefined): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value ?? '');
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function formatNumber(value: number): string {
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}

/** `{a="1",b="2"}` from the attributes and the extra labels (scope, `le`); empty when there are none. */
function labelSet(attributes: Attributes, extra: readonly (readonly [string, string])[]): string {
  let out = '';
  for (const key of Object.keys(attributes)) {
    const value = attributes[key];
    if (value === undefined) continue;
    out += `${out ? ',' : ''}${sanitizeName(key)}="${escapeLabelValue(value)}"`;
  }
  for (const [key, value] of extra) out += `${out ? ',' : ''}${key}="${escapeLabelValue(value)}"`;
  return out ? `{${out}}` : '';
}

type FamilyType = 'counter' | 'gauge' | 'histogram';

interface Family {
  readonly type: FamilyType;
  help: string;
  readonly members: { metric: MetricData; scope: readonly (readonly [string, string])[] }[];
}

function familyOf(metric: MetricData): { name: string; type: FamilyType } | undefined {
  const name = sanitizeName(metric.descriptor.name);
  if (name === '' || name === '_') return undefined;
  switch (metric.dataPointType) {
    case DataPointType.SUM:
      if (!metric.isMonotonic) return { name, type: 'gauge' };
      return { name: name.endsWith('_total') ? name.slice(0, -'_total'.length) : name, type: 'counter' };
    case DataPointType.GAUGE:
      return { name, type: 'gauge' };
    case DataPointType.HISTOGRAM:
      return { name, type: 'histogram' };
    default:
      return undefined; // exponential histograms: not written by the 0.0.4 exporter either
  }
}

function scopeLabels(scope: { name: string; version?: string; schemaUrl?: string }): [string, string][] {
  const labels: [string, string][] = [['otel_scope_name', scope.name]];
  if (scope.schemaUrl) labels.push(['otel_scope_schema_url', scope.schemaUrl]);
  if (scope.version) labels.push(['otel_scope_version', scope.version]);
  return labels;
}

/** Metric families by name, in first-seen order; a family whose type conflicts with an earlier one is dropped. */
function families(resourceMetrics: ResourceMetrics): Map<string, Family> {
  const out = new Map<string, Family>();
  const conflicting = new Set<string>();
  for (const { scope, metrics } of resourceMetrics.scopeMetrics) {
    const scoped = scopeLabels(scope);
    for (const metric of metrics) {
      const kind = familyOf(metric);
      if (!kind || conflicting.has(kind.name) || kind.name === 'target_info') continue;
      const family = out.get(kind.name);
      if (family === undefined) {
        out.set(kind.name, {
          type: kind.type,
          help: metric.descriptor.description,
          members: [{ metric, scope: scoped }],
        });
      } else if (family.type !== kind.type) {
        out.delete(kind.name);
        conflicting.add(kind.name);
      } else {
        if (!family.help) family.help = metric.descriptor.description;
        family.members.push({ metric, scope: scoped });
      }
    }
  }
  return out;
}

function exemplarSuffix(exemplar: Exemplar | undefined): string {
  if (exemplar === undefined) return '';
  const seconds = (exemplar.timeMs / 1000).toFixed(3);
  return ` # {trace_id="${exemplar.traceId}",span_id="${exemplar.spanId}"} ${formatNumber(exemplar.value)} ${seconds}`;
}

/** The most recent exemplar with a value in (lower, upper]. */
function exemplarIn(exemplars: readonly Exemplar[], lower: number, upper: number): Exemplar | undefined {
  let best: Exemplar | undefined;
  for (const exemplar of exemplars) {
    if (exemplar.value > lower && exemplar.value <= upper && (!best || exemplar.timeMs > best.timeMs)) best = exemplar;
  }
  return best;
}

function histogramLines(
  name: string,
  point: DataPoint<Histogram>,
  scope: readonly (readonly [string, string])[],
  exemplars: readonly Exemplar[],
): string {
  const { boundaries, counts } = point.value.buckets;
  let out = '';
  let cumulative = 0;
  let lower = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < counts.length; i++) {
    cumulative += counts[i] as number;
    const upper = i < boundaries.length ? (boundaries[i] as number) : Number.POSITIVE_INFINITY;
    const le = upper === Number.POSITIVE_INFINITY ? '+Inf' : String(upper);
    const exemplar = exemplars.length > 0 ? exemplarIn(exemplars, lower, upper) : undefined;
    out += `${name}_bucket${labelSet(point.attributes, [...scope, ['le', le]])} ${cumulative}${exemplarSuffix(exemplar)}\n`;
    lower = upper;
    if (upper === Number.POSITIVE_INFINITY) break;
  }
  const labels = labelSet(point.attributes, scope);
  out += `${name}_count${labels} ${point.value.count}\n`;
  if (point.value.sum !== undefined) out += `${name}_sum${labels} ${formatNumber(point.value.sum)}\n`;
  return out;
}

function familyLines(name: string, family: Family, exemplarsOf: ExemplarSource): string {
  let out = `# TYPE ${name} ${family.type}\n`;
  if (family.help)
    out += `# HELP ${name} ${family.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')}\n`;
  for (const { metric, scope } of family.members) {
    if (metric.dataPointType === DataPointType.HISTOGRAM) {
      for (const point of metric.dataPoints) {
        out += histogramLines(name, point, scope, exemplarsOf(metric.descriptor.name, point.attributes));
      }
    } else {
      const sample = family.type === 'counter' ? `${name}_total` : name;
      for (const point of metric.dataPoints as DataPoint<number>[]) {
        out += `${sample}${labelSet(point.attributes, scope)} ${formatNumber(point.value)}\n`;
      }
    }
  }
  return out;
}

/**
 * Render collected metrics as OpenMetrics 1.0 text.
 * @param exemplarsOf the exemplars of a histogram series (none when omitted)
 * @returns the exposition, ending with `# EOF\n`
 */
export function serializeOpenMetrics(resourceMetrics: ResourceMetrics, exemplarsOf: ExemplarSource = NONE): string {
  let out = '# TYPE target_info gauge\n# HELP target_info Target metadata\n';
  out += `target_info${labelSet(resourceMetrics.resource.attributes, [])} 1\n`;
  for (const [name, family] of families(resourceMetrics)) out += familyLines(name, family, exemplarsOf);
  return `${out}# EOF\n`;
}

/**
 * Whether a scrape's `Accept` header asks for OpenMetrics text (any version Prometheus offers: 1.0.0,
 * 0.0.1 or none) at least as much as for the text format 0.0.4. Each format's weight (`q`) is the one
 * of the most specific range that matches it (`text/plain` before `text/*` before `*∕*`). A missing
 * header or one without an OpenMetrics range answers false: the 0.0.4 text is the default.
 */
export function prefersOpenMetrics(accept: string | undefined): boolean {
  if (!accept?.includes('openmetrics')) return false;
  let openMetrics = 0;
  const text = [-1, -1, -1]; // q of text/plain, text/*, */* (-1: not listed)
  for (const range of accept.split(',')) {
    const [type = '', ...params] = range.split(';').map((part) => part.trim().toLowerCase());
    let q = 1;
    let version: string | undefined;
    for (const param of params) {
      if (param.startsWith('q=')) q = Number(param.slice(2)) || 0;
      else if (param.startsWith('version=')) version = param.slice('version='.length);
    }
    if (type === 'application/openmetrics-text') {
      if (version === undefined || version === '1.0.0' || version === '0.0.1') openMetrics = Math.max(openMetrics, q);
    } else {
      const rank = ['text/plain', 'text/*', '*/*'].indexOf(type);
      if (rank !== -1) text[rank] = Math.max(text[rank] as number, q);
    }
  }
  const textQ = text.find((q) => q !== -1) ?? 0;
  return openMetrics > 0 && openMetrics >= textQ;
}
