/**
 * `obs alerts`: a Prometheus rule file (recording rules and alerts) for one service, built from the
 * metric definitions in `@obs/core`.
 *
 * - Ratios, not absolute counts: the 5xx share of requests, guarded by a minimum request rate so a
 *   single failure at night does not page.
 * - Latency from bucket rates: `histogram_quantile` over `sum by (..., le) (rate(..._bucket[w]))`,
 *   never over the histogram's bare name (which the exporter never writes).
 * - Missing targets: `up == 0` only sees targets that still exist, so `absent(up{...})` covers a job
 *   that vanished from service discovery.
 * - SLOs: multi-window, multi-burn-rate conditions (see `slo.ts`).
 */
import { Document } from 'yaml';
import { COMMON_OPTIONS, type CommandSpec, type Options, SELECTION_OPTIONS, SLO_OPTIONS } from '../args.js';
import {
  bucketBound,
  by,
  DATA,
  EXPORT,
  HEALTH,
  HTTP,
  HTTP_CLIENT,
  INSTANCE,
  identityLabels,
  LE,
  leMatcher,
  RPC,
  RUNTIME,
  type Selection,
  selectionMatchers,
  series,
  UP,
  vectorSelector,
} from '../selectors.js';
import { burnRateConditions, errorBudget, formatPeriod, type Slo, sloWindows } from '../slo.js';
import { formatBytes, formatDuration, formatNumber, formatPercent, parseDuration } from '../units.js';

/** A recording rule. */
export interface RecordingRule {
  record: string;
  expr: string;
}

/** An alerting rule. */
export interface AlertingRule {
  alert: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
  annotations: { summary: string; description: string; runbook_url: string };
}

/** A rule group. */
export interface RuleGroup {
  name: string;
  rules: (RecordingRule | AlertingRule)[];
}

/** A Prometheus rule file. */
export interface RuleFile {
  groups: RuleGroup[];
}

/** Everything `obs alerts` takes, resolved (durations in seconds). */
export interface AlertsSettings {
  selection: Selection;
  runbookUrlBase: string;
  /** 5xx share of requests above which `ObsHighErrorRatio` fires. */
  errorRatio: number;
  errorRatioWindowSeconds: number;
  errorRatioForSeconds: number;
  /** Requests per second below which ratio-based alerts stay quiet. */
  minRequestRate: number;
  /** p95 latency per route (seconds) above which `ObsHighLatencyP95` fires. */
  latencyP95: number;
  latencyWindowSeconds: number;
  latencyForSeconds: number;
  /** Event-loop delay p99 (seconds) above which `ObsEventLoopLag` fires. */
  eventLoopLag: number;
  eventLoopForSeconds: number;
  /** Memory limit of one instance (bytes), and the share of it at which `ObsMemoryNearLimit` fires. */
  memoryLimitBytes: number;
  memoryRatio: number;
  memoryForSeconds: number;
  targetDownForSeconds: number;
  dependencyDownForSeconds: number;
  /** p95 health-check duration (seconds) above which `ObsHealthCheckSlow` fires. */
  healthCheckSlow: number;
  healthCheckSlowForSeconds: number;
  /** How long @obs must keep dropping telemetry before `ObsTelemetryDropped` fires. */
  telemetryDroppedForSeconds: number;
  /** p95 duration of calls to one HTTP dependency (seconds) above which `ObsDependencyHighLatencyP95` fires. */
  dependencyLatencyP95: number;
  /** Share of a pool's connections in use (with requests waiting) at which `ObsDbPoolSaturated` fires. */
  poolSaturation: number;
  /** Ready messages below which a growing queue does not alert. */
  queueBacklog: number;
  availability: Slo;
  latency: Slo & { thresholdSeconds: number };
}

