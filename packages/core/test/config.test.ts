import { describe, expect, it } from 'vitest';
import {
  DEFAULT_INSTRUMENTATIONS,
  type Env,
  NO_TIMEOUT_MS,
  type ObsConfig,
  type ObsOptions,
  resolveConfig,
} from '../src/config/resolve.js';
import { captureDiagnostics } from '../src/diag.js';

/** Resolve with a clean diagnostics sink; never reads process.env. */
function resolve(env: Env = {}, options: ObsOptions = {}): { config: ObsConfig; warnings: string[] } {
  const warnings: string[] = [];
  const restore = captureDiagnostics(warnings);
  try {
    return { config: resolveConfig(options, env), warnings };
  } finally {
    restore();
  }
}

function otlpDefaults(signal: 'traces' | 'metrics' | 'logs') {
  return {
    url: `http://localhost:4318/v1/${signal}`,
    protocol: 'http/protobuf',
    headers: {},
    timeoutMs: 10000,
    compression: 'none',
  };
}

const DEFAULTS = {
  disabled: false,
  serviceName: 'unknown_service:node',
  resourceAttributes: { 'service.name': 'unknown_service:node' },
  resourceDetectors: ['env', 'host', 'process', 'serviceinstance'],
  traces: {
    exporters: ['otlp'],
    otlp: otlpDefaults('traces'),
    sampler: 'parentbased_always_on',
    samplerRatio: 1,
    batch: { scheduledDelayMs: 5000, exportTimeoutMs: 30000, maxQueueSize: 2048, maxExportBatchSize: 512 },
    limits: {
      attributeValueLengthLimit: undefined,
      attributeCountLimit: undefined,
      eventCountLimit: undefined,
      linkCountLimit: undefined,
      attributePerEventCountLimit: undefined,
      attributePerLinkCountLimit: undefined,
    },
    rootClientSpans: false,
  },
  metrics: {
    exporters: [],
    otlp: otlpDefaults('metrics'),
    temporality: 'cumulative',
    exportIntervalMs: 60000,
    exportTimeoutMs: 30000,
    prometheus: { host: '0.0.0.0', port: undefined },
    exemplarFilter: 'trace_based',
  },
  logs: {
    exporters: [],
    otlp: otlpDefaults('logs'),
    batch: { scheduledDelayMs: 1000, exportTimeoutMs: 30000, maxQueueSize: 2048, maxExportBatchSize: 512 },
    limits: { attributeCountLimit: undefined, attributeValueLengthLimit: undefined },
    level: 'info',
    sync: false,
    redactKeys: [],
    redactStrings: true,
  },
  propagators: ['tracecontext', 'baggage'],
  instrumentations: [...DEFAULT_INSTRUMENTATIONS],
  instrumentationPackages: [],
  addedInstrumentations: [],
  diagLevel: 'warn',
  shutdownTimeoutMs: 5000,
  handleSignals: true,
  httpServerInstrumentation: 'obs',
  sentry: { dsn: undefined, release: undefined, environment: undefined, minStatus: 500, tracesSampleRate: undefined },
  shutdownDelayMs: 0,
  drainTimeoutMs: 10000,
  health: { cacheMs: 1000, timeoutMs: 900, details: false },
  management: { port: undefined, address: undefined },
  httpLogFields: [],
};

/** Read a dotted path out of the config. */
function at(config: ObsConfig, path: string): unknown {
  return path.split('.').reduce<unknown>((v, k) => (v as Record<string, unknown>)[k], config);
}

interface VariableCase {
  variable: string;
  path: string;
  fallback: unknown;
  valid: [raw: string, parsed: unknown][];
  bad: string[];
  /** What a bad value resolves to, when not the fallback (a list whose only entries were unknown is empty). */
  rejected?: unknown;
  /** Extra environment needed for the variable to be read at all. */
  env?: Env;
}

