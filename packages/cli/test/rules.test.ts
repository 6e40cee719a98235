/**
 * Proof for `obs alerts` with the real promtool (Debian 2.42): the generated files pass
 * `promtool check rules --lint=all --lint-fatal`, and `promtool test rules` shows that every alert fires
 * on bad series, stays quiet with no traffic and with low traffic (or healthy series), and resolves
 * when the series recover. Input series carry the labels the OpenTelemetry exporter writes.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { METRICS } from '@obs/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { ALERT_NAMES, type AlertingRule, type RuleFile } from '../src/commands/alerts.js';
import {
  cumulative,
  g4,
  histogramSeries,
  httpHistogram,
  obs,
  renderAnnotation,
  requireTool,
  run,
  seriesText,
  tempDir,
} from './helpers.js';

const JOB = 'shop';
const INSTANCE_A = '10.0.0.1:3000';
const INSTANCE_B = '10.0.0.2:3000';
const RUNTIME_SCOPE = { otel_scope_name: '@opentelemetry/instrumentation-runtime-node', otel_scope_version: '0.37.0' };
const HOST_SCOPE = { otel_scope_name: '@opentelemetry/instrumentation-host-metrics', otel_scope_version: '0.7.0' };
const OBS_SCOPE = { otel_scope_name: '@obs/core', otel_scope_version: '0.1.0' };

type Input = { series: string; values: string }[];
interface Expect {
  alert: string;
  severity: string;
  labels: Record<string, string>;
  /** What Prometheus prints for `$value` through the annotation's humanize function. */
  value: string;
}
interface Check {
  at: string;
  alert: string;
  firing: Expect[];
}
interface Case {
  name: string;
  input: Input;
  checks: Check[];
}

let tmp: ReturnType<typeof tempDir>;
let rulesText: string;
let rules: RuleFile;
const firedInTests = new Set<string>();

function alertRule(name: string, severity: string, file: RuleFile = rules): AlertingRule {
  const found = file.groups
    .flatMap((g) => g.rules)
    .find((r): r is AlertingRule => 'alert' in r && r.alert === name && r.labels.severity === severity);
  if (!found) throw new Error(`no ${severity} rule ${name}`);
  return found;
}

function expected(e: Expect, file: RuleFile) {
  const rule = alertRule(e.alert, e.severity, file);
  const labels = { ...e.labels, ...rule.labels };
  const annotations: Record<string, string> = {};
  for (const [k, v] of Object.entries(rule.annotations)) annotations[k] = renderAnnotation(v, labels, e.value);
  return { exp_labels: labels, exp_annotations: annotations };
}

/** Writes the rules and a promtool test file and runs `promtool test rules`; fails with its output. */
function promtoolTest(name: string, cases: Case[], file: RuleFile = rules, text: string = rulesText): void {
  const rulesPath = join(tmp.dir, `${name}.rules.yml`);
  writeFileSync(rulesPath, text);
  const tests = cases.map((c) => ({
    name: c.name,
    interval: '1m',
    input_series: c.input,
    alert_rule_test: c.checks.map((check) => ({
      eval_time: check.at,
      alertname: check.alert,
      exp_alerts: check.firing.map((e) => {
        firedInTests.add(`${e.alert}/${e.severity}`);
        return expected(e, file);
      }),
    })),
  }));
  const testPath = join(tmp.dir, `${name}.test.yml`);
  // promtool evaluates groups in random order unless told; recording rules first, as they are meant.
  const order = file.groups.map((g) => g.name);
  writeFileSync(
    testPath,
    stringify({ rule_files: [rulesPath], evaluation_interval: '1m', group_eval_order: order, tests }, { lineWidth: 0 }),
  );
  const res = run('promtool', ['test', 'rules', testPath]);
  expect(res.code, `${res.stdout}\n${res.stderr}`).toBe(0);
  expect(res.stdout).toContain('SUCCESS');
}

const job = { job: JOB };
const steady = (n: number) => () => n;
const until =
  (last: number, n: number, after = 0) =>
  (i: number) =>
    i <= last ? n : after;

beforeAll(() => {
  requireTool('promtool');
  tmp = tempDir();
  const res = obs('alerts', '--job', JOB);
  expect(res.code, res.stderr).toBe(0);
  rulesText = res.stdout;
  rules = parse(rulesText) as RuleFile;
});