/** Names of every alert `obs alerts` writes. */
export const ALERT_NAMES = {
  highErrorRatio: 'ObsHighErrorRatio',
  highLatency: 'ObsHighLatencyP95',
  dependencyDown: 'ObsDependencyDown',
  healthCheckSlow: 'ObsHealthCheckSlow',
  dependencyHighErrorRatio: 'ObsDependencyHighErrorRatio',
  dependencyHighLatency: 'ObsDependencyHighLatencyP95',
  grpcHighErrorRatio: 'ObsGrpcHighErrorRatio',
  grpcDependencyHighErrorRatio: 'ObsGrpcDependencyHighErrorRatio',
  dbPoolSaturated: 'ObsDbPoolSaturated',
  queueBacklogGrowing: 'ObsQueueBacklogGrowing',
  cacheHitRatioDrop: 'ObsCacheHitRatioDrop',
  targetDown: 'ObsTargetDown',
  allTargetsDown: 'ObsAllTargetsDown',
  targetAbsent: 'ObsTargetAbsent',
  eventLoopLag: 'ObsEventLoopLag',
  memoryNearLimit: 'ObsMemoryNearLimit',
  telemetryDropped: 'ObsTelemetryDropped',
  availabilityBurn: 'ObsAvailabilityBudgetBurn',
  latencyBurn: 'ObsLatencyBudgetBurn',
} as const;

/** The names of the recording rules for a selection, shared with the tests and the docs. */
export function recordingNames(selection: Selection) {
  const level = identityLabels(selection).join('_');
  return {
    requests: (w: string) => `${level}:http_server_requests:rate${w}`,
    errorRatio: (w: string) => `${level}:http_server_requests_5xx:ratio_rate${w}`,
    slowRatio: (w: string) => `${level}:http_server_requests_slow:ratio_rate${w}`,
    routeRequests: (w: string) => `${level}_route:http_server_requests:rate${w}`,
    routeP95: (w: string) => `${level}_route:http_server_request_duration:p95_rate${w}`,
  };
}

function kebab(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
}

function indent(text: string, by = 2): string {
  return text
    .split('\n')
    .map((line) => (line ? ' '.repeat(by) + line : line))
    .join('\n');
}

