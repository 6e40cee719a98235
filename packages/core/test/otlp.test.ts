import type { AddressInfo } from 'node:net';
import { createServer, type Socket } from 'node:net';
import { type OtlpReceiver, startOtlpReceiver } from '@obs/testkit';
import { DiagLogLevel, diag } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { resolveConfig } from '../src/config/resolve.js';
import { captureDiagnostics } from '../src/diag.js';
import { DROP_REPORT_INTERVAL_MS, dropReason, recordDropped, resetDrops } from '../src/export-health.js';
import {
  type BatchExporter,
  createOtlpExporter,
  deferredExporter as deferred,
  OTLP_CONCURRENCY_LIMIT,
} from '../src/otlp.js';

const TARGET = {
  signal: 'traces' as const,
  otlp: {
    url: 'http://127.0.0.1:9/v1/traces',
    protocol: 'http/protobuf' as const,
    headers: {},
    timeoutMs: 1000,
    compression: 'none' as const,
  },
  detachAfterMs: 100,
};
const deferredExporter = <T>(create: () => BatchExporter<T>) => deferred(create, TARGET);

type Result = { code: number; error?: Error };

function fakeExporter(log: string[]): BatchExporter<string> {
  return {
    export(items, done) {
      log.push(`export ${items.join(',')}`);
      done({ code: 0 });
    },
    shutdown: async () => {
      log.push('shutdown');
    },
    forceFlush: async () => {
      log.push('flush');
    },
  };
}

function exportOnce(exporter: BatchExporter<string>, items: string[]): Promise<Result> {
  return new Promise((resolve) => exporter.export(items, resolve));
}

describe('deferredExporter', () => {
  let restore: (() => void) | undefined;
  beforeEach(() => resetDrops());
  afterEach(() => restore?.());

  it('answers a batch still exporting after detachAfterMs as accepted (the processor goes on), and counts it dropped when it fails', async () => {
    const lines: string[] = [];
    restore = captureDiagnostics(lines);
    const pending: ((r: Result) => void)[] = [];
    const exporter = deferredExporter<string>(() => ({
      export: (_items, done) => pending.push(done),
      shutdown: async () => {},
    }));
    const started = performance.now();
    expect(await exportOnce(exporter, ['a', 'b'])).toEqual({ code: 0 });
    expect(performance.now() - started).toBeGreaterThanOrEqual(95);
    expect(lines).toEqual([]);
    // the export goes on in the background; it fails later: its two spans are counted
    pending[0]?.({ code: 1, error: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) });
    expect(lines).toEqual([
      '@obs warn: telemetry dropped since start: 2 spans (unavailable: 2); totals in obs_telemetry_dropped_total (next report in 30 s at the earliest)',
    ]);
  });

  it('answers a batch that exported in time with the exporter’s own result, without waiting', async () => {
    const exporter = deferredExporter<string>(() => ({
      export: (_items, done) => setTimeout(() => done({ code: 0 }), 10),
      shutdown: async () => {},
    }));
    const started = performance.now();
    expect(await exportOnce(exporter, ['a'])).toEqual({ code: 0 });
    expect(performance.now() - started).toBeLessThan(90);
  });

  it('creates the real exporter on the first export only, then reuses it', async () => {
    const log: string[] = [];
    let created = 0;
    const exporter = deferredExporter(() => {
      created++;
      return fakeExporter(log);
    });
    expect(created).toBe(0);
    expect(await exportOnce(exporter, ['a'])).toEqual({ code: 0 });
    expect(await exportOnce(exporter, ['b', 'c'])).toEqual({ code: 0 });
    await exporter.forceFlush?.();
    await exporter.shutdown();
    expect(created).toBe(1);
    expect(log).toEqual(['export a', 'export b,c', 'flush', 'shutdown']);
  });

  it('never creates it when the process shuts down before anything was exported', async () => {
    let created = 0;
    const exporter = deferredExporter(() => {
      created++;
      return fakeExporter([]);
    });
    await exporter.forceFlush?.();
    await exporter.shutdown();
    expect(created).toBe(0);
  });

  it('fails the batch with a warning when creation throws, and tries again on the next batch', async () => {
    const lines: string[] = [];
    restore = captureDiagnostics(lines);
    const log: string[] = [];
    let attempts = 0;
    const exporter = deferredExporter(() => {
      attempts++;
      if (attempts === 1) throw new Error('Cannot find module @opentelemetry/exporter-trace-otlp-proto');
      return fakeExporter(log);
    });
    const failed = await exportOnce(exporter, ['a']);
    expect(failed.code).toBe(1);
    expect(failed.error?.message).toContain('Cannot find module');
    expect(lines[0]).toMatch(/warn.*could not create the OTLP exporter.*Cannot find module/);
    expect(lines[1]).toMatch(/telemetry dropped since start: 1 spans \(export_failed: 1\)/);
    expect(lines).toHaveLength(2);
    expect(await exportOnce(exporter, ['b'])).toEqual({ code: 0 });
    expect(log).toEqual(['export b']);
  });
});

