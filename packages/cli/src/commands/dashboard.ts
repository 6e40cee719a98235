/**
 * `obs dashboard`: a Grafana dashboard for a service instrumented with @obs, built with the typed
 * builders of `@grafana/grafana-foundation-sdk`. Rows: overview, RED per route, errors by status,
 * latency percentiles, runtime (event loop, CPU, memory, heap, GC), health checks and dependencies,
 * and the SLOs' error budgets and burn rates. Every query reads the series named in `@obs/core`'s
 * metric definitions.
 */
import {
  BigValueGraphMode,
  LegendDisplayMode,
  LegendPlacement,
  ReduceDataOptionsBuilder,
  StackingConfigBuilder,
  StackingMode,
  VisibilityMode,
  VizLegendOptionsBuilder,
} from '@grafana/grafana-foundation-sdk/common';
import {
  type Dashboard,
  DashboardBuilder,
  DashboardCursorSync,
  DatasourceVariableBuilder,
  MappingType,
  QueryVariableBuilder,
  RowBuilder,
  ThresholdsConfigBuilder,
  ThresholdsMode,
  VariableRefresh,
  VariableSort,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { PanelBuilder as HeatmapBuilder } from '@grafana/grafana-foundation-sdk/heatmap';
import { DataqueryBuilder, PromQueryFormat } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as StatBuilder } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as StateTimelineBuilder } from '@grafana/grafana-foundation-sdk/statetimeline';
import { PanelBuilder as TimeseriesBuilder } from '@grafana/grafana-foundation-sdk/timeseries';
import { COMMON_OPTIONS, type CommandSpec, type Options, SELECTION_OPTIONS, SLO_OPTIONS } from '../args.js';
import {
  bucketBound,
  by,
  HEALTH,
  HTTP,
  HTTP_CLIENT,
  INSTANCE,
  JOB,
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
import { BURN_RATE_WINDOWS, burnRateConditions, errorBudget, formatPeriod, type Slo } from '../slo.js';
import { formatNumber, formatPercent } from '../units.js';

/** Everything `obs dashboard` takes, resolved. */
export interface DashboardSettings {
  /** Fixed target labels (`service`, `--selector`); `job` becomes the default of the `$job` variable. */
  selection: Selection;
  title: string;
  uid: string;
  refresh: string;
  tags: string[];
  memoryLimitBytes?: number;
  availability: Slo;
  latency: Slo & { thresholdSeconds: number };
}

/** Grafana's variables the queries use; the end-to-end test substitutes them the way Grafana does. */
export const DASHBOARD_VARIABLES = {
  datasource: 'datasource',
  job: 'job',
  instance: 'instance',
  rateInterval: '$__rate_interval',
} as const;

const DS = { type: 'prometheus', uid: `\${${DASHBOARD_VARIABLES.datasource}}` };

/** The label matchers every panel query starts with. */
export function dashboardMatchers(selection: Selection): string[] {
  const fixed = selectionMatchers({ ...selection, job: undefined });
  return [`${JOB}=~"$${DASHBOARD_VARIABLES.job}"`, `${INSTANCE}=~"$${DASHBOARD_VARIABLES.instance}"`, ...fixed];
}

type AnyPanel = TimeseriesBuilder | StatBuilder | HeatmapBuilder | StateTimelineBuilder;

/** Builds the dashboard model. */
export function buildDashboard(s: DashboardSettings): Dashboard {
  const m = dashboardMatchers(s.selection);
  const ri = DASHBOARD_VARIABLES.rateInterval;
  const count = (extra: string[] = []) => series(HTTP.metric, [...m, ...extra], 'count');
  const bucket = (extra: string[] = []) => series(HTTP.metric, [...m, ...extra], 'bucket');
  const rate = (sel: string, window = ri) => `rate(${sel}[${window}])`;
  const route = [HTTP.method, HTTP.route];
  const routeLegend = `{{${HTTP.method}}} {{${HTTP.route}}}`;
  const errors = [HTTP.serverError];
  const calls = (extra: string[] = []) => series(HTTP_CLIENT.metric, [...m, ...extra], 'count');

  let id = 0;
  let ref = 0;
  const q = (expr: string, legend?: string) => {
    const b = new DataqueryBuilder()
      .expr(expr)
      .refId(String.fromCharCode(65 + ref++))
      .datasource(DS);
    return legend ? b.legendFormat(legend) : b;
  };
  const fresh = <T extends AnyPanel>(panel: T, title: string, description: string, span: number, height = 8): T => {
    ref = 0;
    panel.id(++id).title(title).description(description).datasource(DS).span(span).height(height);
    return panel;
  };
  const ts = (title: string, description: string, unit: string, span: number) =>
    fresh(new TimeseriesBuilder(), title, description, span)
      .unit(unit)
      .min(0)
      .fillOpacity(10)
      .legend(
        new VizLegendOptionsBuilder()
          .displayMode(LegendDisplayMode.List)
          .placement(LegendPlacement.Bottom)
          .showLegend(true)
          .calcs([]),
      );
  const stat = (title: string, description: string, unit: string, span = 6) =>
    fresh(new StatBuilder(), title, description, span, 4)
      .unit(unit)
      .graphMode(BigValueGraphMode.Area)
      .reduceOptions(new ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false));
  const steps = (mode: ThresholdsMode, list: { value: number | null; color: string }[]) =>
    new ThresholdsConfigBuilder().mode(mode).steps(list);

  const p95 = (groups: string[], sel: string) => `histogram_quantile(0.95, sum ${by([...groups, LE])} (${rate(sel)}))`;
  const ratio5xx = (groups: string[]) => {
    const g = groups.length ? `${by(groups)} ` : '';
    return `sum ${g}(${rate(count(errors))}) / sum ${g}(${rate(count())})`;
  };

  // Overview -----------------------------------------------------------------------------------------
  const overview = [
    stat('Request rate', 'HTTP requests per second, all routes and instances.', 'reqps').withTarget(
      q(`sum(${rate(count())})`, 'requests/s'),
    ),
    stat('5xx ratio', 'Share of HTTP requests answered with a 5xx status.', 'percentunit')
      .thresholds(
        steps(ThresholdsMode.Absolute, [
          { value: null, color: 'green' },
          { value: 0.01, color: 'orange' },
          { value: 0.05, color: 'red' },
        ]),
      )
      .withTarget(q(`(sum(${rate(count(errors))}) or vector(0)) / sum(${rate(count())})`, '5xx ratio')),
    stat('p95 latency', '95th percentile of the HTTP request duration, from the histogram buckets.', 's').withTarget(
      q(p95([], bucket()), 'p95'),
    ),
    stat('Targets up', 'Scrape targets Prometheus reaches (the `up` series), out of all it knows.', 'none')
      .thresholds(
        steps(ThresholdsMode.Absolute, [
          { value: null, color: 'red' },
          { value: 1, color: 'green' },
        ]),
      )
      .withTarget(q(`sum(${vectorSelector(UP, m)})`, 'up')),
  ];

  // RED per route ------------------------------------------------------------------------------------
  const red = [
    ts('Requests by route', 'Request rate per route template and method.', 'reqps', 8).withTarget(
      q(`sum ${by(route)} (${rate(count())})`, routeLegend),
    ),
    ts(
      '5xx ratio by route',
      'Share of requests answered with a 5xx, per route (routes with 5xx answers only).',
      'percentunit',
      8,
    ).withTarget(q(ratio5xx(route), routeLegend)),
    ts(
      'p95 latency by route',
      '95th percentile of the request duration per route, from bucket rates. The dots are exemplars: a recent request of that duration; click one to open its trace (docs/metrics.md).',
      's',
      8,
    ).withTarget(q(p95(route, bucket()), routeLegend).exemplar(true)),
  ];

  // Errors ----------------------------------------------------------------------------------------------
  const errorPanels = [
    ts('Responses by status code', 'Request rate per HTTP status code.', 'reqps', 12)
      .stacking(new StackingConfigBuilder().mode(StackingMode.Normal))
      .withTarget(q(`sum ${by([HTTP.status])} (${rate(count())})`, `{{${HTTP.status}}}`)),
    ts('5xx by route and status', 'Rate of 5xx answers per route and status code.', 'reqps', 12).withTarget(
      q(`sum ${by([...route, HTTP.status])} (${rate(count(errors))})`, `${routeLegend} {{${HTTP.status}}}`),
    ),
  ];

  // Latency ---------------------------------------------------------------------------------------------
  const latencyPanels = [
    ts(
      'Latency percentiles',
      'p50, p90, p95 and p99 of the HTTP request duration, all routes. The dots are exemplars: recent requests with their traces (docs/metrics.md).',
      's',
      12,
    )
      .withTarget(q(p95([], bucket()).replace('0.95', '0.5'), 'p50'))
      .withTarget(q(p95([], bucket()).replace('0.95', '0.9'), 'p90'))
      .withTarget(q(p95([], bucket()), 'p95'))
      .withTarget(q(p95([], bucket()).replace('0.95', '0.99'), 'p99').exemplar(true)),
    fresh(new HeatmapBuilder(), 'Latency distribution', 'Requests per duration bucket and interval.', 12)
      .calculate(false)
      .withTarget(q(`sum ${by([LE])} (increase(${bucket()}[${ri}]))`, `{{${LE}}}`).format(PromQueryFormat.Heatmap)),
  ];

  // Runtime ---------------------------------------------------------------------------------------------
  const memoryPanel = () => {
    const panel = ts(
      'Memory (RSS)',
      'Resident set size per instance, with the memory limit when one is configured.',
      'bytes',
      8,
    ).withTarget(q(`max ${by([INSTANCE])} (${series(RUNTIME.memory, m)})`, `{{${INSTANCE}}}`));
    if (s.memoryLimitBytes)
      panel.withTarget(q(`${s.memoryLimitBytes} + 0 * max(${series(RUNTIME.memory, m)})`, 'limit'));
    return panel;
  };
  const runtime = [
    ts('Event-loop delay p99', '99th percentile of the event-loop delay per instance.', 's', 8).withTarget(
      q(`max ${by([INSTANCE])} (${series(RUNTIME.eventLoopDelayP99, m)})`, `{{${INSTANCE}}}`),
    ),
    ts('Event-loop utilization', 'Share of time the event loop was busy, per instance.', 'percentunit', 8).withTarget(
      q(`max ${by([INSTANCE])} (${series(RUNTIME.eventLoopUtilization, m)})`, `{{${INSTANCE}}}`),
    ),
    ts('CPU', 'CPU seconds per second per instance and mode (1 = one core).', 'percentunit', 8)
      .stacking(new StackingConfigBuilder().mode(StackingMode.Normal))
      .withTarget(
        q(
          `sum ${by([INSTANCE, RUNTIME.cpuMode])} (${rate(series(RUNTIME.cpuTime, m))})`,
          `{{${INSTANCE}}} {{${RUNTIME.cpuMode}}}`,
        ),
      ),
    memoryPanel(),
    ts('V8 heap used', 'Heap used per instance and heap space.', 'bytes', 8)
      .stacking(new StackingConfigBuilder().mode(StackingMode.Normal))
      .withTarget(
        q(
          `sum ${by([INSTANCE, RUNTIME.heapSpace])} (${series(RUNTIME.heapUsed, m)})`,
          `{{${INSTANCE}}} {{${RUNTIME.heapSpace}}}`,
        ),
      ),
    ts('GC time', 'Share of time spent in garbage collection, per instance and GC type.', 'percentunit', 8).withTarget(
      q(
        `sum ${by([INSTANCE, RUNTIME.gcType])} (${rate(series(RUNTIME.gcDuration, m, 'sum'))})`,
        `{{${INSTANCE}}} {{${RUNTIME.gcType}}}`,
      ),
    ),
  ];

  // Health checks and dependencies ----------------------------------------------------------------------
  const health = [
    fresh(
      new StateTimelineBuilder(),
      'Health checks',
      'Outcome of each health check (readiness checks are the dependencies); the worst instance wins.',
      12,
    )
      .showValue(VisibilityMode.Never)
      .mappings([
        {
          type: MappingType.ValueToText,
          options: { '0': { text: 'failing', color: 'red', index: 0 }, '1': { text: 'ok', color: 'green', index: 1 } },
        },
      ])
      .withTarget(
        q(
          `min ${by([HEALTH.name, HEALTH.kind])} (${series(HEALTH.status, m)})`,
          `{{${HEALTH.name}}} ({{${HEALTH.kind}}})`,
        ),
      ),
    ts(
      'Health check duration p95',
      '95th percentile of each health check run; a check fails at its timeout (1 s by default).',
      's',
      12,
    ).withTarget(q(p95([HEALTH.durationName], series(HEALTH.duration, m, 'bucket')), `{{${HEALTH.durationName}}}`)),
    ts(
      'Outgoing calls by server and status',
      'HTTP calls the service makes (http, fetch), per server and status code; calls that got no answer have no status.',
      'reqps',
      8,
    ).withTarget(
      q(
        `sum ${by([HTTP_CLIENT.server, HTTP_CLIENT.status])} (${rate(calls())})`,
        `{{${HTTP_CLIENT.server}}} {{${HTTP_CLIENT.status}}}`,
      ),
    ),
    ts(
      'Failed outgoing calls by server',
      'Share of the calls to each server answered with a 5xx or not at all (refused, reset, timed out).',
      'percentunit',
      8,
    ).withTarget(
      q(
        `(sum ${by([HTTP_CLIENT.server])} (${rate(calls([HTTP_CLIENT.failed]))}) or 0 * sum ${by([HTTP_CLIENT.server])} (${rate(calls())}))` +
          ` / sum ${by([HTTP_CLIENT.server])} (${rate(calls())})`,
        `{{${HTTP_CLIENT.server}}}`,
      ),
    ),
    ts(
      'Outgoing call p95 by server',
      '95th percentile of the duration of the calls to each server; the dots are exemplars linking to the calling trace.',
      's',
      8,
    ).withTarget(
      q(p95([HTTP_CLIENT.server], series(HTTP_CLIENT.metric, m, 'bucket')), `{{${HTTP_CLIENT.server}}}`).exemplar(true),
    ),
  ];

  // gRPC: empty unless the opt-in grpc instrumentation runs (docs/instrumentations.md) ---------------------
  const served = (extra: string[] = []) => series(RPC.server, [...m, ...extra], 'count');
  const made = (extra: string[] = []) => series(RPC.client, [...m, ...extra], 'count');
  const grpc = [
    ts(
      'Served gRPC calls by method and status',
      'gRPC calls the service answered, per method and status.',
      'reqps',
      6,
    ).withTarget(q(`sum ${by([RPC.method, RPC.status])} (${rate(served())})`, `{{${RPC.method}}} {{${RPC.status}}}`)),
    ts(
      'Served gRPC call p95 by method',
      '95th percentile of the duration of the served calls of each method; the dots are exemplars linking to the trace.',
      's',
      6,
    ).withTarget(q(p95([RPC.method], series(RPC.server, m, 'bucket')), `{{${RPC.method}}}`).exemplar(true)),
    ts(
      'Failed outgoing gRPC calls by server',
      'Share of the gRPC calls to each server that ended with UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE or DATA_LOSS.',
      'percentunit',
      6,
    ).withTarget(
      q(
        `(sum ${by([RPC.clientServer])} (${rate(made([RPC.failed]))}) or 0 * sum ${by([RPC.clientServer])} (${rate(made())}))` +
          ` / sum ${by([RPC.clientServer])} (${rate(made())})`,
        `{{${RPC.clientServer}}}`,
      ),
    ),
    ts(
      'Outgoing gRPC call p95 by server',
      '95th percentile of the duration of the gRPC calls to each server.',
      's',
      6,
    ).withTarget(q(p95([RPC.clientServer], series(RPC.client, m, 'bucket')), `{{${RPC.clientServer}}}`).exemplar(true)),
  ];

  // SLOs ------------------------------------------------------------------------------------------------
  const period = formatPeriod(s.availability.periodSeconds);
  const availBudget = errorBudget(s.availability.objective);
  const latBudget = errorBudget(s.latency.objective);
  const fast = leMatcher(bucketBound(HTTP.metric, s.latency.thresholdSeconds));
  const badAvail = (w: string) =>
    `(sum(increase(${count(errors)}[${w}])) or vector(0)) / sum(increase(${count()}[${w}]))`;
  const badLatency = (w: string) => `(1 - sum(increase(${bucket([fast])}[${w}])) / sum(increase(${count()}[${w}])))`;
  const budgetSteps = steps(ThresholdsMode.Absolute, [
    { value: null, color: 'red' },
    { value: 0.25, color: 'orange' },
    { value: 0.5, color: 'green' },
  ]);
  const page = burnRateConditions(s.availability).filter((c) => c.severity === 'critical');
  const [w1, w2] = [BURN_RATE_WINDOWS[0]?.long ?? '1h', BURN_RATE_WINDOWS[1]?.long ?? '6h'];
  const sloPanels = [
    stat(
      `Availability error budget left (${formatPercent(s.availability.objective)}, ${period})`,
      `Share of the ${period} error budget (${formatPercent(availBudget)} of requests may fail with a 5xx) not yet spent.`,
      'percentunit',
    )
      .thresholds(budgetSteps)
      .withTarget(q(`1 - (${badAvail(period)}) / ${formatNumber(availBudget)}`, 'budget left')),
    stat(
      `Latency error budget left (${formatPercent(s.latency.objective)} < ${formatNumber(s.latency.thresholdSeconds)}s, ${period})`,
      `Share of the ${period} error budget (${formatPercent(latBudget)} of requests may be slower than ${formatNumber(s.latency.thresholdSeconds)} s) not yet spent.`,
      'percentunit',
    )
      .thresholds(budgetSteps)
      .withTarget(q(`1 - ${badLatency(period)} / ${formatNumber(latBudget)}`, 'budget left')),
    ts(
      'Error budget burn rate',
      `How fast each SLO spends its budget (1 = exactly the budget over ${period}). Pages at ` +
        `${page.map((c) => `${formatNumber(c.burnRate)}x over ${c.long}`).join(' and ')}.`,
      'none',
      12,
    )
      .thresholds(
        steps(ThresholdsMode.Absolute, [
          { value: null, color: 'green' },
          { value: page[1]?.burnRate ?? 6, color: 'orange' },
          { value: page[0]?.burnRate ?? 14.4, color: 'red' },
        ]),
      )
      .withTarget(q(`(${badAvail(w1)}) / ${formatNumber(availBudget)}`, `availability ${w1}`))
      .withTarget(q(`(${badAvail(w2)}) / ${formatNumber(availBudget)}`, `availability ${w2}`))
      .withTarget(q(`${badLatency(w1)} / ${formatNumber(latBudget)}`, `latency ${w1}`))
      .withTarget(q(`${badLatency(w2)} / ${formatNumber(latBudget)}`, `latency ${w2}`)),
  ];

  const fixed = selectionMatchers({ ...s.selection, job: undefined });
  const jobVar = new QueryVariableBuilder(DASHBOARD_VARIABLES.job)
    .label('Job')
    .datasource(DS)
    .query(`label_values(${vectorSelector(UP, fixed)}, ${JOB})`)
    .definition(`label_values(${vectorSelector(UP, fixed)}, ${JOB})`)
    .refresh(VariableRefresh.OnTimeRangeChanged)
    .sort(VariableSort.AlphabeticalAsc);
  if (s.selection.job !== undefined) jobVar.current({ text: s.selection.job, value: s.selection.job, selected: true });
  const instanceQuery = `label_values(${vectorSelector(UP, [`${JOB}=~"$${DASHBOARD_VARIABLES.job}"`, ...fixed])}, ${INSTANCE})`;

  const builder = new DashboardBuilder(s.title)
    .uid(s.uid)
    .description(
      'Generated by `obs dashboard` (@obs/cli) from the metric definitions @obs records with. Regenerate instead of editing.',
    )
    .tags(s.tags)
    .refresh(s.refresh)
    .time({ from: 'now-1h', to: 'now' })
    .timezone('browser')
    .tooltip(DashboardCursorSync.Crosshair)
    .withVariable(new DatasourceVariableBuilder(DASHBOARD_VARIABLES.datasource).label('Data source').type('prometheus'))
    .withVariable(jobVar)
    .withVariable(
      new QueryVariableBuilder(DASHBOARD_VARIABLES.instance)
        .label('Instance')
        .datasource(DS)
        .query(instanceQuery)
        .definition(instanceQuery)
        .refresh(VariableRefresh.OnTimeRangeChanged)
        .sort(VariableSort.AlphabeticalAsc)
        .multi(true)
        .includeAll(true)
        .allValue('.+')
        .current({ text: 'All', value: '$__all', selected: true }),
    );
  const rows: [string, AnyPanel[]][] = [
    ['Overview', overview],
    ['Requests per route (RED)', red],
    ['Errors', errorPanels],
    ['Latency', latencyPanels],
    ['Runtime', runtime],
    ['Health checks and dependencies', health],
    ['gRPC (opt-in instrumentation)', grpc],
    ['SLOs', sloPanels],
  ];
  for (const [title, panels] of rows) {
    builder.withRow(new RowBuilder(title).id(++id));
    for (const panel of panels) builder.withPanel(panel);
  }
  return builder.build();
}