const VARIABLES: VariableCase[] = [
  {
    variable: 'OTEL_SDK_DISABLED',
    path: 'disabled',
    fallback: false,
    valid: [
      ['true', true],
      ['TRUE', true],
      [' false ', false],
    ],
    bad: ['yes', '1', 'on', 'garbage'],
  },
  {
    variable: 'OTEL_SERVICE_NAME',
    path: 'serviceName',
    fallback: 'unknown_service:node',
    valid: [
      ['checkout', 'checkout'],
      ['  padded  ', 'padded'],
    ],
    bad: [],
  },
  {
    variable: 'OTEL_TRACES_SAMPLER',
    path: 'traces.sampler',
    fallback: 'parentbased_always_on',
    valid: [
      ['always_on', 'always_on'],
      ['always_off', 'always_off'],
      ['TraceIdRatio', 'traceidratio'],
      ['parentbased_always_off', 'parentbased_always_off'],
      ['parentbased_traceidratio', 'parentbased_traceidratio'],
    ],
    bad: ['sometimes', 'jaeger_remote', 'xray'],
  },
  {
    variable: 'OTEL_TRACES_SAMPLER_ARG',
    path: 'traces.samplerRatio',
    fallback: 1,
    env: { OTEL_TRACES_SAMPLER: 'traceidratio' },
    valid: [
      ['0.25', 0.25],
      ['0', 0],
      ['1', 1],
    ],
    bad: ['1.5', '-0.1', 'half', 'NaN', 'Infinity'],
  },
  {
    variable: 'OTEL_TRACES_EXPORTER',
    path: 'traces.exporters',
    fallback: ['otlp'],
    valid: [
      ['console', ['console']],
      ['otlp, console', ['otlp', 'console']],
      ['none', []],
    ],
    bad: ['zipkin', 'prometheus'],
  },
  {
    variable: 'OTEL_METRICS_EXPORTER',
    path: 'metrics.exporters',
    fallback: [],
    valid: [
      ['otlp', ['otlp']],
      ['prometheus,console', ['console']],
      ['none', []],
    ],
    bad: ['statsd'],
  },
  {
    variable: 'OTEL_LOGS_EXPORTER',
    path: 'logs.exporters',
    fallback: [],
    valid: [
      ['otlp', ['otlp']],
      ['console', ['console']],
    ],
    bad: ['fluentd', 'prometheus'],
  },
  {
    variable: 'OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE',
    path: 'metrics.temporality',
    fallback: 'cumulative',
    valid: [
      ['delta', 'delta'],
      ['LowMemory', 'lowmemory'],
    ],
    bad: ['monthly'],
  },
  {
    variable: 'OTEL_METRIC_EXPORT_INTERVAL',
    path: 'metrics.exportIntervalMs',
    fallback: 60000,
    valid: [['15000', 15000]],
    bad: ['0', '-1', '1.5', 'often'],
  },
  {
    variable: 'OTEL_METRIC_EXPORT_TIMEOUT',
    path: 'metrics.exportTimeoutMs',
    fallback: 30000,
    valid: [
      ['5000', 5000],
      ['0', NO_TIMEOUT_MS],
    ],
    bad: ['-5', '2.5', 'soon'],
  },
  {
    variable: 'OTEL_METRICS_EXEMPLAR_FILTER',
    path: 'metrics.exemplarFilter',
    fallback: 'trace_based',
    valid: [
      ['always_off', 'always_off'],
      ['ALWAYS_ON', 'always_on'],
    ],
    bad: ['sometimes'],
  },
  {
    variable: 'OTEL_EXPORTER_PROMETHEUS_HOST',
    path: 'metrics.prometheus.host',
    fallback: '0.0.0.0',
    valid: [['127.0.0.1', '127.0.0.1']],
    bad: [],
  },
  {
    variable: 'OTEL_EXPORTER_PROMETHEUS_PORT',
    path: 'metrics.prometheus.port',
    fallback: undefined,
    valid: [
      ['9464', 9464],
      ['1', 1],
    ],
    bad: ['65536', '-1', '0', '94.64', 'http'],
  },
  {
    variable: 'OBS_LOG_LEVEL',
    path: 'logs.level',
    fallback: 'info',
    valid: [
      ['debug', 'debug'],
      ['WARN', 'warn'],
      ['silent', 'silent'],
    ],
    bad: ['verbose', 'warning'],
  },
  {
    variable: 'OBS_REDACT_KEYS',
    path: 'logs.redactKeys',
    fallback: [],
    valid: [['ssn, Card_Number,ssn', ['ssn', 'card_number']]],
    bad: [],
  },
  {
    variable: 'OBS_REDACT_STRINGS',
    path: 'logs.redactStrings',
    fallback: true,
    valid: [['false', false]],
    bad: ['off'],
  },
  {
    variable: 'OTEL_PROPAGATORS',
    path: 'propagators',
    fallback: ['tracecontext', 'baggage'],
    valid: [
      ['b3', ['b3']],
      ['tracecontext,b3multi', ['tracecontext', 'b3multi']],
      ['none', []],
      ['tracecontext,none', []],
    ],
    bad: ['xray', 'ottrace'],
  },
  {
    variable: 'OTEL_LOG_LEVEL',
    path: 'diagLevel',
    fallback: 'warn',
    valid: [
      ['debug', 'debug'],
      ['NONE', 'none'],
    ],
    bad: ['loud'],
  },
  {
    variable: 'OBS_SHUTDOWN_TIMEOUT_MS',
    path: 'shutdownTimeoutMs',
    fallback: 5000,
    valid: [['2000', 2000]],
    bad: ['0', '-100', '1.5', 'forever'],
  },
  {
    variable: 'OBS_HANDLE_SIGNALS',
    path: 'handleSignals',
    fallback: true,
    valid: [['false', false]],
    bad: ['no', '0'],
  },
  {
    variable: 'OBS_HTTP_SERVER_INSTRUMENTATION',
    path: 'httpServerInstrumentation',
    fallback: 'obs',
    valid: [
      ['otel', 'otel'],
      ['OTEL', 'otel'],
    ],
    bad: ['instrumentation-http', 'none'],
  },
  {
    variable: 'OBS_LOG_SYNC',
    path: 'logs.sync',
    fallback: false,
    valid: [['true', true]],
    bad: ['yes', '1'],
  },
  {
    variable: 'OBS_ROOT_CLIENT_SPANS',
    path: 'traces.rootClientSpans',
    fallback: false,
    valid: [
      ['true', true],
      ['FALSE', false],
    ],
    bad: ['keep', '1'],
  },
  {
    variable: 'OBS_SHUTDOWN_DELAY_MS',
    path: 'shutdownDelayMs',
    fallback: 0,
    valid: [
      ['0', 0],
      ['3000', 3000],
    ],
    bad: ['-1', '1.5', 'soon'],
  },
  {
    variable: 'OBS_DRAIN_TIMEOUT_MS',
    path: 'drainTimeoutMs',
    fallback: 10000,
    valid: [
      ['0', 0],
      ['20000', 20000],
    ],
    bad: ['-5', 'long'],
  },
  {
    variable: 'OBS_HEALTH_CACHE_MS',
    path: 'health.cacheMs',
    fallback: 1000,
    valid: [
      ['0', 0],
      ['250', 250],
    ],
    bad: ['-1', '0.5'],
  },
  {
    variable: 'OBS_HEALTH_TIMEOUT_MS',
    path: 'health.timeoutMs',
    fallback: 900,
    valid: [['1800', 1800]],
    bad: ['0', 'fast'],
  },
  {
    variable: 'OBS_HEALTH_DETAILS',
    path: 'health.details',
    fallback: false,
    valid: [['TRUE', true]],
    bad: ['yes'],
  },
  {
    variable: 'OBS_MANAGEMENT_PORT',
    path: 'management.port',
    fallback: undefined,
    valid: [
      ['9464', 9464],
      ['0', 0],
    ],
    bad: ['65536', '-1', 'http', '0x10'],
  },
  {
    variable: 'OBS_HTTP_LOG_FIELDS',
    path: 'httpLogFields',
    fallback: [],
    valid: [
      ['client.address', ['client.address']],
      ['User_Agent.Original, http.response.body.size', ['user_agent.original', 'http.response.body.size']],
    ],
    bad: ['user_agent', 'client.ip'],
  },
  {
    variable: 'OTEL_NODE_RESOURCE_DETECTORS',
    path: 'resourceDetectors',
    fallback: ['env', 'host', 'process', 'serviceinstance'],
    valid: [
      ['env,os', ['env', 'os']],
      ['all', ['env', 'host', 'os', 'process', 'serviceinstance', 'container']],
      ['env,container', ['env', 'container']],
      ['none', []],
      // as with exporters, "none" wins
      ['all,none', []],
    ],
    bad: ['gcp', 'aws', 'azure', 'alibaba'],
  },
  {
    variable: 'OTEL_NODE_ENABLED_INSTRUMENTATIONS',
    path: 'instrumentations',
    fallback: [...DEFAULT_INSTRUMENTATIONS],
    valid: [
      ['http, PG', ['http', 'pg']],
      ['http,fastify', ['http', 'fastify']],
    ],
    bad: ['mongodb'],
  },
  {
    variable: 'OBS_INSTRUMENTATION_PACKAGES',
    path: 'instrumentationPackages',
    fallback: [],
    valid: [
      ['@opentelemetry/instrumentation-dataloader', ['@opentelemetry/instrumentation-dataloader']],
      [' generic-pool-instrumentation , @acme/otel-soap ', ['generic-pool-instrumentation', '@acme/otel-soap']],
    ],
    bad: ['../local-path', '/abs/path', 'a b'],
  },
  {
    variable: 'OTEL_NODE_DISABLED_INSTRUMENTATIONS',
    path: 'instrumentations',
    fallback: [...DEFAULT_INSTRUMENTATIONS],
    valid: [['runtime-node,amqplib', DEFAULT_INSTRUMENTATIONS.filter((n) => n !== 'runtime-node' && n !== 'amqplib')]],
    bad: ['fs'],
  },
];