describe('createOtlpExporter', () => {
  it(`keeps at most ${OTLP_CONCURRENCY_LIMIT} exports in flight: with a collector that never answers, more batches fail at once`, async () => {
    const sockets: Socket[] = [];
    const server = createServer((socket) => sockets.push(socket)); // accepts, never answers
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const exporter = createOtlpExporter<BatchExporter<unknown>>('traces', {
      url: `http://127.0.0.1:${port}/v1/traces`,
      protocol: 'http/protobuf',
      headers: {},
      timeoutMs: 60_000,
      compression: 'none',
    });
    const results: { code: number; error?: Error }[] = [];
    for (let i = 0; i < OTLP_CONCURRENCY_LIMIT + 3; i++) exporter.export([], (r) => results.push(r));
    // the ones over the limit were answered right away (synchronously); those in flight are still waiting
    expect(results).toHaveLength(3);
    for (const r of results) {
      expect(r.code).toBe(1);
      expect(r.error?.message).toMatch(/concurrent export limit/i);
    }
    // no shutdown: it would wait for the two pending exports
    for (const s of sockets) s.destroy();
    server.close();
  });
});

describe('createOtlpExporter uses the resolved configuration only (issue 15, items 7, 9, 10)', () => {
  let receiver: OtlpReceiver;
  const saved = { ...process.env };
  const diagLines: string[] = [];
  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    diag.setLogger(
      {
        error: (m) => diagLines.push(`error ${m}`),
        warn: (m) => diagLines.push(`warn ${m}`),
        info: () => {},
        debug: () => {},
        verbose: () => {},
      },
      DiagLogLevel.WARN,
    );
  });
  afterAll(async () => {
    diag.disable();
    await receiver.close();
  });
  afterEach(() => {
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
    receiver.reset();
    diagLines.length = 0;
  });

  /** What the preload does: resolve from process.env, then build the exporter from the result. */
  async function exportOneSpan(env: Record<string, string>) {
    Object.assign(process.env, { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, ...env });
    const warnings: string[] = [];
    const restoreDiag = captureDiagnostics(warnings);
    let config: ReturnType<typeof resolveConfig>;
    try {
      config = resolveConfig({}, process.env);
    } finally {
      restoreDiag();
    }
    const exporter = createOtlpExporter<BatchExporter<unknown>>('traces', config.traces.otlp);
    const memory = new InMemorySpanExporter();
    const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter: memory })] });
    provider.getTracer('t').startSpan('probe').end();
    const result = await new Promise<Result>((resolve) => exporter.export(memory.getFinishedSpans(), resolve));
    await exporter.shutdown();
    return { result, warnings };
  }

  it('keeps exporting, with the valid headers, when OTEL_EXPORTER_OTLP_HEADERS holds headers Node refuses', async () => {
    const { result, warnings } = await exportOneSpan({
      OTEL_EXPORTER_OTLP_HEADERS: 'bad name=1,x-team=%E2%9C%93,x-crlf=a%0D%0Ab,x-good=yes',
    });
    expect(result.error?.message).toBeUndefined();
    expect(result.code).toBe(0);
    expect(receiver.requests).toHaveLength(1);
    expect(receiver.requests[0]?.headers['x-good']).toBe('yes');
    expect(warnings).toHaveLength(3);
  });

  it('sends gzip for OTEL_EXPORTER_OTLP_COMPRESSION=GZIP without a warning from the exporter', async () => {
    const { result, warnings } = await exportOneSpan({ OTEL_EXPORTER_OTLP_COMPRESSION: 'GZIP' });
    expect(result.code).toBe(0);
    expect(receiver.requests[0]?.contentEncoding).toBe('gzip');
    expect(warnings).toEqual([]);
    expect(diagLines).toEqual([]);
  });

  it('does not let the exporter print an endpoint with userinfo that @obs refused', async () => {
    const { result, warnings } = await exportOneSpan({
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://user:s3cr3t@[::1',
    });
    expect(result.code).toBe(0);
    expect(warnings).toEqual([
      '@obs warn: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is not an absolute http(s) URL; using the default',
    ]);
    expect(diagLines.join('\n')).not.toContain('s3cr3t');
  });

  it('leaves the environment as it found it', async () => {
    await exportOneSpan({ OTEL_EXPORTER_OTLP_HEADERS: 'x-a=1', OTEL_EXPORTER_OTLP_TRACES_COMPRESSION: 'gzip' });
    expect(process.env.OTEL_EXPORTER_OTLP_HEADERS).toBe('x-a=1');
    expect(process.env.OTEL_EXPORTER_OTLP_TRACES_COMPRESSION).toBe('gzip');
  });
});