/** The dashboard as JSON (Grafana's "Import dashboard" takes it as is). */
export function renderDashboard(settings: DashboardSettings): string {
  return `${JSON.stringify(buildDashboard(settings), null, 2)}\n`;
}

/** The `dashboard` command. */
export const dashboardCommand: CommandSpec = {
  name: 'dashboard',
  short: 'Grafana dashboard JSON',
  summary:
    'Write a Grafana dashboard (JSON) for services instrumented with @obs: RED per route, errors by status, latency ' +
    'percentiles, runtime, health checks and dependencies, SLO error budgets.',
  details:
    'Import it in Grafana (Dashboards > New > Import) or provision it from a file. It has a Prometheus data-source\n' +
    'variable and $job / $instance variables; --job sets the default job.',
  options: [
    ...COMMON_OPTIONS,
    ...SELECTION_OPTIONS,
    {
      name: 'title',
      type: 'string',
      arg: 'TEXT',
      description: 'dashboard title',
      defaultText: '"@obs service" or "@obs: JOB"',
    },
    {
      name: 'uid',
      type: 'string',
      arg: 'UID',
      description: 'dashboard uid (stable across imports)',
      defaultText: 'obs-service or obs-JOB',
    },
    { name: 'refresh', type: 'duration', arg: 'DURATION', description: 'auto-refresh interval', default: 30 },
    {
      name: 'tag',
      type: 'list',
      arg: 'TAGS',
      description: 'dashboard tags (comma-separated)',
      default: ['obs', 'generated'],
    },
    {
      name: 'memory-limit',
      type: 'bytes',
      arg: 'SIZE',
      description: 'draw this memory limit on the memory panel',
      defaultText: 'none',
    },
    ...SLO_OPTIONS,
  ],
  examples: ['obs dashboard --job shop -o shop-dashboard.json'],
};