/** Builds the rule file. */
export function buildRules(s: AlertsSettings): RuleFile {
  const sel = selectionMatchers(s.selection);
  const ids = identityLabels(s.selection);
  const routeIds = [...ids, HTTP.method, HTTP.route];
  const names = recordingNames(s.selection);
  const routed = [...sel, `${HTTP.route}!=""`];
  const who = ids.map((l) => `{{ $labels.${l} }}`).join('/');
  // `https://host/runbooks` gives `https://host/runbooks/obs-high-error-ratio`; a base ending in `#` gives an anchor.
  const runbook = (alert: string) =>
    s.runbookUrlBase.endsWith('#')
      ? `${s.runbookUrlBase}${kebab(alert)}`
      : `${s.runbookUrlBase.replace(/\/+$/, '')}/${kebab(alert)}`;
  const dur = formatDuration;

  // Recording rules ---------------------------------------------------------------------------------
  const errorWindow = dur(s.errorRatioWindowSeconds);
  const latencyWindow = dur(s.latencyWindowSeconds);
  const slo = sloWindows();
  const requestWindows = [...new Set([errorWindow, ...slo])].sort(
    (a, b) => (parseDuration(a) ?? 0) - (parseDuration(b) ?? 0),
  );
  const count = (extra: readonly string[] = []) => series(HTTP.metric, [...sel, ...extra], 'count');
  const recording: RecordingRule[] = [];
  // Ratios compute their own denominators instead of reading the request-rate rules: a rule that reads
  // another rule of its group may see the previous evaluation's sample.
  for (const w of requestWindows) {
    const all = `sum ${by(ids)} (rate(${count()}[${w}]))`;
    recording.push({ record: names.requests(w), expr: all });
    recording.push({
      record: names.errorRatio(w),
      expr: [
        '(',
        indent(`sum ${by(ids)} (rate(${count([HTTP.serverError])}[${w}]))`),
        'or',
        indent(`0 * ${all}`),
        ')',
        `/ ${all}`,
      ].join('\n'),
    });
  }
  const threshold = bucketBound(HTTP.metric, s.latency.thresholdSeconds);
  for (const w of slo) {
    const fast = series(HTTP.metric, [...sel, leMatcher(threshold)], 'bucket');
    recording.push({
      record: names.slowRatio(w),
      expr: `1 - sum ${by(ids)} (rate(${fast}[${w}])) / sum ${by(ids)} (rate(${count()}[${w}]))`,
    });
  }
  recording.push({
    record: names.routeRequests(latencyWindow),
    expr: `sum ${by(routeIds)} (rate(${series(HTTP.metric, routed, 'count')}[${latencyWindow}]))`,
  });
  recording.push({
    record: names.routeP95(latencyWindow),
    expr: `histogram_quantile(0.95, sum ${by([...routeIds, LE])} (rate(${series(HTTP.metric, routed, 'bucket')}[${latencyWindow}])))`,
  });

  // Alerts ------------------------------------------------------------------------------------------
  const minRate = formatNumber(s.minRequestRate);
  const alerts: AlertingRule[] = [];
  const alert = (rule: Omit<AlertingRule, 'annotations'> & { summary: string; description: string }) => {
    const { summary, description, ...rest } = rule;
    const out: AlertingRule = { ...rest, annotations: { summary, description, runbook_url: runbook(rule.alert) } };
    if (out.for === '0s') delete out.for;
    alerts.push(out);
  };

  alert({
    alert: ALERT_NAMES.highErrorRatio,
    expr: `${names.errorRatio(errorWindow)} > ${formatNumber(s.errorRatio)}\nand\n${names.requests(errorWindow)} > ${minRate}`,
    for: dur(s.errorRatioForSeconds),
    labels: { severity: 'critical' },
    summary: `${who}: {{ $value | humanizePercentage }} of HTTP requests fail with a 5xx`,
    description:
      `Over the last ${errorWindow}, {{ $value | humanizePercentage }} of the HTTP requests to ${who} were answered ` +
      `with a 5xx status (alert above ${formatPercent(s.errorRatio)}, only while it serves more than ${minRate} req/s).`,
  });
  alert({
    alert: ALERT_NAMES.highLatency,
    expr: `${names.routeP95(latencyWindow)} > ${formatNumber(s.latencyP95)}\nand\n${names.routeRequests(latencyWindow)} > ${minRate}`,
    for: dur(s.latencyForSeconds),
    labels: { severity: 'warning' },
    summary: `${who}: p95 latency of {{ $labels.${HTTP.method} }} {{ $labels.${HTTP.route} }} is {{ $value | humanizeDuration }}`,
    description:
      `The 95th percentile of the duration of {{ $labels.${HTTP.method} }} {{ $labels.${HTTP.route} }} requests to ${who} ` +
      `over the last ${latencyWindow} is {{ $value | humanizeDuration }} (alert above ${formatNumber(s.latencyP95)}s, ` +
      `only while the route serves more than ${minRate} req/s).`,
  });

  const healthIds = [...ids, HEALTH.name];
  const readiness = [...sel, `${HEALTH.kind}="readiness"`];
  for (const critical of [true, false]) {
    const matcher = critical ? `${HEALTH.critical}="true"` : `${HEALTH.critical}!="true"`;
    alert({
      alert: ALERT_NAMES.dependencyDown,
      expr: `max ${by(healthIds)} (${series(HEALTH.status, [...readiness, matcher])}) == 0`,
      for: dur(s.dependencyDownForSeconds),
      labels: { severity: critical ? 'critical' : 'warning' },
      summary: `${who}: ${critical ? 'critical ' : ''}dependency {{ $labels.${HEALTH.name} }} is down`,
      description:
        `The readiness check {{ $labels.${HEALTH.name} }} of ${who} has failed on every instance for ` +
        `${dur(s.dependencyDownForSeconds)}.${critical ? ' It is marked critical: the service is not ready without it.' : ''}`,
    });
  }
  alert({
    alert: ALERT_NAMES.healthCheckSlow,
    expr: `histogram_quantile(0.95, sum ${by([...ids, HEALTH.durationName, LE])} (rate(${series(HEALTH.duration, sel, 'bucket')}[5m]))) > ${formatNumber(s.healthCheckSlow)}`,
    for: dur(s.healthCheckSlowForSeconds),
    labels: { severity: 'warning' },
    summary: `${who}: health check {{ $labels.${HEALTH.durationName} }} takes {{ $value | humanizeDuration }} (p95)`,
    description:
      `The 95th percentile of the duration of the health check {{ $labels.${HEALTH.durationName} }} of ${who} over the last ` +
      `5m is {{ $value | humanizeDuration }} (alert above ${formatNumber(s.healthCheckSlow)}s): it is close to its timeout, ` +
      'after which the check fails and the probe with it.',
  });

  // Dependencies: outgoing HTTP calls by the server they go to, the data layer (docs/data.md) -------
  const serverIds = [...ids, HTTP_CLIENT.server];
  const calls = (extra: readonly string[] = []) => series(HTTP_CLIENT.metric, [...sel, ...extra], 'count');
  const callRate = `sum ${by(serverIds)} (rate(${calls()}[${errorWindow}]))`;
  alert({
    alert: ALERT_NAMES.dependencyHighErrorRatio,
    expr: [
      `sum ${by(serverIds)} (rate(${calls([HTTP_CLIENT.failed])}[${errorWindow}]))`,
      `/ ${callRate}`,
      `> ${formatNumber(s.errorRatio)}`,
      'and',
      `${callRate} > ${minRate}`,
    ].join('\n'),
    for: dur(s.errorRatioForSeconds),
    labels: { severity: 'warning' },
    summary: `${who}: {{ $value | humanizePercentage }} of calls to {{ $labels.${HTTP_CLIENT.server} }} fail`,
    description:
      `Over the last ${errorWindow}, {{ $value | humanizePercentage }} of the HTTP calls ${who} made to ` +
      `{{ $labels.${HTTP_CLIENT.server} }} got a 5xx or no answer (alert above ${formatPercent(s.errorRatio)}, only ` +
      `while it makes more than ${minRate} calls/s).`,
  });
  alert({
    alert: ALERT_NAMES.dependencyHighLatency,
    expr: [
      `histogram_quantile(0.95, sum ${by([...serverIds, LE])} (rate(${series(HTTP_CLIENT.metric, sel, 'bucket')}[${latencyWindow}])))`,
      `> ${formatNumber(s.dependencyLatencyP95)}`,
      'and',
      `sum ${by(serverIds)} (rate(${calls()}[${latencyWindow}])) > ${minRate}`,
    ].join('\n'),
    for: dur(s.latencyForSeconds),
    labels: { severity: 'warning' },
    summary: `${who}: p95 of calls to {{ $labels.${HTTP_CLIENT.server} }} is {{ $value | humanizeDuration }}`,
    description:
      `The 95th percentile of the duration of the HTTP calls ${who} made to {{ $labels.${HTTP_CLIENT.server} }} over ` +
      `the last ${latencyWindow} is {{ $value | humanizeDuration }} (alert above ${formatNumber(s.dependencyLatencyP95)}s, ` +
      `only while it makes more than ${minRate} calls/s).`,
  });
  // gRPC (opt-in instrumentation): served calls by method, outgoing calls by server; silent without them
  const grpcRatio = (metric: typeof RPC.server, groupBy: readonly string[]) => {
    const rpcCalls = (extra: readonly string[] = []) => series(metric, [...sel, ...extra], 'count');
    const total = `sum ${by(groupBy)} (rate(${rpcCalls()}[${errorWindow}]))`;
    return [
      `sum ${by(groupBy)} (rate(${rpcCalls([RPC.failed])}[${errorWindow}]))`,
      `/ ${total}`,
      `> ${formatNumber(s.errorRatio)}`,
      'and',
      `${total} > ${minRate}`,
    ].join('\n');
  };
  alert({
    alert: ALERT_NAMES.grpcHighErrorRatio,
    expr: grpcRatio(RPC.server, [...ids, RPC.method]),
    for: dur(s.errorRatioForSeconds),
    labels: { severity: 'warning' },
    summary: `${who}: {{ $value | humanizePercentage }} of the gRPC calls to {{ $labels.${RPC.method} }} fail`,
    description:
      `Over the last ${errorWindow}, {{ $value | humanizePercentage }} of the gRPC calls ${who} served for ` +
      `{{ $labels.${RPC.method} }} ended with a server-side status (UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, ` +
      `INTERNAL, UNAVAILABLE, DATA_LOSS) (alert above ${formatPercent(s.errorRatio)}, only while it serves more ` +
      `than ${minRate} calls/s).`,
  });
  alert({
    alert: ALERT_NAMES.grpcDependencyHighErrorRatio,
    expr: grpcRatio(RPC.client, [...ids, RPC.clientServer]),
    for: dur(s.errorRatioForSeconds),
    labels: { severity: 'warning' },
    summary: `${who}: {{ $value | humanizePercentage }} of the gRPC calls to {{ $labels.${RPC.clientServer} }} fail`,
    description:
      `Over the last ${errorWindow}, {{ $value | humanizePercentage }} of the gRPC calls ${who} made to ` +
      `{{ $labels.${RPC.clientServer} }} ended with UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, ` +
      `UNAVAILABLE or DATA_LOSS (alert above ${formatPercent(s.errorRatio)}, only while it makes more than ` +
      `${minRate} calls/s).`,
  });
  const poolIds = [...ids, INSTANCE, DATA.pool];
  alert({
    alert: ALERT_NAMES.dbPoolSaturated,
    expr: [
      `sum ${by(poolIds)} (${series(DATA.connections, [...sel, `${DATA.poolState}="used"`])})`,
      `/ sum ${by(poolIds)} (${series(DATA.connectionsMax, sel)})`,
      `>= ${formatNumber(s.poolSaturation)}`,
      'and',
      `sum ${by(poolIds)} (${series(DATA.pending, sel)}) > 0`,
    ].join('\n'),
    for: '5m',
    labels: { severity: 'warning' },
    summary: `${who}: pool {{ $labels.${DATA.pool} }} of {{ $labels.${INSTANCE} }} is saturated ({{ $value | humanizePercentage }} in use)`,
    description:
      `{{ $value | humanizePercentage }} of the connections of the pool {{ $labels.${DATA.pool} }} on ` +
      `{{ $labels.${INSTANCE} }} (${who}) are in use and requests wait for one (alert at ${formatPercent(s.poolSaturation)} ` +
      'with waiters, for 5m): queries queue in the app before they reach the database.',
  });
  const depth = `max ${by([...ids, DATA.queue])} (${series(DATA.queueDepth, sel)})`;
  alert({
    alert: ALERT_NAMES.queueBacklogGrowing,
    expr: `deriv(${depth}[10m:1m]) > 0\nand\n${depth} > ${formatNumber(s.queueBacklog)}`,
    for: '10m',
    labels: { severity: 'warning' },
    summary: `${who}: queue {{ $labels.${DATA.queue} }} grows by {{ $value | humanize }} messages/s`,
    description:
      `The ready messages of {{ $labels.${DATA.queue} }} (${who}) have grown for 10m, by {{ $value | humanize }} ` +
      `messages/s, and are above ${formatNumber(s.queueBacklog)}: the consumers do not keep up.`,
  });
  const cacheIds = [...ids, DATA.cache];
  const cacheReads = (w: string, extra: readonly string[] = [], offset = '') =>
    `sum ${by(cacheIds)} (rate(${series(DATA.cacheRequests, [...sel, ...extra])}[${w}]${offset}))`;
  const hitRatio = (w: string, offset = '') =>
    `${cacheReads(w, [`${DATA.cacheResult}="hit"`], offset)} / ${cacheReads(w, [], offset)}`;
  alert({
    alert: ALERT_NAMES.cacheHitRatioDrop,
    expr: [
      `(${hitRatio('10m')})`,
      `< 0.5 * (${hitRatio('1h', ' offset 10m')})`,
      'and',
      `${cacheReads('10m')} > ${minRate}`,
    ].join('\n'),
    for: '5m',
    labels: { severity: 'warning' },
    summary: `${who}: hit ratio of cache {{ $labels.${DATA.cache} }} dropped to {{ $value | humanizePercentage }}`,
    description:
      `The hit ratio of the cache {{ $labels.${DATA.cache} }} (${who}) over the last 10m is {{ $value | humanizePercentage }}, ` +
      `less than half of what it was over the hour before (only while it serves more than ${minRate} reads/s): ` +
      'the backing store takes the misses.',
  });

  const up = vectorSelector(UP, sel);
  alert({
    alert: ALERT_NAMES.targetDown,
    expr: `${up} == 0`,
    for: dur(s.targetDownForSeconds),
    labels: { severity: 'warning' },
    summary: `${who}: target {{ $labels.${INSTANCE} }} is down`,
    description: `Prometheus has failed to scrape {{ $labels.${INSTANCE} }} of ${who} for ${dur(s.targetDownForSeconds)}.`,
  });
  alert({
    alert: ALERT_NAMES.allTargetsDown,
    expr: `max ${by(ids)} (${up}) == 0`,
    for: dur(s.targetDownForSeconds),
    labels: { severity: 'critical' },
    summary: `${who}: every target is down`,
    description: `Prometheus has failed to scrape every target of ${who} for ${dur(s.targetDownForSeconds)}.`,
  });
  alert({
    alert: ALERT_NAMES.targetAbsent,
    expr: `absent(${up})`,
    for: dur(s.targetDownForSeconds),
    labels: { severity: 'critical' },
    summary: `${who}: no target is being scraped`,
    description:
      `Prometheus has had no scrape target matching ${up} for ${dur(s.targetDownForSeconds)}: the service is gone ` +
      'from service discovery, or the scrape configuration no longer selects it.',
  });
  alert({
    alert: ALERT_NAMES.eventLoopLag,
    expr: `max ${by([...ids, INSTANCE])} (${series(RUNTIME.eventLoopDelayP99, sel)}) > ${formatNumber(s.eventLoopLag)}`,
    for: dur(s.eventLoopForSeconds),
    labels: { severity: 'warning' },
    summary: `${who}: event loop of {{ $labels.${INSTANCE} }} lags {{ $value | humanizeDuration }} (p99)`,
    description:
      `The 99th percentile of the event-loop delay of {{ $labels.${INSTANCE} }} (${who}) is {{ $value | humanizeDuration }} ` +
      `(alert above ${formatNumber(s.eventLoopLag)}s): synchronous work is blocking every request on that instance.`,
  });
  alert({
    alert: ALERT_NAMES.memoryNearLimit,
    expr: `max ${by([...ids, INSTANCE])} (${series(RUNTIME.memory, sel)}) / ${s.memoryLimitBytes} > ${formatNumber(s.memoryRatio)}`,
    for: dur(s.memoryForSeconds),
    labels: { severity: 'warning' },
    summary: `${who}: {{ $labels.${INSTANCE} }} uses {{ $value | humanizePercentage }} of its memory limit`,
    description:
      `The resident memory of {{ $labels.${INSTANCE} }} (${who}) is {{ $value | humanizePercentage }} of its ` +
      `${formatBytes(s.memoryLimitBytes)} limit (alert above ${formatPercent(s.memoryRatio)}); past the limit the process is OOM-killed.`,
  });
  alert({
    alert: ALERT_NAMES.telemetryDropped,
    expr: `sum ${by([...ids, INSTANCE, EXPORT.signal, EXPORT.reason])} (rate(${series(EXPORT.dropped, sel)}[5m])) > 0`,
    for: dur(s.telemetryDroppedForSeconds),
    labels: { severity: 'warning' },
    summary: `${who}: {{ $labels.${INSTANCE} }} drops {{ $labels.${EXPORT.signal} }} telemetry ({{ $labels.${EXPORT.reason} }})`,
    description:
      `{{ $labels.${INSTANCE} }} (${who}) has been dropping {{ $labels.${EXPORT.signal} }} telemetry for ` +
      `${dur(s.telemetryDroppedForSeconds)}, {{ $value | humanize }} items/s, reason {{ $labels.${EXPORT.reason} }}: ` +
      'traces, log records or metrics of this service are missing from the backend.',
  });

  // SLO burn-rate alerts ----------------------------------------------------------------------------
  const sloAlerts: AlertingRule[] = [];
  const burn = (
    name: string,
    kind: 'availability' | 'latency',
    sloSpec: Slo,
    ratio: (w: string) => string,
    what: string,
  ) => {
    const budget = errorBudget(sloSpec.objective);
    const conditions = burnRateConditions(sloSpec);
    for (const severity of ['critical', 'warning'] as const) {
      const mine = conditions.filter((c) => c.severity === severity);
      const expr = mine
        .map((c) =>
          [
            '(',
            indent(`${ratio(c.long)} > ${formatNumber(c.threshold)}`),
            'and',
            indent(`${ratio(c.short)} > ${formatNumber(c.threshold)}`),
            'and',
            indent(`${names.requests(c.long)} > ${minRate}`),
            ')',
          ].join('\n'),
        )
        .join('\nor\n');
      const how = mine
        .map(
          (c) =>
            `${formatPercent(c.budgetFraction)} of it in ${c.long} (${formatNumber(c.burnRate)}x, confirmed over ${c.short})`,
        )
        .join(' or ');
      const period = formatPeriod(sloSpec.periodSeconds);
      const out: AlertingRule = {
        alert: name,
        expr,
        labels: { severity, slo: kind },
        annotations: {
          summary: `${who}: the ${kind} SLO's error budget is burning ${severity === 'critical' ? 'fast' : 'steadily'}`,
          description:
            `${what} is {{ $value | humanizePercentage }} over the long window. The ${kind} SLO (${formatPercent(sloSpec.objective)} ` +
            `over ${period}) allows ${formatPercent(budget)}; at this rate the service spends ${how}.`,
          runbook_url: runbook(name),
        },
      };
      sloAlerts.push(out);
    }
  };
  burn(ALERT_NAMES.availabilityBurn, 'availability', s.availability, names.errorRatio, 'The share of 5xx answers');
  burn(
    ALERT_NAMES.latencyBurn,
    'latency',
    s.latency,
    names.slowRatio,
    `The share of requests slower than ${formatNumber(s.latency.thresholdSeconds)}s`,
  );

  const base = `obs-${[s.selection.job, s.selection.service].filter(Boolean).join('-') || 'service'}`;
  return {
    groups: [
      { name: `${base}-recording`, rules: recording },
      { name: `${base}-alerts`, rules: alerts },
      { name: `${base}-slo`, rules: sloAlerts },
    ],
  };
}