describe('export health', () => {
  let restore: (() => void) | undefined;
  beforeEach(() => resetDrops());
  afterEach(() => {
    restore?.();
    vi.useRealTimers();
  });

  it('names the reason of a failed export', () => {
    expect(dropReason(new Error('Concurrent export limit reached'))).toBe('export_limit');
    expect(dropReason(new Error('Request timed out'))).toBe('timeout');
    expect(dropReason(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:4318'), { code: 'ECONNREFUSED' }))).toBe(
      'unavailable',
    );
    expect(dropReason(Object.assign(new Error('Service Unavailable'), { code: 503 }))).toBe('rejected');
    expect(dropReason(new Error('Nothing to send'))).toBe('export_failed');
    expect(dropReason(undefined)).toBe('export_failed');
  });

  it('reports drops with their counts at once, then at most once per interval, every interval they continue', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const lines: string[] = [];
    restore = captureDiagnostics(lines);
    recordDropped('traces', 'queue_full', 5);
    expect(lines).toEqual([expect.stringContaining('telemetry dropped since start: 5 spans (queue_full: 5)')]);
    recordDropped('traces', 'queue_full', 7);
    recordDropped('traces', 'unavailable', 3);
    recordDropped('logs', 'timeout', 2);
    expect(lines).toHaveLength(1);
    vi.advanceTimersByTime(DROP_REPORT_INTERVAL_MS);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toContain(
      'telemetry dropped in the last 30 s: 10 spans (queue_full: 7, unavailable: 3); 2 log records (timeout: 2)',
    );
    // nothing dropped in the next interval: no line
    vi.advanceTimersByTime(DROP_REPORT_INTERVAL_MS);
    expect(lines).toHaveLength(2);
    // a later drop, an interval after the last report: reported at once
    recordDropped('metrics', 'rejected', 4);
    expect(lines).toHaveLength(3);
    expect(lines[2]).toContain('telemetry dropped in the last 30 s: 4 metric data points (rejected: 4)');
  });
});