for (const prefix of ['OTEL_BSP', 'OTEL_BLRP'] as const) {
  const path = prefix === 'OTEL_BSP' ? 'traces.batch' : 'logs.batch';
  VARIABLES.push(
    {
      variable: `${prefix}_SCHEDULE_DELAY`,
      path: `${path}.scheduledDelayMs`,
      fallback: prefix === 'OTEL_BSP' ? 5000 : 1000,
      valid: [
        ['200', 200],
        ['0', 0],
      ],
      bad: ['-1', '1.5', 'later'],
    },
    {
      variable: `${prefix}_EXPORT_TIMEOUT`,
      path: `${path}.exportTimeoutMs`,
      fallback: 30000,
      valid: [
        ['1000', 1000],
        ['0', NO_TIMEOUT_MS],
      ],
      bad: ['-1', '0.5', 'x'],
    },
    {
      variable: `${prefix}_MAX_QUEUE_SIZE`,
      path: `${path}.maxQueueSize`,
      fallback: 2048,
      valid: [['4096', 4096]],
      bad: ['0', '-1', '10.5', 'big'],
    },
    {
      variable: `${prefix}_MAX_EXPORT_BATCH_SIZE`,
      path: `${path}.maxExportBatchSize`,
      fallback: 512,
      valid: [['100', 100]],
      bad: ['0', '-1', '1.5', 'many'],
    },
  );
}

for (const [variable, path] of [
  ['OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT', 'traces.limits.attributeValueLengthLimit'],
  ['OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT', 'traces.limits.attributeValueLengthLimit'],
  ['OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT', 'traces.limits.attributeCountLimit'],
  ['OTEL_ATTRIBUTE_COUNT_LIMIT', 'traces.limits.attributeCountLimit'],
  ['OTEL_SPAN_EVENT_COUNT_LIMIT', 'traces.limits.eventCountLimit'],
  ['OTEL_SPAN_LINK_COUNT_LIMIT', 'traces.limits.linkCountLimit'],
  ['OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT', 'traces.limits.attributePerEventCountLimit'],
  ['OTEL_LINK_ATTRIBUTE_COUNT_LIMIT', 'traces.limits.attributePerLinkCountLimit'],
  ['OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT', 'logs.limits.attributeCountLimit'],
  ['OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT', 'logs.limits.attributeValueLengthLimit'],
] as const) {
  VARIABLES.push({
    variable,
    path,
    fallback: undefined,
    valid: [
      ['64', 64],
      ['0', 0],
    ],
    bad: ['-1', '1.5', 'lots'],
  });
}

for (const signal of ['traces', 'metrics', 'logs'] as const) {
  const S = signal.toUpperCase();
  VARIABLES.push(
    {
      variable: `OTEL_EXPORTER_OTLP_${S}_ENDPOINT`,
      path: `${signal}.otlp.url`,
      fallback: `http://localhost:4318/v1/${signal}`,
      valid: [
        ['http://collector:4318/custom', 'http://collector:4318/custom'],
        ['https://otlp.example.com/v1/x/', 'https://otlp.example.com/v1/x/'],
      ],
      bad: ['collector:4318', 'ftp://collector/', 'not a url'],
    },
    {
      variable: `OTEL_EXPORTER_OTLP_${S}_PROTOCOL`,
      path: `${signal}.otlp.protocol`,
      fallback: 'http/protobuf',
      valid: [
        ['http/json', 'http/json'],
        ['HTTP/PROTOBUF', 'http/protobuf'],
        ['GRPC', 'grpc'],
      ],
      bad: ['thrift', 'http'],
    },
    {
      variable: `OTEL_EXPORTER_OTLP_${S}_TIMEOUT`,
      path: `${signal}.otlp.timeoutMs`,
      fallback: 10000,
      valid: [
        ['2500', 2500],
        ['0', NO_TIMEOUT_MS],
      ],
      bad: ['-1', '2.5', 'slow'],
    },
    {
      variable: `OTEL_EXPORTER_OTLP_${S}_COMPRESSION`,
      path: `${signal}.otlp.compression`,
      fallback: 'none',
      valid: [['gzip', 'gzip']],
      bad: ['zstd'],
    },
    {
      variable: `OTEL_EXPORTER_OTLP_${S}_HEADERS`,
      path: `${signal}.otlp.headers`,
      fallback: {},
      valid: [['x-tenant=a%20b', { 'x-tenant': 'a b' }]],
      bad: ['just-a-key'],
    },
  );
}

