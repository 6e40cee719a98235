/**
 * Values a careless or hostile environment hands the resolver (issue 15, items 7-10): each costs at
 * most one warning, keeps every usable part, never turns a signal off, and no warning prints a
 * header value, a URL's userinfo or anything else secret.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_INSTRUMENTATIONS, type Env, type ObsOptions, resolveConfig } from '../src/config/resolve.js';
import { captureDiagnostics, diagnose } from '../src/diag.js';

function resolve(env: Env = {}, options: ObsOptions = {}) {
  const warnings: string[] = [];
  const restore = captureDiagnostics(warnings);
  try {
    return { config: resolveConfig(options, env), warnings };
  } finally {
    restore();
  }
}

describe('OTLP headers Node would refuse to send (item 7)', () => {
  for (const [label, member, named] of [
    ['a name with a space', 'bad name=1', 'entry 2 has a name that is not a valid HTTP header name'],
    ['a value outside Latin-1', 'x-team=%E2%9C%93', 'entry "x-team" has a value Node cannot send'],
    [
      'a percent-encoded CR LF in the value',
      'x-inject=a%0D%0AX-Evil: 1',
      'entry "x-inject" has a value Node cannot send',
    ],
    ['a percent-encoded NUL', 'x-nul=a%00b', 'entry "x-nul" has a value Node cannot send'],
    ['a name with a colon', 'x:y=1', 'entry 2 has a name that is not a valid HTTP header name'],
  ] as const) {
    it(`skips ${label} with one warning and keeps the valid headers`, () => {
      const { config, warnings } = resolve({
        OTEL_EXPORTER_OTLP_HEADERS: `x-before=1,${member},authorization=Bearer%20abc`,
      });
      for (const signal of ['traces', 'metrics', 'logs'] as const) {
        expect(config[signal].otlp.headers).toEqual({ 'x-before': '1', authorization: 'Bearer abc' });
      }
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(/^@obs warn: OTEL_EXPORTER_OTLP_HEADERS entry /);
      expect(warnings[0]).toContain(named);
      expect(warnings[0]).toContain('skipping it');
    });
  }

  it('validates headers given as options too', () => {
    const { config, warnings } = resolve({}, { otlp: { headers: { 'x-ok': '1', 'x-bad': 'a\r\nb', 'a b': '2' } } });
    expect(config.traces.otlp.headers).toEqual({ 'x-ok': '1' });
    expect(warnings).toHaveLength(2);
    for (const w of warnings) expect(w).toContain('options.otlp.headers');
  });

  it('leaves OTEL_RESOURCE_ATTRIBUTES values alone (they are not HTTP headers)', () => {
    const { config, warnings } = resolve({ OTEL_RESOURCE_ATTRIBUTES: 'team=%E2%9C%93,my key=1' });
    expect(config.resourceAttributes).toMatchObject({ team: '✓', 'my key': '1' });
    expect(warnings).toEqual([]);
  });
});

describe('a list of separators only (item 8)', () => {
  for (const [variable, raw, path, fallback] of [
    ['OTEL_TRACES_EXPORTER', ',', 'traces.exporters', ['otlp']],
    ['OTEL_LOGS_EXPORTER', ' , ', 'logs.exporters', []],
    ['OTEL_METRICS_EXPORTER', ',,', 'metrics.exporters', []],
    ['OTEL_NODE_ENABLED_INSTRUMENTATIONS', ',,', 'instrumentations', [...DEFAULT_INSTRUMENTATIONS]],
    ['OTEL_NODE_RESOURCE_DETECTORS', ' , ', 'resourceDetectors', ['env', 'host', 'process', 'serviceinstance']],
    ['OTEL_PROPAGATORS', ',', 'propagators', ['tracecontext', 'baggage']],
  ] as const) {
    it(`${variable}=${JSON.stringify(raw)} warns and uses the default`, () => {
      const { config, warnings } = resolve({ [variable]: raw });
      const value = path.split('.').reduce<unknown>((v, k) => (v as Record<string, unknown>)[k], config);
      expect(value).toEqual(fallback);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain(`${variable}=${JSON.stringify(raw)} lists no entry, only separators; using `);
    });
  }

  it('an empty array from options is a choice, not a typo', () => {
    const { config, warnings } = resolve({}, { instrumentations: { enabled: [] } });
    expect(config.instrumentations).toEqual([]);
    expect(warnings).toEqual([]);
  });
});

describe('smaller parsing defects (item 9)', () => {
  it('accepts OTEL_EXPORTER_OTLP_COMPRESSION=GZIP as gzip', () => {
    const { config, warnings } = resolve({ OTEL_EXPORTER_OTLP_COMPRESSION: 'GZIP' });
    expect(config.traces.otlp.compression).toBe('gzip');
    expect(warnings).toEqual([]);
  });

  for (const [variable, raw, path, fallback] of [
    ['OBS_SHUTDOWN_TIMEOUT_MS', '0x10', 'shutdownTimeoutMs', 5000],
    ['OTEL_BSP_MAX_QUEUE_SIZE', '0b101', 'traces.batch.maxQueueSize', 2048],
    ['OTEL_EXPORTER_OTLP_TIMEOUT', '0o17', 'logs.otlp.timeoutMs', 10000],
    ['OTEL_EXPORTER_PROMETHEUS_PORT', '0x2000', 'metrics.prometheus.port', undefined],
    ['OBS_DRAIN_TIMEOUT_MS', '1e3', 'drainTimeoutMs', 10000],
  ] as const) {
    it(`rejects the non-decimal ${variable}=${raw}`, () => {
      const { config, warnings } = resolve({ [variable]: raw });
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain(variable);
      expect(path.split('.').reduce<unknown>((v, k) => (v as Record<string, unknown>)[k], config)).toBe(fallback);
    });
  }

  it('rejects a non-decimal OTEL_TRACES_SAMPLER_ARG', () => {
    const { config, warnings } = resolve({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0x0' });
    expect(config.traces.samplerRatio).toBe(1);
    expect(warnings).toHaveLength(1);
  });

  it('keeps an OTEL_RESOURCE_ATTRIBUTES key with broken percent-encoding as written, with a warning', () => {
    const { config, warnings } = resolve({ OTEL_RESOURCE_ATTRIBUTES: 'ok=1,team%ZZ=a' });
    expect(config.resourceAttributes).toMatchObject({ ok: '1', 'team%ZZ': 'a' });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toBe(
      '@obs warn: OTEL_RESOURCE_ATTRIBUTES entry "team%ZZ" has invalid percent-encoding in its key; keeping the key as written',
    );
  });

  it("prints the example message of docs/configuration.md's 'Values and bad values' exactly", () => {
    const doc = readFileSync(new URL('../../../docs/configuration.md', import.meta.url), 'utf8');
    const example = /```\n\s*(@obs warn: (\w+)="([^"]*)"[^\n]*)\n\s*```/.exec(doc);
    expect(example).not.toBeNull();
    const [, line, variable, raw] = example as RegExpExecArray;
    expect(resolve({ [variable as string]: raw }).warnings).toEqual([line]);
  });
});

describe('warnings never print secrets (item 10)', () => {
  const SECRET = 's3cr3tP4ss';
  const cases: [string, string][] = [
    ['OTEL_EXPORTER_OTLP_HEADERS', `Authorization: Bearer ${SECRET}`],
    ['OTEL_EXPORTER_OTLP_HEADERS', `Authorization: Bearer ${SECRET}==`],
    ['OTEL_EXPORTER_OTLP_HEADERS', `x-api-key=${SECRET}%0A`],
    ['OTEL_EXPORTER_OTLP_HEADERS', `x-api-key=${SECRET}%E2%9C%93`],
    ['OTEL_EXPORTER_OTLP_HEADERS', `x-api-key=${SECRET}%ZZ`],
    ['OTEL_EXPORTER_OTLP_TRACES_HEADERS', `api key=${SECRET}`],
    ['OTEL_EXPORTER_OTLP_ENDPOINT', `ftp://user:${SECRET}@collector:4318`],
    ['OTEL_EXPORTER_OTLP_ENDPOINT', `collector:4318?token=${SECRET}`],
    ['OTEL_EXPORTER_OTLP_ENDPOINT', `http://user:${SECRET}@[::1`],
    ['OTEL_EXPORTER_OTLP_LOGS_ENDPOINT', `//user:${SECRET}@collector`],
    ['SENTRY_DSN', `https://${SECRET}@sentry.example.com/`],
    ['OTEL_RESOURCE_ATTRIBUTES', `db.password%ZZ=${SECRET}`],
    ['OTEL_RESOURCE_ATTRIBUTES', `password:${SECRET}`],
  ];
  for (const [variable, raw] of cases) {
    it(`${variable}=${JSON.stringify(raw.replace(SECRET, '…'))}: names the variable, not the secret`, () => {
      const { warnings } = resolve({ [variable]: raw });
      expect(warnings.length).toBeGreaterThan(0);
      for (const w of warnings) {
        expect(w).toContain(variable);
        expect(w).not.toContain(SECRET);
      }
    });
  }
});

describe('diagnostics never print secret shapes, whoever wrote the message (item 10)', () => {
  it('redacts a URL password or a token in a message, e.g. from the OpenTelemetry SDK', () => {
    const lines: string[] = [];
    const restore = captureDiagnostics(lines);
    try {
      diagnose('warn', "opentelemetry: Could not parse export URL: 'http://user:s3cr3t@[::1'");
      diagnose('error', 'opentelemetry: Export failed: 401 for Authorization: Bearer abc.DEF-123');
    } finally {
      restore();
    }
    expect(lines).toEqual([
      "@obs warn: opentelemetry: Could not parse export URL: 'http://user:[Redacted]@[::1'",
      '@obs error: opentelemetry: Export failed: 401 for Authorization: [Redacted] [Redacted]',
    ]);
  });
});