/** The rule file as YAML, with a header saying where it came from. */
export function renderRules(settings: AlertsSettings): string {
  const doc = new Document(buildRules(settings));
  doc.commentBefore =
    ' Generated by `obs alerts` (@obs/cli) from the metric definitions of @obs/core.\n' +
    ' Regenerate instead of editing; check with: promtool check rules --lint=all <file>';
  return doc.toString({ lineWidth: 0 });
}

/** The `alerts` command. */
export const alertsCommand: CommandSpec = {
  name: 'alerts',
  short: 'Prometheus recording and alerting rules, with SLO burn-rate alerts',
  summary:
    'Write a Prometheus rule file for one service: recording rules, alerts (5xx ratio, p95 latency per route, ' +
    'dependencies: health checks, HTTP calls by server, connection pools, queues, caches; targets, event loop, ' +
    'memory) and multi-window, multi-burn-rate SLO alerts.',
  details:
    'Metric and label names come from the definitions @obs records with. Durations are Prometheus durations; the\n' +
    'latency SLO threshold must be a bucket bound of http.server.request.duration.',
  options: [
    ...COMMON_OPTIONS,
    ...SELECTION_OPTIONS.map((o) => (o.name === 'job' ? { ...o, required: true } : o)),
    {
      name: 'runbook-url-base',
      type: 'url',
      arg: 'URL',
      description: 'runbook_url of each alert is URL/<alert-name-in-kebab-case> (URL#<name> when URL ends in #)',
      default: 'https://runbooks.example.com/obs',
    },
    {
      name: 'error-ratio',
      type: 'ratio',
      arg: 'RATIO',
      description: '5xx share of requests that alerts',
      default: 0.05,
    },
    {
      name: 'error-ratio-window',
      type: 'duration',
      arg: 'DURATION',
      description: 'window of the 5xx ratio',
      default: 300,
    },
    {
      name: 'error-ratio-for',
      type: 'duration',
      arg: 'DURATION',
      description: 'how long the ratio must stay high',
      default: 300,
    },
    {
      name: 'min-request-rate',
      type: 'number',
      arg: 'REQ_PER_S',
      description: 'ratio and SLO alerts stay quiet below this request rate (low-traffic guard)',
      default: 0.1,
    },
    {
      name: 'latency-p95',
      type: 'duration',
      arg: 'DURATION',
      description: 'p95 latency per route that alerts',
      default: 0.5,
    },
    { name: 'latency-window', type: 'duration', arg: 'DURATION', description: 'window of the p95', default: 300 },
    {
      name: 'latency-for',
      type: 'duration',
      arg: 'DURATION',
      description: 'how long the p95 must stay high',
      default: 600,
    },
    {
      name: 'event-loop-lag',
      type: 'duration',
      arg: 'DURATION',
      description: 'event-loop delay p99 that alerts',
      default: 0.2,
    },
    {
      name: 'event-loop-for',
      type: 'duration',
      arg: 'DURATION',
      description: 'how long the lag must last',
      default: 300,
    },
    {
      name: 'memory-limit',
      type: 'bytes',
      arg: 'SIZE',
      description: 'memory limit of one instance (the container limit)',
      default: 512 * 1024 ** 2,
      defaultText: '512Mi',
    },
    { name: 'memory-ratio', type: 'ratio', arg: 'RATIO', description: 'share of the limit that alerts', default: 0.9 },
    {
      name: 'memory-for',
      type: 'duration',
      arg: 'DURATION',
      description: 'how long memory must stay high',
      default: 600,
    },
    {
      name: 'target-down-for',
      type: 'duration',
      arg: 'DURATION',
      description: 'how long a target may be down or absent',
      default: 300,
    },
    {
      name: 'dependency-down-for',
      type: 'duration',
      arg: 'DURATION',
      description: 'how long a readiness check may fail everywhere',
      default: 120,
    },
    {
      name: 'health-check-slow',
      type: 'duration',
      arg: 'DURATION',
      description: 'p95 health-check duration that alerts (checks time out after 1s by default)',
      default: 0.8,
    },
    {
      name: 'health-check-slow-for',
      type: 'duration',
      arg: 'DURATION',
      description: 'how long checks may be slow',
      default: 600,
    },
    {
      name: 'telemetry-dropped-for',
      type: 'duration',
      arg: 'DURATION',
      description: 'how long @obs may keep dropping spans, log records or metric points',
      default: 600,
    },
    {
      name: 'dependency-latency-p95',
      type: 'duration',
      arg: 'DURATION',
      description: 'p95 duration of calls to one HTTP dependency that alerts (window and for: the latency ones)',
      default: 1,
    },
    {
      name: 'pool-saturation',
      type: 'ratio',
      arg: 'RATIO',
      description: 'share of a connection pool in use, with requests waiting, that alerts',
      default: 0.9,
    },
    {
      name: 'queue-backlog',
      type: 'number',
      arg: 'MESSAGES',
      description: 'ready messages below which a growing queue does not alert',
      default: 100,
    },
    ...SLO_OPTIONS,
  ],
  examples: [
    'obs alerts --job shop -o shop.rules.yml && promtool check rules --lint=all shop.rules.yml',
    'obs alerts --config obs.yml --availability-objective 99.5% --slo-period 28d',
  ],
};