describe('resolveConfig: defaults', () => {
  it('resolves an empty environment to the documented defaults without a warning', () => {
    const { config, warnings } = resolve();
    expect(config).toEqual(DEFAULTS);
    expect(warnings).toEqual([]);
  });

  it('treats empty and blank strings as unset for every variable it reads', () => {
    const env: Env = {};
    for (const c of VARIABLES) env[c.variable] = '';
    for (const name of [
      'OTEL_RESOURCE_ATTRIBUTES',
      'OTEL_EXPORTER_OTLP_ENDPOINT',
      'OTEL_EXPORTER_OTLP_PROTOCOL',
      'OTEL_EXPORTER_OTLP_HEADERS',
      'OTEL_EXPORTER_OTLP_TIMEOUT',
      'OTEL_EXPORTER_OTLP_COMPRESSION',
      'npm_package_name',
      'npm_package_version',
    ]) {
      env[name] = '  ';
    }
    const { config, warnings } = resolve(env);
    expect(config).toEqual(DEFAULTS);
    expect(warnings).toEqual([]);
  });

  it('returns a deeply frozen configuration', () => {
    const { config } = resolve({ OTEL_RESOURCE_ATTRIBUTES: 'a=b', OTEL_EXPORTER_OTLP_HEADERS: 'k=v' });
    const objects: unknown[] = [
      config,
      config.resourceAttributes,
      config.resourceDetectors,
      config.traces,
      config.traces.exporters,
      config.traces.otlp,
      config.traces.otlp.headers,
      config.traces.batch,
      config.traces.limits,
      config.metrics.prometheus,
      config.logs.redactKeys,
      config.propagators,
      config.instrumentations,
    ];
    for (const o of objects) expect(Object.isFrozen(o)).toBe(true);
    expect(() => {
      (config.resourceAttributes as Record<string, string>).a = 'changed';
    }).toThrow(TypeError);
    expect(() => {
      (config.instrumentations as string[]).push('http');
    }).toThrow(TypeError);
    expect(config.resourceAttributes.a).toBe('b');
  });
});

describe('resolveConfig: each variable', () => {
  for (const c of VARIABLES) {
    describe(c.variable, () => {
      it(`defaults to ${JSON.stringify(c.fallback)}`, () => {
        const { config, warnings } = resolve({ ...c.env });
        expect(at(config, c.path)).toEqual(c.fallback);
        expect(warnings).toEqual([]);
      });

      for (const [raw, parsed] of c.valid) {
        it(`accepts ${JSON.stringify(raw)}`, () => {
          const { config, warnings } = resolve({ ...c.env, [c.variable]: raw });
          expect(at(config, c.path)).toEqual(parsed);
          // "none" mixed with others is the only valid-but-warned case
          if (!(raw.includes('none') && raw.includes(','))) expect(warnings).toEqual([]);
        });
      }

      for (const raw of c.bad) {
        it(`rejects ${JSON.stringify(raw)} with exactly one warning naming it`, () => {
          const { config, warnings } = resolve({ ...c.env, [c.variable]: raw });
          expect(at(config, c.path)).toEqual('rejected' in c ? c.rejected : c.fallback);
          expect(warnings).toHaveLength(1);
          expect(warnings[0]).toMatch(/^@obs warn: /);
          expect(warnings[0]).toContain(c.variable);
        });
      }
    });
  }
});

