/**
 * Helpers for the tests: run the `obs` entry point in-process, run the Debian tools (promtool, amtool),
 * temp directories, and series as the OpenTelemetry Prometheus exporter writes them.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { METRICS, type MetricDefinition } from '@obs/core';
import { main } from '../src/main.js';

/** What a run printed and its exit status. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `obs <argv>` in this process. */
export function obs(...argv: string[]): RunResult {
  let stdout = '';
  let stderr = '';
  const code = main(argv, {
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
  });
  return { code, stdout, stderr };
}

/** Runs a program to completion (no shell). */
export function run(
  program: string,
  args: readonly string[],
  options: { cwd?: string; input?: string } = {},
): RunResult {
  const res = spawnSync(program, args, {
    cwd: options.cwd,
    input: options.input,
    encoding: 'utf8',
    timeout: 240_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (res.error) throw res.error;
  return { code: res.status ?? -1, stdout: res.stdout, stderr: res.stderr };
}

/** A temp directory removed by the returned function. */
export function tempDir(prefix = 'obs-cli-'): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Labels the OpenTelemetry Prometheus exporter puts on the HTTP server histogram. */
export const HTTP_SCOPE = {
  otel_scope_name: '@opentelemetry/instrumentation-http',
  otel_scope_version: '0.301.0',
  url_scheme: 'http',
  network_protocol_version: '1.1',
} as const;

/** `name{a="1",b="2"}`. */
export function seriesText(name: string, labels: Record<string, string>): string {
  const body = Object.entries(labels)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(',');
  return `${name}{${body}}`;
}

/**
 * A cumulative counter sampled once per step, as a promtool `values` string: `perStep(i)` is the
 * increase between sample i-1 and sample i (i from 1).
 */
export function cumulative(steps: number, perStep: (i: number) => number): string {
  const out = [0];
  for (let i = 1; i <= steps; i++) out.push((out[i - 1] as number) + perStep(i));
  return out.join(' ');
}

/** A histogram's exposition series (`_bucket` per bound and `+Inf`, `_count`, `_sum`) for promtool. */
export function histogramSeries(
  def: MetricDefinition,
  labels: Record<string, string>,
  steps: number,
  perStep: (i: number) => number,
  duration: (i: number) => number,
): { series: string; values: string }[] {
  const bounds = [...(def.buckets ?? []).map(String), '+Inf'];
  const out = bounds.map((le) => ({
    series: seriesText(`${def.prometheus}_bucket`, { ...labels, le }),
    values: cumulative(steps, (i) => (le === '+Inf' || duration(i) <= Number(le) ? perStep(i) : 0)),
  }));
  out.push({ series: seriesText(`${def.prometheus}_count`, labels), values: cumulative(steps, perStep) });
  out.push({
    series: seriesText(`${def.prometheus}_sum`, labels),
    values: cumulative(steps, (i) => perStep(i) * duration(i)),
  });
  return out;
}

/** The HTTP request-duration histogram of one route and status, as the exporter writes it. */
export function httpHistogram(options: {
  job: string;
  instance?: string;
  method?: string;
  route?: string;
  status: number;
  steps: number;
  /** Requests per step, by step. */
  perStep: (i: number) => number;
  /** Duration of every request in seconds, by step (default 0.003). */
  duration?: (i: number) => number;
  extra?: Record<string, string>;
}): { series: string; values: string }[] {
  const labels: Record<string, string> = {
    job: options.job,
    instance: options.instance ?? '10.0.0.1:3000',
    ...options.extra,
    http_request_method: options.method ?? 'GET',
    ...(options.route !== undefined ? { http_route: options.route } : {}),
    http_response_status_code: String(options.status),
    ...(options.status >= 500 ? { error_type: String(options.status) } : {}),
    ...HTTP_SCOPE,
  };
  return histogramSeries(
    METRICS.httpServerRequestDuration,
    labels,
    options.steps,
    options.perStep,
    options.duration ?? (() => 0.003),
  );
}

/** Go's `%.4g` for the magnitudes the annotations print (what humanizePercentage and humanizeDuration use). */
export function g4(v: number): string {
  return String(Number(v.toPrecision(4)));
}

/**
 * Renders the subset of Go templates the generated annotations use: `{{ $labels.x }}` and
 * `{{ $value | humanize... }}` (replaced by `value`, the text Prometheus is expected to print).
 */
export function renderAnnotation(template: string, labels: Record<string, string>, value: string): string {
  return template
    .replace(/\{\{ \$labels\.([a-zA-Z_][a-zA-Z0-9_]*) \}\}/g, (_, name: string) => labels[name] ?? '')
    .replace(/\{\{ \$value \| humanize[a-zA-Z]* \}\}/g, value);
}

/** Throws a clear error when a Debian tool the proofs need is missing. */
export function requireTool(name: string): void {
  if (spawnSync('sh', ['-c', `command -v ${name}`]).status !== 0) {
    throw new Error(`${name} is not on PATH: run .ci/services.sh (installs prometheus and prometheus-alertmanager)`);
  }
}

/** Substitutes Grafana's variables the way Grafana would for one job (used here and in the e2e test). */
export function substitute(expr: string, job: string, rateInterval = '1m'): string {
  return expr.replaceAll('$__rate_interval', rateInterval).replaceAll('$job', job).replaceAll('$instance', '.+');
}