afterAll(() => tmp?.remove());

describe('promtool check rules', () => {
  const variants: [string, string[]][] = [
    ['defaults', ['--job', JOB]],
    [
      'service and selectors',
      ['--job', JOB, '--service', 'shop-api', '--selector', 'namespace=prod', '--selector', 'cluster=eu-1'],
    ],
    [
      'custom thresholds and SLOs',
      [
        '--job',
        JOB,
        '--error-ratio',
        '2%',
        '--error-ratio-window',
        '10m',
        '--latency-p95',
        '1s',
        '--availability-objective',
        '99.5%',
        '--latency-objective',
        '0.95',
        '--latency-slo-threshold',
        '1s',
        '--slo-period',
        '28d',
        '--memory-limit',
        '1Gi',
      ],
    ],
  ];
  it.each(variants)('passes with --lint=all --lint-fatal: %s', (name, args) => {
    const res = obs('alerts', ...args, '-o', join(tmp.dir, `${name}.yml`));
    expect(res.code, res.stderr).toBe(0);
    const check = run('promtool', ['check', 'rules', '--lint=all', '--lint-fatal', join(tmp.dir, `${name}.yml`)]);
    expect(check.code, `${check.stdout}\n${check.stderr}`).toBe(0);
    expect(check.stdout).toMatch(/SUCCESS: \d+ rules found/);
  });
});