describe('resolveConfig: sampler', () => {
  it('falls back to parentbased_always_on for an unknown sampler and ignores its argument', () => {
    const { config, warnings } = resolve({ OTEL_TRACES_SAMPLER: 'sometimes', OTEL_TRACES_SAMPLER_ARG: '0.5' });
    expect(config.traces.sampler).toBe('parentbased_always_on');
    expect(config.traces.samplerRatio).toBe(1);
    expect(warnings).toEqual([
      expect.stringContaining('OTEL_TRACES_SAMPLER="sometimes" is not one of always_on, always_off'),
    ]);
  });

  it('reads the ratio for parentbased_traceidratio', () => {
    const { config } = resolve({ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1' });
    expect(config.traces.samplerRatio).toBe(0.1);
  });

  it('ignores the argument of a sampler that takes none', () => {
    const { config, warnings } = resolve({ OTEL_TRACES_SAMPLER: 'always_on', OTEL_TRACES_SAMPLER_ARG: 'junk' });
    expect(config.traces.samplerRatio).toBe(1);
    expect(warnings).toEqual([]);
  });

  it('validates options.samplerRatio like the variable', () => {
    const { config, warnings } = resolve({}, { sampler: 'traceidratio', samplerRatio: 2 });
    expect(config.traces.samplerRatio).toBe(1);
    expect(warnings).toEqual([expect.stringContaining('OTEL_TRACES_SAMPLER_ARG=2 is not a number between 0 and 1')]);
  });
});

describe('resolveConfig: exporters', () => {
  it('keeps the valid exporters next to unknown ones, with one warning naming the unknown ones', () => {
    const { config, warnings } = resolve({ OTEL_TRACES_EXPORTER: 'zipkin,console,jaeger,otlp' });
    expect(config.traces.exporters).toEqual(['console', 'otlp']);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('OTEL_TRACES_EXPORTER has unknown entries "zipkin", "jaeger"');
  });

  it('falls back to the default when no entry is usable, so a typo does not turn a signal off', () => {
    const { config, warnings } = resolve({ OTEL_TRACES_EXPORTER: 'otpl' });
    expect(config.traces.exporters).toEqual(['otlp']);
    expect(warnings).toEqual([expect.stringContaining('OTEL_TRACES_EXPORTER has unknown entry "otpl"')]);
    expect(warnings[0]).toContain('using otlp');
  });

  it('says the metrics fall back to prometheus (the /metrics route) when no entry is usable', () => {
    const { config, warnings } = resolve({ OTEL_METRICS_EXPORTER: 'prom' });
    expect(config.metrics.exporters).toEqual([]);
    expect(warnings).toEqual([
      '@obs warn: OTEL_METRICS_EXPORTER has unknown entry "prom" (known: otlp, console, none, prometheus); using prometheus',
    ]);
  });

  it('lets "none" win over other exporters, with a warning', () => {
    const { config, warnings } = resolve({ OTEL_TRACES_EXPORTER: 'otlp,none' });
    expect(config.traces.exporters).toEqual([]);
    expect(warnings).toEqual([expect.stringContaining('OTEL_TRACES_EXPORTER combines "none" with other exporters')]);
  });

  it('de-duplicates and lowercases', () => {
    const { config, warnings } = resolve({ OTEL_METRICS_EXPORTER: 'OTLP, otlp ,Prometheus' });
    expect(config.metrics.exporters).toEqual(['otlp']);
    expect(warnings).toEqual([]);
  });

  it('accepts arrays from options and prefers them over the environment', () => {
    const { config } = resolve({ OTEL_LOGS_EXPORTER: 'console' }, { logsExporter: ['otlp'] });
    expect(config.logs.exporters).toEqual(['otlp']);
  });
});

describe('resolveConfig: OTLP endpoints, protocol and headers', () => {
  it('uses a signal-specific endpoint as is and appends /v1/<signal> to the generic one', () => {
    const { config } = resolve({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://traces:9999/ingest',
    });
    expect(config.traces.otlp.url).toBe('http://traces:9999/ingest');
    expect(config.metrics.otlp.url).toBe('http://collector:4318/v1/metrics');
    expect(config.logs.otlp.url).toBe('http://collector:4318/v1/logs');
  });

  it('does not double the slash when the generic endpoint ends with one (or several)', () => {
    const { config } = resolve({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://otlp.example.com/prefix//' });
    expect(config.traces.otlp.url).toBe('https://otlp.example.com/prefix/v1/traces');
    expect(config.metrics.otlp.url).toBe('https://otlp.example.com/prefix/v1/metrics');
    expect(config.logs.otlp.url).toBe('https://otlp.example.com/prefix/v1/logs');
  });

  it('warns once for a bad generic endpoint and uses the default', () => {
    const { config, warnings } = resolve({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' });
    expect(config.traces.otlp.url).toBe('http://localhost:4318/v1/traces');
    // the value is not printed: an endpoint may carry credentials
    expect(warnings).toEqual([
      '@obs warn: OTEL_EXPORTER_OTLP_ENDPOINT is not an absolute http(s) URL; using the default',
    ]);
  });

  it('lets options.otlp.endpoint override both the generic and the signal-specific variables', () => {
    const { config } = resolve(
      { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://env:4318', OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: 'http://logs:1/x' },
      { otlp: { endpoint: 'http://opts:4318/' } },
    );
    expect(config.traces.otlp.url).toBe('http://opts:4318/v1/traces');
    expect(config.logs.otlp.url).toBe('http://opts:4318/v1/logs');
  });

  it('takes grpc for every signal, with the endpoint as is (no signal path) and 4317 by default', () => {
    const { config, warnings } = resolve({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' });
    for (const signal of ['traces', 'metrics', 'logs'] as const) {
      expect(config[signal].otlp.protocol).toBe('grpc');
      expect(config[signal].otlp.url).toBe('http://localhost:4317');
    }
    expect(warnings).toEqual([]);
    const custom = resolve({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'https://collector:4317',
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'grpc',
    }).config;
    expect(custom.traces.otlp.url).toBe('https://collector:4317');
    expect(custom.metrics.otlp.url).toBe('https://collector:4317/v1/metrics');
    expect(custom.metrics.otlp.protocol).toBe('http/protobuf');
  });

  it('applies the generic protocol to all signals and lets a specific one override it', () => {
    const { config } = resolve({
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'http/protobuf',
    });
    expect(config.traces.otlp.protocol).toBe('http/json');
    expect(config.metrics.otlp.protocol).toBe('http/protobuf');
    expect(config.logs.otlp.protocol).toBe('http/json');
  });

  it('falls through an empty signal-specific variable to the generic one', () => {
    const { config, warnings } = resolve({
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: '',
      OTEL_EXPORTER_OTLP_TIMEOUT: '1234',
      OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: ' ',
      OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip',
      OTEL_EXPORTER_OTLP_TRACES_COMPRESSION: '',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://generic:4318',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: '',
    });
    expect(config.traces.otlp).toEqual({
      url: 'http://generic:4318/v1/traces',
      protocol: 'http/json',
      headers: {},
      timeoutMs: 1234,
      compression: 'gzip',
    });
    expect(warnings).toEqual([]);
  });

  it('applies the generic timeout and compression to every signal', () => {
    const { config } = resolve({ OTEL_EXPORTER_OTLP_TIMEOUT: '3000', OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip' });
    for (const signal of ['traces', 'metrics', 'logs'] as const) {
      expect(config[signal].otlp.timeoutMs).toBe(3000);
      expect(config[signal].otlp.compression).toBe('gzip');
    }
  });

  for (const [variable, raw] of [
    ['OTEL_EXPORTER_OTLP_PROTOCOL', 'thrift'],
    ['OTEL_EXPORTER_OTLP_TIMEOUT', '-5'],
    ['OTEL_EXPORTER_OTLP_TIMEOUT', '1.5'],
    ['OTEL_EXPORTER_OTLP_COMPRESSION', 'zstd'],
    ['OTEL_EXPORTER_OTLP_HEADERS', 'novalue'],
    ['OTEL_EXPORTER_OTLP_ENDPOINT', 'ftp://x'],
  ] as const) {
    it(`warns exactly once, naming ${variable}, for a bad generic value ${JSON.stringify(raw)} read by three signals`, () => {
      const { warnings } = resolve({ [variable]: raw });
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain(variable);
    });
  }

  it('decodes percent-encoded headers and merges generic, signal-specific and options headers', () => {
    const { config, warnings } = resolve(
      {
        OTEL_EXPORTER_OTLP_HEADERS: 'Authorization=Bearer%20abc%3D%3D , x-tenant=generic,',
        OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'x-tenant=traces',
      },
      { otlp: { headers: { 'x-extra': '1' } } },
    );
    expect(config.traces.otlp.headers).toEqual({ Authorization: 'Bearer abc==', 'x-tenant': 'traces', 'x-extra': '1' });
    expect(config.metrics.otlp.headers).toEqual({
      Authorization: 'Bearer abc==',
      'x-tenant': 'generic',
      'x-extra': '1',
    });
    expect(warnings).toEqual([]);
  });
});

describe('resolveConfig: OTEL_RESOURCE_ATTRIBUTES', () => {
  it('decodes percent-encoded values, trims spaces and tolerates a trailing comma', () => {
    const { config, warnings } = resolve({
      OTEL_RESOURCE_ATTRIBUTES: ' deployment.environment = prod , team=a%20b%2Cc , url=http%3A%2F%2Fx%3Fy%3D1 ,',
    });
    expect(config.resourceAttributes).toEqual({
      'deployment.environment': 'prod',
      team: 'a b,c',
      url: 'http://x?y=1',
      'service.name': 'unknown_service:node',
    });
    expect(warnings).toEqual([]);
  });

  it('skips only a malformed member, keeps every valid one, and warns once naming the variable', () => {
    const { config, warnings } = resolve({ OTEL_RESOURCE_ATTRIBUTES: 'a=1,oops,b=2,c=x=y' });
    expect(config.resourceAttributes).toEqual({ a: '1', b: '2', c: 'x=y', 'service.name': 'unknown_service:node' });
    expect(warnings).toHaveLength(1);
    // by position: a member without "=" may be a secret pasted whole
    expect(warnings[0]).toBe('@obs warn: OTEL_RESOURCE_ATTRIBUTES entry 2 is not key=value; skipping it');
  });

  it('skips a member with an empty key', () => {
    const { config, warnings } = resolve({ OTEL_RESOURCE_ATTRIBUTES: 'a=1,=2' });
    expect(config.resourceAttributes).toEqual({ a: '1', 'service.name': 'unknown_service:node' });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('OTEL_RESOURCE_ATTRIBUTES');
  });

  it('keeps a value with broken percent-encoding verbatim, with a warning', () => {
    const { config, warnings } = resolve({ OTEL_RESOURCE_ATTRIBUTES: 'good=ok,broken=100%,bad=%E0%A4%A' });
    expect(config.resourceAttributes).toEqual({
      good: 'ok',
      broken: '100%',
      bad: '%E0%A4%A',
      'service.name': 'unknown_service:node',
    });
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toContain('OTEL_RESOURCE_ATTRIBUTES entry "broken" has invalid percent-encoding in its value');
    expect(warnings[1]).toContain('OTEL_RESOURCE_ATTRIBUTES entry "bad" has invalid percent-encoding in its value');
  });

  it('merges options.resourceAttributes over the variable', () => {
    const { config } = resolve(
      { OTEL_RESOURCE_ATTRIBUTES: 'a=env,b=env' },
      { resourceAttributes: { b: 'opts', n: 3, t: true } },
    );
    expect(config.resourceAttributes).toEqual({
      a: 'env',
      b: 'opts',
      n: '3',
      t: 'true',
      'service.name': 'unknown_service:node',
    });
  });
});

describe('resolveConfig: service name and version', () => {
  const full: Env = {
    OTEL_SERVICE_NAME: 'from-env',
    OTEL_RESOURCE_ATTRIBUTES: 'service.name=from-attrs',
    npm_package_name: 'from-npm',
  };

  it('prefers options.serviceName', () => {
    const { config } = resolve(full, { serviceName: 'from-options' });
    expect(config.serviceName).toBe('from-options');
    expect(config.resourceAttributes['service.name']).toBe('from-options');
  });

  it('then OTEL_SERVICE_NAME', () => {
    expect(resolve(full).config.serviceName).toBe('from-env');
  });

  it('then service.name in OTEL_RESOURCE_ATTRIBUTES', () => {
    const { config } = resolve({ ...full, OTEL_SERVICE_NAME: '' });
    expect(config.serviceName).toBe('from-attrs');
  });

  it('then npm_package_name', () => {
    const { config } = resolve({ npm_package_name: 'from-npm', OTEL_SERVICE_NAME: ' ' });
    expect(config.serviceName).toBe('from-npm');
    expect(config.resourceAttributes['service.name']).toBe('from-npm');
  });

  it('then unknown_service:node', () => {
    expect(resolve({}).config.serviceName).toBe('unknown_service:node');
  });

  it('treats an empty service.name attribute as unset', () => {
    const { config } = resolve({ OTEL_RESOURCE_ATTRIBUTES: 'service.name=', npm_package_name: 'from-npm' });
    expect(config.serviceName).toBe('from-npm');
    expect(config.resourceAttributes['service.name']).toBe('from-npm');
  });

  it('ignores an empty options.serviceName', () => {
    expect(resolve({ OTEL_SERVICE_NAME: 'from-env' }, { serviceName: '  ' }).config.serviceName).toBe('from-env');
  });

  it('takes service.version from options, then the attributes, then npm when the name is npm’s', () => {
    expect(resolve({}, { serviceVersion: '2.0.0' }).config.resourceAttributes['service.version']).toBe('2.0.0');
    expect(
      resolve({ OTEL_RESOURCE_ATTRIBUTES: 'service.version=1.1.0', npm_package_version: '9.9.9' }).config
        .resourceAttributes['service.version'],
    ).toBe('1.1.0');
    expect(
      resolve({ npm_package_name: 'svc', npm_package_version: '1.2.3' }).config.resourceAttributes['service.version'],
    ).toBe('1.2.3');
    // npm's version belongs to npm's package; not to a service named otherwise
    expect(
      resolve({ OTEL_SERVICE_NAME: 'other', npm_package_name: 'svc', npm_package_version: '1.2.3' }).config
        .resourceAttributes['service.version'],
    ).toBeUndefined();
  });
});

describe('resolveConfig: instrumentations', () => {
  it('keeps known enabled names, warns about unknown ones, then removes the disabled', () => {
    const { config, warnings } = resolve({
      OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http,express,mongodb,pg',
      OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'pg,fs',
    });
    expect(config.instrumentations).toEqual(['http', 'express']);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toContain('OTEL_NODE_ENABLED_INSTRUMENTATIONS has unknown entry "mongodb"');
    expect(warnings[1]).toContain('OTEL_NODE_DISABLED_INSTRUMENTATIONS has unknown entry "fs"');
  });

  it('lets options replace the variables', () => {
    const { config } = resolve(
      { OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'pg' },
      { instrumentations: { enabled: ['http', 'undici'], disabled: ['undici'] } },
    );
    expect(config.instrumentations).toEqual(['http']);
  });
});

describe('resolveConfig: batch processor', () => {
  it('clamps OTEL_BSP_MAX_EXPORT_BATCH_SIZE to OTEL_BSP_MAX_QUEUE_SIZE with one warning', () => {
    const { config, warnings } = resolve({ OTEL_BSP_MAX_QUEUE_SIZE: '100', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '500' });
    expect(config.traces.batch.maxQueueSize).toBe(100);
    expect(config.traces.batch.maxExportBatchSize).toBe(100);
    expect(config.logs.batch.maxExportBatchSize).toBe(512);
    expect(warnings).toEqual([
      '@obs warn: OTEL_BSP_MAX_EXPORT_BATCH_SIZE (500) exceeds OTEL_BSP_MAX_QUEUE_SIZE (100); using 100',
    ]);
  });

  it('clamps the default batch size to a small queue', () => {
    const { config, warnings } = resolve({ OTEL_BLRP_MAX_QUEUE_SIZE: '10' });
    expect(config.logs.batch.maxExportBatchSize).toBe(10);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('OTEL_BLRP_MAX_EXPORT_BATCH_SIZE (512) exceeds OTEL_BLRP_MAX_QUEUE_SIZE (10)');
  });
});

describe('resolveConfig: log record limits', () => {
  it('prefers the log-record-specific variable over the generic one, and leaves span limits alone', () => {
    const { config } = resolve({
      OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT: '100',
      OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: '200',
      OTEL_ATTRIBUTE_COUNT_LIMIT: '30',
      OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT: '40',
    });
    expect(config.logs.limits).toEqual({ attributeValueLengthLimit: 100, attributeCountLimit: 30 });
    expect(config.traces.limits.attributeCountLimit).toBe(40);
  });
});

describe('resolveConfig: span limits', () => {
  it('prefers the span-specific variable over the generic one', () => {
    const { config } = resolve({
      OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT: '100',
      OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: '200',
      OTEL_ATTRIBUTE_COUNT_LIMIT: '30',
    });
    expect(config.traces.limits.attributeValueLengthLimit).toBe(100);
    expect(config.traces.limits.attributeCountLimit).toBe(30);
  });
});

describe('resolveConfig: options override the environment', () => {
  it('for every option that has a variable', () => {
    const env: Env = {
      OTEL_SDK_DISABLED: 'false',
      OTEL_TRACES_SAMPLER: 'always_on',
      OTEL_PROPAGATORS: 'b3',
      OTEL_LOG_LEVEL: 'error',
      OBS_LOG_LEVEL: 'error',
      OBS_REDACT_KEYS: 'env_key',
      OBS_SHUTDOWN_TIMEOUT_MS: '100',
      OBS_HANDLE_SIGNALS: 'true',
      OTEL_EXPORTER_PROMETHEUS_HOST: '10.0.0.1',
      OTEL_EXPORTER_PROMETHEUS_PORT: '1111',
      OTEL_METRIC_EXPORT_INTERVAL: '1000',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_EXPORTER_OTLP_TIMEOUT: '1',
      OTEL_EXPORTER_OTLP_COMPRESSION: 'none',
      OTEL_TRACES_EXPORTER: 'console',
      OTEL_METRICS_EXPORTER: 'console',
    };
    const { config, warnings } = resolve(env, {
      disabled: true,
      sampler: 'traceidratio',
      samplerRatio: 0.5,
      propagators: ['tracecontext'],
      diagLevel: 'debug',
      logLevel: 'debug',
      redactKeys: ['Opt_Key'],
      shutdownTimeoutMs: 900,
      handleSignals: false,
      prometheus: { host: '127.0.0.1', port: 2222 },
      metricExportIntervalMs: 2000,
      otlp: { protocol: 'http/protobuf', timeoutMs: 77, compression: 'gzip' },
      tracesExporter: 'otlp',
      metricsExporter: 'none',
    });
    expect(warnings).toEqual([]);
    expect(config.disabled).toBe(true);
    expect(config.traces.sampler).toBe('traceidratio');
    expect(config.traces.samplerRatio).toBe(0.5);
    expect(config.propagators).toEqual(['tracecontext']);
    expect(config.diagLevel).toBe('debug');
    expect(config.logs.level).toBe('debug');
    expect(config.logs.redactKeys).toEqual(['opt_key']);
    expect(config.shutdownTimeoutMs).toBe(900);
    expect(config.handleSignals).toBe(false);
    expect(config.metrics.prometheus).toEqual({ host: '127.0.0.1', port: 2222 });
    expect(config.metrics.exportIntervalMs).toBe(2000);
    expect(config.traces.otlp).toMatchObject({ protocol: 'http/protobuf', timeoutMs: 77, compression: 'gzip' });
    expect(config.traces.exporters).toEqual(['otlp']);
    expect(config.metrics.exporters).toEqual([]);
  });

  it('validates typed option values and names the option in the warning', () => {
    const { config, warnings } = resolve({}, { otlp: { timeoutMs: -1 }, shutdownTimeoutMs: 1.5 });
    expect(config.traces.otlp.timeoutMs).toBe(10000);
    expect(config.shutdownTimeoutMs).toBe(5000);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toContain('options.otlp.timeoutMs=-1');
    expect(warnings[1]).toContain('OBS_SHUTDOWN_TIMEOUT_MS=1.5');
  });
});

describe('resolveConfig: shutdown delay in Kubernetes', () => {
  it('waits 5000 ms by default when KUBERNETES_SERVICE_HOST is set, 0 otherwise; the variable and the option win', () => {
    expect(resolve({ KUBERNETES_SERVICE_HOST: '10.0.0.1' }).config.shutdownDelayMs).toBe(5000);
    expect(resolve({ KUBERNETES_SERVICE_HOST: ' ' }).config.shutdownDelayMs).toBe(0);
    expect(resolve({ KUBERNETES_SERVICE_HOST: '10.0.0.1', OBS_SHUTDOWN_DELAY_MS: '0' }).config.shutdownDelayMs).toBe(0);
    expect(
      resolve({ KUBERNETES_SERVICE_HOST: '10.0.0.1' }, { shutdownDelayMs: 1500, drainTimeoutMs: 3000 }).config,
    ).toMatchObject({ shutdownDelayMs: 1500, drainTimeoutMs: 3000 });
    const { config, warnings } = resolve({}, { health: { cacheMs: 0, timeoutMs: 2000, details: true } });
    expect(config.health).toEqual({ cacheMs: 0, timeoutMs: 2000, details: true });
    expect(warnings).toEqual([]);
  });
});

describe('resolveConfig: cross-checks', () => {
  it('warns when log export is on but the pino instrumentation that feeds it is off', () => {
    const { warnings } = resolve({ OTEL_LOGS_EXPORTER: 'otlp', OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'pino' });
    expect(warnings).toEqual([expect.stringContaining('pino instrumentation is disabled')]);
  });

  it('refuses port 0 for the standalone Prometheus server', () => {
    const { config, warnings } = resolve({ OTEL_EXPORTER_PROMETHEUS_PORT: '0' });
    expect(config.metrics.prometheus.port).toBeUndefined();
    expect(warnings).toEqual([
      expect.stringContaining('OTEL_EXPORTER_PROMETHEUS_PORT="0" is not a port number (1-65535)'),
    ]);
  });
});

describe('resolveConfig: durations Node timers can hold', () => {
  it('refuses a duration above 2^31-1 ms (Node would turn it into 1 ms)', () => {
    const { config, warnings } = resolve({
      OBS_SHUTDOWN_TIMEOUT_MS: '99999999999',
      OTEL_BSP_SCHEDULE_DELAY: '3000000000',
    });
    expect(config.shutdownTimeoutMs).toBe(5000);
    expect(config.traces.batch.scheduledDelayMs).toBe(5000);
    expect(warnings).toHaveLength(2);
    expect(warnings.some((w) => w.includes('OBS_SHUTDOWN_TIMEOUT_MS'))).toBe(true);
  });
});

// Written from the surviving mutants of `src/config/resolve.ts` (docs/testing.md, "Mutation testing").
describe('resolveConfig: mutation-testing edges', () => {
  it('names the option, not the variable, in the warning about a bad options.otlp value', () => {
    const { config, warnings } = resolve(
      {},
      { otlp: { protocol: 'thrift' as 'grpc', endpoint: 'localhost:4318', compression: 'zstd' as 'gzip' } },
    );
    expect(config.traces.otlp).toMatchObject({
      protocol: 'http/protobuf',
      url: 'http://localhost:4318/v1/traces',
      compression: 'none',
    });
    expect(warnings).toEqual([
      '@obs warn: options.otlp.protocol="thrift" is not one of http/protobuf, http/json, grpc; using http/protobuf',
      '@obs warn: options.otlp.endpoint is not an absolute http(s) URL; using the default',
      '@obs warn: options.otlp.compression="zstd" is not one of gzip, none; using none',
    ]);
  });

  it('takes a batch size equal to the queue size as it is, without a warning', () => {
    const { config, warnings } = resolve({ OTEL_BSP_MAX_QUEUE_SIZE: '512', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '512' });
    expect(config.traces.batch).toMatchObject({ maxQueueSize: 512, maxExportBatchSize: 512 });
    expect(warnings).toEqual([]);
  });

  it('falls through a blank span-specific limit to the generic one', () => {
    const { config, warnings } = resolve({
      OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT: '  ',
      OTEL_ATTRIBUTE_COUNT_LIMIT: '7',
      OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT: '',
      OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: '64',
    });
    expect(config.traces.limits.attributeCountLimit).toBe(7);
    expect(config.logs.limits).toEqual({ attributeCountLimit: 7, attributeValueLengthLimit: 64 });
    expect(warnings).toEqual([]);
  });

  it("says a bad limit leaves the SDK's default, which is not a number @obs picks", () => {
    const { config, warnings } = resolve({ OTEL_SPAN_EVENT_COUNT_LIMIT: 'many' });
    expect(config.traces.limits.eventCountLimit).toBeUndefined();
    expect(warnings).toEqual([
      `@obs warn: OTEL_SPAN_EVENT_COUNT_LIMIT="many" is not an integer from 0 to ${NO_TIMEOUT_MS}; using the SDK's default`,
    ]);
  });

  it('keeps service.version from OTEL_RESOURCE_ATTRIBUTES over the version npm reports for the service', () => {
    const { config } = resolve({
      OTEL_RESOURCE_ATTRIBUTES: 'service.version=1.1.0',
      npm_package_name: 'svc',
      npm_package_version: '9.9.9',
    });
    expect(config.serviceName).toBe('svc');
    expect(config.resourceAttributes['service.version']).toBe('1.1.0');
    expect(config.sentry.release).toBe('svc@1.1.0');
  });

  it('adds no service.version attribute when npm names the package but reports no version', () => {
    const { config } = resolve({ npm_package_name: 'svc' });
    expect(Object.keys(config.resourceAttributes)).toEqual(['service.name']);
  });

  it('warns, naming OBS_REDACT_KEYS, when it lists only separators', () => {
    const { config, warnings } = resolve({ OBS_REDACT_KEYS: ' , ' });
    expect(config.logs.redactKeys).toEqual([]);
    expect(warnings).toEqual(['@obs warn: OBS_REDACT_KEYS=" , " lists no entry, only separators; using none']);
  });
});