/** Settings from resolved options. */
export function dashboardSettings(o: Options): DashboardSettings {
  const job = o.job as string | undefined;
  const uid = (o.uid as string | undefined) ?? (job ? `obs-${job}` : 'obs-service');
  const refresh = o.refresh as number;
  return {
    selection: {
      ...(job !== undefined ? { job } : {}),
      ...(o.service !== undefined ? { service: o.service as string } : {}),
      labels: (o.selector as Record<string, string>) ?? {},
    },
    title: (o.title as string | undefined) ?? (job ? `@obs: ${job}` : '@obs service'),
    uid: uid.replace(/[^a-zA-Z0-9_-]/g, '-').slice(0, 40),
    refresh: refresh >= 1 ? `${Math.round(refresh)}s` : '1s',
    tags: o.tag as string[],
    ...(o['memory-limit'] !== undefined ? { memoryLimitBytes: o['memory-limit'] as number } : {}),
    availability: { objective: o['availability-objective'] as number, periodSeconds: o['slo-period'] as number },
    latency: {
      objective: o['latency-objective'] as number,
      periodSeconds: o['slo-period'] as number,
      thresholdSeconds: o['latency-slo-threshold'] as number,
    },
  };
}

/** Runs `obs dashboard` on resolved options; returns the JSON text. */
export function runDashboard(o: Options): string {
  return renderDashboard(dashboardSettings(o));
}