// promtool evaluates hundreds of steps per case: the availability burn-rate case takes 13 s on the
// idle 2-core machine and took 78 s with two test runs at once. A hang is still caught.
describe('promtool test rules', { timeout: 300_000 }, () => {
  it('ObsHighErrorRatio: fires on a high 5xx ratio, not at zero or low traffic, resolves', () => {
    const steps = 40;
    const ok = (perStep: (i: number) => number) =>
      httpHistogram({ job: JOB, route: '/api/v1/users/:id', status: 200, steps, perStep });
    const boom = (perStep: (i: number) => number) =>
      httpHistogram({ job: JOB, route: '/api/v1/boom', status: 500, steps, perStep });
    const alert = ALERT_NAMES.highErrorRatio;
    promtoolTest('error-ratio', [
      {
        name: '50% of 2 req/s fail, then the errors stop at 20m',
        input: [...ok(steady(60)), ...boom(until(20, 60))],
        checks: [
          { at: '3m', alert, firing: [] }, // pending: `for` has not passed
          { at: '15m', alert, firing: [{ alert, severity: 'critical', labels: job, value: '50%' }] },
          { at: '30m', alert, firing: [] },
        ],
      },
      { name: 'no traffic', input: [...ok(steady(0)), ...boom(steady(0))], checks: [{ at: '15m', alert, firing: [] }] },
      {
        name: 'low traffic (0.05 req/s), every request fails',
        input: boom(steady(3)),
        checks: [{ at: '15m', alert, firing: [] }],
      },
      { name: 'healthy traffic', input: ok(steady(600)), checks: [{ at: '15m', alert, firing: [] }] },
    ]);
  });

  it('ObsHighLatencyP95: fires on a slow route from bucket rates, not at zero or low traffic, resolves', () => {
    const steps = 45;
    const slow = (perStep: (i: number) => number, duration: (i: number) => number) =>
      httpHistogram({ job: JOB, route: '/api/v1/slow', status: 200, steps, perStep, duration });
    const alert = ALERT_NAMES.highLatency;
    const labels = { job: JOB, http_request_method: 'GET', http_route: '/api/v1/slow' };
    promtoolTest('latency', [
      {
        name: 'every request takes 2 s (bucket 1..2.5), fast again from 25m',
        input: slow(steady(60), (i) => (i <= 25 ? 2 : 0.003)),
        // p95 interpolated in the (1, 2.5] bucket: 1 + 1.5 * 0.95 = 2.425 s
        checks: [
          { at: '20m', alert, firing: [{ alert, severity: 'warning', labels, value: '2.425s' }] },
          { at: '40m', alert, firing: [] },
        ],
      },
      { name: 'no traffic', input: slow(steady(0), () => 2), checks: [{ at: '20m', alert, firing: [] }] },
      {
        name: 'low traffic (0.05 req/s), all slow',
        input: slow(steady(3), () => 2),
        checks: [{ at: '20m', alert, firing: [] }],
      },
      {
        name: 'unmatched requests (no route) are not a route',
        input: httpHistogram({ job: JOB, status: 404, steps, perStep: steady(60), duration: () => 2 }),
        checks: [{ at: '20m', alert, firing: [] }],
      },
    ]);
  });

  it('ObsDependencyDown: fires when a readiness check fails everywhere (critical or not), resolves', () => {
    const status = (instance: string, critical: string, values: string) => ({
      series: seriesText(METRICS.healthCheckStatus.prometheus, {
        ...job,
        instance,
        health_check_name: 'postgres',
        health_check_kind: 'readiness',
        health_check_critical: critical,
        ...OBS_SCOPE,
      }),
      values,
    });
    const alert = ALERT_NAMES.dependencyDown;
    const labels = { job: JOB, health_check_name: 'postgres' };
    const failing = '1x5 0x10 1x15';
    promtoolTest('dependency', [
      {
        name: 'critical check fails on every instance from 6m to 15m',
        input: [status(INSTANCE_A, 'true', failing), status(INSTANCE_B, 'true', failing)],
        checks: [
          { at: '7m', alert, firing: [] },
          { at: '12m', alert, firing: [{ alert, severity: 'critical', labels, value: '0' }] },
          { at: '20m', alert, firing: [] },
        ],
      },
      {
        name: 'non-critical check fails everywhere',
        input: [status(INSTANCE_A, 'false', failing), status(INSTANCE_B, 'false', failing)],
        checks: [{ at: '12m', alert, firing: [{ alert, severity: 'warning', labels, value: '0' }] }],
      },
      {
        name: 'one instance cannot reach it, the other can',
        input: [status(INSTANCE_A, 'true', '0x30'), status(INSTANCE_B, 'true', '1x30')],
        checks: [{ at: '12m', alert, firing: [] }],
      },
      {
        name: 'healthy',
        input: [status(INSTANCE_A, 'true', '1x30'), status(INSTANCE_B, 'false', '1x30')],
        checks: [{ at: '12m', alert, firing: [] }],
      },
    ]);
  });

  it('ObsHealthCheckSlow: fires when checks approach their timeout, resolves', () => {
    const steps = 45;
    const runs = (perStep: (i: number) => number, duration: (i: number) => number) =>
      histogramSeries(
        METRICS.healthCheckDuration,
        { ...job, instance: INSTANCE_A, health_check_name: 'postgres', health_check_kind: 'readiness', ...OBS_SCOPE },
        steps,
        perStep,
        duration,
      );
    const alert = ALERT_NAMES.healthCheckSlow;
    promtoolTest('health-slow', [
      {
        name: 'checks take 0.9 s (bucket 0.5..1) until 20m',
        input: runs(steady(12), (i) => (i <= 20 ? 0.9 : 0.002)),
        // p95: 0.5 + 0.5 * 0.95 = 0.975 s
        checks: [
          {
            at: '18m',
            alert,
            firing: [{ alert, severity: 'warning', labels: { ...job, health_check_name: 'postgres' }, value: '975ms' }],
          },
          { at: '35m', alert, firing: [] },
        ],
      },
      { name: 'fast checks', input: runs(steady(12), () => 0.002), checks: [{ at: '18m', alert, firing: [] }] },
      { name: 'no check runs', input: runs(steady(0), () => 0.9), checks: [{ at: '18m', alert, firing: [] }] },
    ]);
  });

  it('ObsTargetDown, ObsAllTargetsDown, ObsTargetAbsent: a failing, a dead and a vanished job, each resolving', () => {
    const up = (instance: string, values: string) => ({ series: seriesText('up', { ...job, instance }), values });
    const down = ALERT_NAMES.targetDown;
    const all = ALERT_NAMES.allTargetsDown;
    const absent = ALERT_NAMES.targetAbsent;
    promtoolTest('targets', [
      {
        name: 'one of two targets down from 6m to 20m',
        input: [up(INSTANCE_A, '1x5 0x15 1x10'), up(INSTANCE_B, '1x30')],
        checks: [
          {
            at: '12m',
            alert: down,
            firing: [{ alert: down, severity: 'warning', labels: { ...job, instance: INSTANCE_A }, value: '0' }],
          },
          { at: '12m', alert: all, firing: [] },
          { at: '25m', alert: down, firing: [] },
        ],
      },
      {
        name: 'both targets down from 6m to 20m',
        input: [up(INSTANCE_A, '1x5 0x15 1x10'), up(INSTANCE_B, '1x5 0x15 1x10')],
        checks: [
          { at: '12m', alert: all, firing: [{ alert: all, severity: 'critical', labels: job, value: '0' }] },
          { at: '25m', alert: all, firing: [] },
        ],
      },
      {
        name: 'the job vanishes from discovery after 5m and comes back at 46m',
        input: [up(INSTANCE_A, '1x5 _x40 1x10')],
        checks: [
          { at: '8m', alert: absent, firing: [] }, // still inside the 5m lookback
          { at: '20m', alert: absent, firing: [{ alert: absent, severity: 'critical', labels: job, value: '1' }] },
          { at: '20m', alert: down, firing: [] }, // what `up == 0` alone would miss
          { at: '50m', alert: absent, firing: [] },
        ],
      },
      { name: 'all up', input: [up(INSTANCE_A, '1x30')], checks: [{ at: '20m', alert: absent, firing: [] }] },
    ]);
  });

  it('ObsEventLoopLag and ObsMemoryNearLimit: fire on runtime gauges, resolve', () => {
    const lag = (values: string) => ({
      series: seriesText(METRICS.eventLoopDelayP99.prometheus, { ...job, instance: INSTANCE_A, ...RUNTIME_SCOPE }),
      values,
    });
    const rss = (values: string) => ({
      series: seriesText(METRICS.processMemoryUsage.prometheus, { ...job, instance: INSTANCE_A, ...HOST_SCOPE }),
      values,
    });
    const loop = ALERT_NAMES.eventLoopLag;
    const mem = ALERT_NAMES.memoryNearLimit;
    const labels = { ...job, instance: INSTANCE_A };
    const limit = 512 * 1024 ** 2;
    promtoolTest('runtime', [
      {
        name: 'event loop blocked (p99 0.5 s) from 6m to 20m',
        input: [lag('0.01x5 0.5x15 0.01x10')],
        checks: [
          { at: '15m', alert: loop, firing: [{ alert: loop, severity: 'warning', labels, value: '500ms' }] },
          { at: '25m', alert: loop, firing: [] },
        ],
      },
      { name: 'event loop fine', input: [lag('0.01x30')], checks: [{ at: '15m', alert: loop, firing: [] }] },
      {
        name: 'RSS at 95% of 512Mi from 3m to 22m',
        input: [rss(`100000000x2 ${0.95 * limit}x20 100000000x10`)],
        checks: [
          { at: '18m', alert: mem, firing: [{ alert: mem, severity: 'warning', labels, value: '95%' }] },
          { at: '30m', alert: mem, firing: [] },
        ],
      },
      {
        name: 'RSS well below the limit',
        input: [rss('100000000x30')],
        checks: [{ at: '18m', alert: mem, firing: [] }],
      },
    ]);
  });

  it('ObsTelemetryDropped: fires while @obs keeps dropping telemetry, per signal and reason; resolves', () => {
    const dropped = (values: string, signal = 'traces', reason = 'unavailable') => ({
      series: seriesText(METRICS.telemetryDropped.prometheus, {
        ...job,
        instance: INSTANCE_A,
        signal,
        reason,
        otel_scope_name: '@obs/core',
      }),
      values,
    });
    const alert = ALERT_NAMES.telemetryDropped;
    const labels = { ...job, instance: INSTANCE_A, signal: 'traces', reason: 'unavailable' };
    promtoolTest('telemetry-dropped', [
      {
        name: '600 spans a minute dropped from 5m to 30m (collector down), then none',
        input: [dropped('0x5 600+600x25 15600x20')],
        checks: [
          { at: '12m', alert, firing: [] }, // not yet for 10m
          { at: '20m', alert, firing: [{ alert, severity: 'warning', labels, value: '10' }] },
          { at: '45m', alert, firing: [] },
        ],
      },
      {
        name: 'one drop long ago, none since',
        input: [dropped('0x2 5x40')],
        checks: [{ at: '30m', alert, firing: [] }],
      },
    ]);
  });

  it('ObsAvailabilityBudgetBurn: pages at 14.4x/6x, tickets at 3x/1x, quiet at zero and low traffic, resolves', () => {
    const steps = 500;
    const traffic = (okPerMin: (i: number) => number, errPerMin: (i: number) => number) => [
      ...httpHistogram({ job: JOB, route: '/api/v1/users/:id', status: 200, steps, perStep: okPerMin }),
      ...httpHistogram({ job: JOB, route: '/api/v1/boom', status: 500, steps, perStep: errPerMin }),
    ];
    const alert = ALERT_NAMES.availabilityBurn;
    const e = (severity: string, value: string) => ({ alert, severity, labels: job, value });
    // After the errors stop at 2h, the 1d ratio at 2h40m is 7200 errors of 93600 requests.
    const later = g4((7200 / (540 * 160 + 7200)) * 100);
    promtoolTest('slo-availability', [
      {
        name: '10% of 10 req/s fail for 2h',
        input: traffic(steady(540), until(120, 60)),
        checks: [
          { at: '30m', alert, firing: [e('critical', '10%'), e('warning', '10%')] },
          // The 5m and 30m windows are clean: the page resolves; the 2h and 6h windows still hold the ticket.
          { at: '2h40m', alert, firing: [e('warning', `${later}%`)] },
          { at: '8h10m', alert, firing: [] },
        ],
      },
      {
        name: '0.5% fail (5x): a ticket, no page',
        input: traffic(steady(597), steady(3)),
        checks: [{ at: '3h', alert, firing: [e('warning', '0.5%')] }],
      },
      {
        name: '0.2% fail (2x): a ticket from the 3d/6h condition only',
        input: traffic(steady(598.8), steady(1.2)),
        checks: [{ at: '7h', alert, firing: [e('warning', '0.2%')] }],
      },
      {
        name: '0.05% fail: within budget',
        input: traffic(steady(599.7), steady(0.3)),
        checks: [{ at: '7h', alert, firing: [] }],
      },
      {
        name: 'low traffic (0.05 req/s), half of it failing',
        input: traffic(steady(1.5), steady(1.5)),
        checks: [
          { at: '1h', alert, firing: [] },
          { at: '7h', alert, firing: [] },
        ],
      },
      { name: 'no traffic', input: traffic(steady(0), steady(0)), checks: [{ at: '7h', alert, firing: [] }] },
    ]);
  });

  it('ObsLatencyBudgetBurn: pages and tickets on slow requests, quiet at zero and low traffic, resolves', () => {
    const steps = 200;
    const traffic = (fastPerMin: (i: number) => number, slowPerMin: (i: number) => number) => [
      ...httpHistogram({ job: JOB, route: '/api/v1/users/:id', status: 200, steps, perStep: fastPerMin }),
      ...httpHistogram({
        job: JOB,
        route: '/api/v1/slow',
        status: 200,
        steps,
        perStep: slowPerMin,
        duration: () => 0.6,
      }),
    ];
    const alert = ALERT_NAMES.latencyBurn;
    const e = (severity: string, value: string) => ({ alert, severity, labels: job, value });
    promtoolTest('slo-latency', [
      {
        name: '20% of 10 req/s slower than 0.5 s for 1h',
        input: traffic(steady(480), until(60, 120)),
        checks: [
          { at: '30m', alert, firing: [e('critical', '20%'), e('warning', '20%')] },
          { at: '1h40m', alert, firing: [e('warning', `${g4((7200 / (480 * 100 + 7200)) * 100)}%`)] },
        ],
      },
      {
        name: '5% slow (5x): a ticket, no page',
        input: traffic(steady(570), steady(30)),
        checks: [{ at: '2h', alert, firing: [e('warning', '5%')] }],
      },
      {
        name: 'low traffic (0.05 req/s), all slow',
        input: traffic(steady(0), steady(3)),
        checks: [{ at: '2h', alert, firing: [] }],
      },
      { name: 'no traffic', input: traffic(steady(0), steady(0)), checks: [{ at: '2h', alert, firing: [] }] },
    ]);
  });

  it('ObsDependencyHighErrorRatio and ObsDependencyHighLatencyP95: calls to one server fail or are slow, not at low traffic, resolve', () => {
    const calls = (options: { status?: number; perStep: (i: number) => number; duration?: (i: number) => number }) =>
      histogramSeries(
        METRICS.httpClientRequestDuration,
        {
          ...job,
          instance: INSTANCE_A,
          http_request_method: 'POST',
          server_address: 'payments.internal',
          server_port: '443',
          // a call that got no answer has error_type and no status code
          ...(options.status === undefined
            ? { error_type: 'Error' }
            : { http_response_status_code: String(options.status) }),
          otel_scope_name: '@opentelemetry/instrumentation-http',
        },
        45,
        options.perStep,
        options.duration ?? (() => 0.05),
      );
    const errors = ALERT_NAMES.dependencyHighErrorRatio;
    const slow = ALERT_NAMES.dependencyHighLatency;
    const labels = { ...job, server_address: 'payments.internal' };
    promtoolTest('dependency-calls', [
      {
        name: 'half the calls get no answer until 20m; the other half answer 200',
        input: [...calls({ status: 200, perStep: steady(60) }), ...calls({ perStep: until(20, 60) })],
        checks: [
          { at: '3m', alert: errors, firing: [] },
          { at: '15m', alert: errors, firing: [{ alert: errors, severity: 'warning', labels, value: '50%' }] },
          { at: '30m', alert: errors, firing: [] },
        ],
      },
      {
        name: '5xx answers count as failures',
        input: [...calls({ status: 200, perStep: steady(60) }), ...calls({ status: 503, perStep: steady(60) })],
        checks: [{ at: '15m', alert: errors, firing: [{ alert: errors, severity: 'warning', labels, value: '50%' }] }],
      },
      {
        name: 'low traffic (0.05 calls/s), every call fails; 4xx answers',
        input: [...calls({ perStep: steady(3) }), ...calls({ status: 404, perStep: steady(600) })],
        checks: [{ at: '15m', alert: errors, firing: [] }],
      },
      {
        name: 'every call takes 2 s (bucket 1..2.5) until 25m',
        input: calls({ status: 200, perStep: steady(60), duration: (i) => (i <= 25 ? 2 : 0.05) }),
        checks: [
          { at: '20m', alert: slow, firing: [{ alert: slow, severity: 'warning', labels, value: '2.425s' }] },
          { at: '40m', alert: slow, firing: [] },
        ],
      },
      {
        name: 'slow at low traffic',
        input: calls({ status: 200, perStep: steady(3), duration: () => 2 }),
        checks: [{ at: '20m', alert: slow, firing: [] }],
      },
    ]);
  });

  it('ObsGrpcHighErrorRatio and ObsGrpcDependencyHighErrorRatio: server-side statuses only, not at low traffic, resolve', () => {
    const scope = { otel_scope_name: '@obs/data' };
    const served = (status: string, perStep: (i: number) => number) =>
      histogramSeries(
        METRICS.rpcServerCallDuration,
        {
          ...job,
          instance: INSTANCE_A,
          rpc_system_name: 'grpc',
          rpc_method: 'shop.Cart/Add',
          rpc_status_code: status,
          ...scope,
        },
        45,
        perStep,
        () => 0.01,
      );
    const made = (status: string, perStep: (i: number) => number) =>
      histogramSeries(
        METRICS.rpcClientCallDuration,
        {
          ...job,
          instance: INSTANCE_A,
          rpc_system_name: 'grpc',
          rpc_method: 'pay.Payments/Charge',
          rpc_status_code: status,
          server_address: 'payments.internal',
          ...scope,
        },
        45,
        perStep,
        () => 0.01,
      );
    const server = ALERT_NAMES.grpcHighErrorRatio;
    const client = ALERT_NAMES.grpcDependencyHighErrorRatio;
    const serverLabels = { ...job, rpc_method: 'shop.Cart/Add' };
    const clientLabels = { ...job, server_address: 'payments.internal' };
    promtoolTest('grpc-calls', [
      {
        name: 'half the served calls end INTERNAL until 20m',
        input: [...served('OK', steady(60)), ...served('INTERNAL', until(20, 60))],
        checks: [
          {
            at: '15m',
            alert: server,
            firing: [{ alert: server, severity: 'warning', labels: serverLabels, value: '50%' }],
          },
          { at: '30m', alert: server, firing: [] },
        ],
      },
      {
        name: "the callers' own mistakes (NOT_FOUND, INVALID_ARGUMENT) are not failures; nor is low traffic",
        input: [
          ...served('OK', steady(60)),
          ...served('NOT_FOUND', steady(60)),
          ...served('INVALID_ARGUMENT', steady(60)),
          ...made('UNAVAILABLE', steady(3)),
        ],
        checks: [
          { at: '15m', alert: server, firing: [] },
          { at: '15m', alert: client, firing: [] },
        ],
      },
      {
        name: 'a third of the calls to one server end UNAVAILABLE or DEADLINE_EXCEEDED',
        input: [
          ...made('OK', steady(60)),
          ...made('UNAVAILABLE', steady(15)),
          ...made('DEADLINE_EXCEEDED', steady(15)),
        ],
        checks: [
          {
            at: '15m',
            alert: client,
            firing: [{ alert: client, severity: 'warning', labels: clientLabels, value: '33.33%' }],
          },
        ],
      },
    ]);
  });

  it('ObsDbPoolSaturated, ObsQueueBacklogGrowing, ObsCacheHitRatioDrop: the data layer (docs/data.md), each resolving', () => {
    const pool = { db_client_connection_pool_name: 'db:5432/shop', db_system_name: 'postgresql', ...OBS_SCOPE };
    const gauge = (name: string, labels: Record<string, string>, values: string) => ({
      series: seriesText(name, { ...job, instance: INSTANCE_A, ...labels }),
      values,
    });
    const poolSeries = (used: string, max: string, pending: string) => [
      gauge(METRICS.dbClientConnectionCount.prometheus, { ...pool, db_client_connection_state: 'used' }, used),
      gauge(METRICS.dbClientConnectionCount.prometheus, { ...pool, db_client_connection_state: 'idle' }, '0x40'),
      gauge(METRICS.dbClientConnectionMax.prometheus, pool, max),
      gauge(METRICS.dbClientConnectionPendingRequests.prometheus, pool, pending),
    ];
    const queue = { messaging_system: 'rabbitmq', messaging_destination_name: 'orders', ...OBS_SCOPE };
    const depth = (values: string) => gauge(METRICS.messagingQueueDepth.prometheus, queue, values);
    const reads = (result: string, perStep: (i: number) => number) => ({
      series: seriesText(METRICS.cacheRequests.prometheus, {
        ...job,
        instance: INSTANCE_A,
        cache_name: 'users',
        cache_result: result,
        ...OBS_SCOPE,
      }),
      values: cumulative(200, perStep),
    });
    const saturated = ALERT_NAMES.dbPoolSaturated;
    const backlog = ALERT_NAMES.queueBacklogGrowing;
    const cache = ALERT_NAMES.cacheHitRatioDrop;
    const poolLabels = { ...job, instance: INSTANCE_A, db_client_connection_pool_name: 'db:5432/shop' };
    promtoolTest('data-layer', [
      {
        name: 'every connection in use with 3 waiters from 0m to 15m',
        input: poolSeries('10x15 2x25', '10x40', '3x15 0x25'),
        checks: [
          { at: '3m', alert: saturated, firing: [] },
          {
            at: '10m',
            alert: saturated,
            firing: [{ alert: saturated, severity: 'warning', labels: poolLabels, value: '100%' }],
          },
          { at: '25m', alert: saturated, firing: [] },
        ],
      },
      {
        name: 'a full pool nobody waits for',
        input: poolSeries('10x40', '10x40', '0x40'),
        checks: [{ at: '10m', alert: saturated, firing: [] }],
      },
      {
        name: 'the queue grows by 60 messages a minute until 30m, then holds',
        input: [depth('200+60x30 2000x30')],
        checks: [
          { at: '5m', alert: backlog, firing: [] },
          {
            at: '25m',
            alert: backlog,
            firing: [
              {
                alert: backlog,
                severity: 'warning',
                labels: { ...job, messaging_destination_name: 'orders' },
                value: '1',
              },
            ],
          },
          { at: '55m', alert: backlog, firing: [] },
        ],
      },
      {
        name: 'a small queue that grows; a large one that holds',
        input: [
          depth('0+1x60'),
          gauge(METRICS.messagingQueueDepth.prometheus, { ...queue, messaging_destination_name: 'big' }, '5000x60'),
        ],
        checks: [{ at: '25m', alert: backlog, firing: [] }],
      },
      {
        name: 'hit ratio 90% for 70m, then 20%',
        input: [reads('hit', (i) => (i <= 70 ? 54 : 12)), reads('miss', (i) => (i <= 70 ? 6 : 48))],
        checks: [
          { at: '60m', alert: cache, firing: [] },
          {
            at: '90m',
            alert: cache,
            firing: [{ alert: cache, severity: 'warning', labels: { ...job, cache_name: 'users' }, value: '20%' }],
          },
          // an hour later 20% is the new normal: a drop alert, not a level alert
          { at: '190m', alert: cache, firing: [] },
        ],
      },
      {
        name: 'steady 90%, and a drop at low traffic',
        input: [reads('hit', (i) => (i <= 70 ? 2 : 0)), reads('miss', (i) => (i <= 70 ? 0 : 2))],
        checks: [{ at: '90m', alert: cache, firing: [] }],
      },
    ]);
  });

  it('keeps the service and selector labels on aggregated alerts', () => {
    const res = obs('alerts', '--job', JOB, '--service', 'shop-api', '--selector', 'namespace=prod');
    expect(res.code, res.stderr).toBe(0);
    const file = parse(res.stdout) as RuleFile;
    const extra = { service: 'shop-api', namespace: 'prod' };
    const alert = ALERT_NAMES.highErrorRatio;
    const input = [
      ...httpHistogram({ job: JOB, route: '/api/v1/users/:id', status: 200, steps: 30, perStep: steady(60), extra }),
      ...httpHistogram({ job: JOB, route: '/api/v1/boom', status: 500, steps: 30, perStep: steady(60), extra }),
      // Another service in the same job: not selected.
      ...httpHistogram({
        job: JOB,
        route: '/api/v1/boom',
        status: 500,
        steps: 30,
        perStep: steady(600),
        extra: { service: 'other', namespace: 'prod' },
      }),
    ];
    promtoolTest(
      'selection',
      [
        {
          name: 'the selected service fails half its requests',
          input,
          checks: [
            {
              at: '15m',
              alert,
              firing: [{ alert, severity: 'critical', labels: { job: JOB, ...extra }, value: '50%' }],
            },
          ],
        },
      ],
      file,
      res.stdout,
    );
  });

  it('covers every alert rule of the file with a firing case', () => {
    const all = rules.groups
      .flatMap((g) => g.rules)
      .filter((r): r is AlertingRule => 'alert' in r)
      .map((r) => `${r.alert}/${r.labels.severity}`);
    expect([...new Set(all)].sort()).toEqual([...firedInTests].sort());
  });
});

describe('the rules read only series the SDK writes', () => {
  it('builds every query on the definitions in @obs/core', async () => {
    const { knownSeriesNames } = await import('../src/selectors.js');
    const known = knownSeriesNames();
    const recorded = new Set(rules.groups.flatMap((g) => g.rules).flatMap((r) => ('record' in r ? [r.record] : [])));
    for (const rule of rules.groups.flatMap((g) => g.rules)) {
      // Identifiers followed by `{` or `[` are series selectors; recording-rule names contain colons.
      for (const [, name] of rule.expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{/g)) {
        expect(known.has(name as string) || recorded.has(name as string), `${name} in ${rule.expr}`).toBe(true);
      }
      // (not the `[10m:1m]` of a subquery)
      for (const [name] of rule.expr.matchAll(/(?<![0-9a-zA-Z_])[a-z_]+:[a-zA-Z0-9_:]+/g)) {
        expect(recorded.has(name), `${name} is recorded`).toBe(true);
      }
    }
    // The histogram is only ever read through its parts.
    expect(rulesText).not.toMatch(/http_server_request_duration(?!_bucket|_count|:)[{[\s)]/);
    expect(cumulative(2, () => 1)).toBe('0 1 2');
  });
});