/** Settings from resolved options. */
export function alertsSettings(o: Options): AlertsSettings {
  const n = (name: string) => o[name] as number;
  return {
    selection: {
      job: o.job as string,
      ...(o.service !== undefined ? { service: o.service as string } : {}),
      labels: (o.selector as Record<string, string>) ?? {},
    },
    runbookUrlBase: o['runbook-url-base'] as string,
    errorRatio: n('error-ratio'),
    errorRatioWindowSeconds: n('error-ratio-window'),
    errorRatioForSeconds: n('error-ratio-for'),
    minRequestRate: n('min-request-rate'),
    latencyP95: n('latency-p95'),
    latencyWindowSeconds: n('latency-window'),
    latencyForSeconds: n('latency-for'),
    eventLoopLag: n('event-loop-lag'),
    eventLoopForSeconds: n('event-loop-for'),
    memoryLimitBytes: n('memory-limit'),
    memoryRatio: n('memory-ratio'),
    memoryForSeconds: n('memory-for'),
    targetDownForSeconds: n('target-down-for'),
    dependencyDownForSeconds: n('dependency-down-for'),
    healthCheckSlow: n('health-check-slow'),
    healthCheckSlowForSeconds: n('health-check-slow-for'),
    telemetryDroppedForSeconds: n('telemetry-dropped-for'),
    dependencyLatencyP95: n('dependency-latency-p95'),
    poolSaturation: n('pool-saturation'),
    queueBacklog: n('queue-backlog'),
    availability: { objective: n('availability-objective'), periodSeconds: n('slo-period') },
    latency: {
      objective: n('latency-objective'),
      periodSeconds: n('slo-period'),
      thresholdSeconds: n('latency-slo-threshold'),
    },
  };
}

/** Runs `obs alerts` on resolved options; returns the file's text. */
export function runAlerts(o: Options): string {
  return renderRules(alertsSettings(o));
}
