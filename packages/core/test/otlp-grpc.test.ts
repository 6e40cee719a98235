/**
 * OTLP over gRPC (`OTEL_EXPORTER_OTLP_PROTOCOL=grpc`, issue 18) in real processes under
 * `--import @obs/register`, against the gRPC OTLP receiver of @obs/testkit: the three signals arrive,
 * headers travel as metadata, gzip compresses on the wire, TLS with a certificate from
 * `OTEL_EXPORTER_OTLP_CERTIFICATE`, and a collector that is down or black-holed costs counted drops,
 * not requests or a hanging shutdown. A process exporting over HTTP never loads `@grpc/grpc-js`.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  freePort,
  type OtlpGrpcReceiver,
  runNode,
  type Service,
  startOtlpGrpcReceiver,
  startOtlpReceiver,
  startService,
} from '@obs/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const CORE = pathToFileURL(fileURLToPath(new URL('../dist/index.js', import.meta.url))).href;
const REGISTER = pathToFileURL(fileURLToPath(new URL('../../register/dist/index.js', import.meta.url))).href;
const PAD = 100_000;

let service: Service | undefined;
let receiver: OtlpGrpcReceiver | undefined;
afterEach(async () => {
  await service?.stop('SIGKILL').catch(() => undefined);
  service = undefined;
  await receiver?.close();
  receiver = undefined;
});

/** export-server.mjs under the preload, exporting with `env`. */
async function exportServer(env: Record<string, string>): Promise<Service> {
  service = await startService({
    cwd: FIXTURES,
    entry: 'export-server.mjs',
    preload: REGISTER,
    readyPath: false,
    env: { OBS_CORE_URL: CORE, OTEL_BSP_SCHEDULE_DELAY: '100', OTEL_BLRP_SCHEDULE_DELAY: '100', ...env },
  });
  return service;
}

const grpcLoaded = async (s: Service) => ((await (await s.fetch('/modules')).json()) as { grpc: boolean }).grpc;

/** `obs_telemetry_dropped_total` samples of the standalone Prometheus server, by `signal|reason`. */
async function dropped(metricsPort: number): Promise<Map<string, number>> {
  const body = await fetch(`http://127.0.0.1:${metricsPort}/metrics`)
    .then((res) => res.text())
    .catch(() => ''); // not listening yet
  const samples = new Map<string, number>();
  for (const [, labels, value] of body.matchAll(/^obs_telemetry_dropped_total\{([^}]*)\} (\d+)/gm)) {
    const signal = /signal="([^"]+)"/.exec(labels ?? '')?.[1];
    const reason = /reason="([^"]+)"/.exec(labels ?? '')?.[1];
    samples.set(`${signal}|${reason}`, Number(value));
  }
  return samples;
}

async function waitForDrops(metricsPort: number, key: string): Promise<number> {
  const deadline = performance.now() + 30_000;
  for (;;) {
    const count = (await dropped(metricsPort)).get(key) ?? 0;
    if (count > 0 || performance.now() > deadline) return count;
    await new Promise((r) => setTimeout(r, 200)); // paces the poll
  }
}

describe('OTLP over gRPC', { timeout: 60_000 }, () => {
  it('delivers spans, metrics and log records, with the headers as call metadata', async () => {
    receiver = await startOtlpGrpcReceiver();
    const s = await exportServer({
      OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_HEADERS: 'x-api-key=secret-1',
      OTEL_EXPORTER_OTLP_LOGS_HEADERS: 'x-tenant=t1',
      OTEL_METRICS_EXPORTER: 'otlp',
      OTEL_METRIC_EXPORT_INTERVAL: '200',
      OTEL_LOGS_EXPORTER: 'otlp',
    });
    expect(await grpcLoaded(s)).toBe(true);
    expect((await s.fetch(`/work?n=1&pad=${PAD}`)).status).toBe(200);
    const r = receiver;
    const span = await r.waitFor(() => r.spans.find((sp) => sp.attributes.pad !== undefined));
    expect(span.kind).toBe(2); // SERVER
    expect(span.attributes['url.path']).toBe('/work');
    // the request's log line, correlated with its span
    await r.waitFor(() => r.logs.find((l) => l.body === 'work done' && l.traceId === span.traceId));
    await r.waitFor(() => r.metrics.find((m) => m.name === 'export_server.work'));
    for (const signal of ['traces', 'metrics', 'logs'] as const) {
      const call = r.calls.find((c) => c.signal === signal);
      expect(call?.metadata['x-api-key']).toBe('secret-1');
      expect(call?.metadata['x-tenant']).toBe(signal === 'logs' ? 't1' : undefined);
    }
    // uncompressed: the span's padding crossed the wire as it is
    expect(r.wireBytes).toBeGreaterThan(PAD);
  });

  it('compresses with gzip (OTEL_EXPORTER_OTLP_COMPRESSION)', async () => {
    receiver = await startOtlpGrpcReceiver();
    const s = await exportServer({
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'grpc',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip',
      OTEL_METRICS_EXPORTER: 'none',
    });
    expect((await s.fetch(`/work?n=1&pad=${PAD}`)).status).toBe(200);
    const r = receiver;
    await r.waitFor(() => r.spans.find((sp) => sp.attributes.pad !== undefined));
    // the padded span's message was larger than everything that crossed the wire
    expect(Math.max(...r.calls.map((c) => c.bytes))).toBeGreaterThan(PAD);
    expect(r.wireBytes).toBeLessThan(PAD / 10);
  });

  describe('TLS', () => {
    let dir: string;
    let tls: { key: Buffer; cert: Buffer };
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'obs-grpc-tls-'));
      execFileSync(
        'openssl',
        [
          ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost'],
          ...['-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'],
          ...['-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')],
        ],
        { stdio: 'ignore' },
      );
      tls = { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('exports to an https:// endpoint whose certificate OTEL_EXPORTER_OTLP_CERTIFICATE names', async () => {
      receiver = await startOtlpGrpcReceiver({ tls });
      expect(receiver.url).toMatch(/^https:/);
      const s = await exportServer({
        OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_EXPORTER_OTLP_CERTIFICATE: join(dir, 'cert.pem'),
        OTEL_METRICS_EXPORTER: 'none',
      });
      expect((await s.fetch('/work?n=tls')).status).toBe(200);
      const r = receiver;
      await r.waitFor(() => r.spans.find((sp) => sp.attributes['url.path'] === '/work'));
    });

    it('delivers at exit to an https:// endpoint whose certificate OTEL_EXPORTER_OTLP_CERTIFICATE names', async () => {
      receiver = await startOtlpGrpcReceiver({ tls });
      const run = await runNode(['--import', REGISTER, 'exit-job.mjs'], {
        cwd: FIXTURES,
        env: {
          OBS_CORE_URL: CORE,
          MODE: 'exit',
          OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
          OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
          OTEL_EXPORTER_OTLP_CERTIFICATE: join(dir, 'cert.pem'),
          OTEL_METRICS_EXPORTER: 'none',
        },
      });
      expect(run.code).toBe(4);
      expect(receiver.spans.map((sp) => sp.name)).toEqual(['job-span']);
    });

    it('refuses an https:// endpoint whose certificate is not trusted, and counts the spans as dropped', async () => {
      receiver = await startOtlpGrpcReceiver({ tls });
      const metricsPort = await freePort();
      const s = await exportServer({
        OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_EXPORTER_OTLP_TIMEOUT: '1000',
        OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort),
        OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
      });
      expect((await s.fetch('/work?n=untrusted')).status).toBe(200);
      expect(await waitForDrops(metricsPort, 'traces|unavailable')).toBeGreaterThan(0);
      expect(receiver.calls).toHaveLength(0);
    });
  });

  it('with the collector down: requests answer, drops are counted as unavailable, SIGTERM ends it at once', async () => {
    const metricsPort = await freePort();
    const s = await exportServer({
      OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${await freePort()}`, // nothing listens there
      OTEL_EXPORTER_OTLP_TIMEOUT: '500',
      OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort),
      OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
      OBS_SHUTDOWN_TIMEOUT_MS: '30000',
    });
    for (let i = 0; i < 5; i++) expect((await s.fetch(`/work?n=${i}`)).status).toBe(200);
    expect(await waitForDrops(metricsPort, 'traces|unavailable')).toBeGreaterThan(0);
    expect(s.stderr()).toMatch(/@obs warn: telemetry dropped since start: \d+ spans \(unavailable: \d+\)/);
    // a shutdown that hung on the exporter would end in the stop()'s SIGKILL
    expect(await s.stop('SIGTERM')).toMatchObject({ signal: 'SIGTERM' });
  });

  describe('with a black-holed collector (it accepts connections and never answers)', () => {
    let blackHole: Server;
    const sockets = new Set<Socket>();
    beforeAll(async () => {
      blackHole = createServer((socket) => sockets.add(socket.on('error', () => undefined)));
      await new Promise<void>((resolve) => blackHole.listen(0, '127.0.0.1', resolve));
    });
    afterAll(() => {
      for (const socket of sockets) socket.destroy();
      blackHole.close();
    });
    const endpoint = () => `http://127.0.0.1:${(blackHole.address() as { port: number }).port}`;

    it('requests answer, drops are counted as timeout, SIGTERM ends it at once', async () => {
      const metricsPort = await freePort();
      const s = await exportServer({
        OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
        OTEL_EXPORTER_OTLP_ENDPOINT: endpoint(),
        OTEL_EXPORTER_OTLP_TIMEOUT: '1000',
        OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort),
        OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
        OBS_SHUTDOWN_TIMEOUT_MS: '30000',
      });
      for (let i = 0; i < 5; i++) expect((await s.fetch(`/work?n=${i}`)).status).toBe(200);
      expect(await waitForDrops(metricsPort, 'traces|timeout')).toBeGreaterThan(0);
      expect(sockets.size).toBeGreaterThan(0);
      expect(await s.stop('SIGTERM')).toMatchObject({ signal: 'SIGTERM' });
    });

    it('a script whose event loop empties ends with its own exit code, the undelivered export reported', async () => {
      const run = await runNode(['--import', REGISTER, 'exit-job.mjs'], {
        cwd: FIXTURES,
        env: {
          OBS_CORE_URL: CORE,
          MODE: 'natural',
          OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
          OTEL_EXPORTER_OTLP_ENDPOINT: endpoint(),
          OTEL_METRICS_EXPORTER: 'none',
          OBS_SHUTDOWN_TIMEOUT_MS: '1000',
        },
      });
      expect(run.code).toBe(0);
      expect(run.stderr).toContain('1 of 1 telemetry exports at exit were not answered within 1000 ms');
    });
  });

  it('a script whose event loop empties delivers its span and log record at exit (gzip, headers)', async () => {
    receiver = await startOtlpGrpcReceiver();
    const run = await runNode(['--import', REGISTER, 'exit-job.mjs'], {
      cwd: FIXTURES,
      env: {
        OBS_CORE_URL: CORE,
        MODE: 'natural',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip',
        OTEL_EXPORTER_OTLP_HEADERS: 'X-Api-Key=secret-2',
        OTEL_METRICS_EXPORTER: 'none',
        OTEL_LOGS_EXPORTER: 'otlp',
      },
    });
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    expect(receiver.spans.map((sp) => sp.name)).toEqual(['job-span']);
    expect(receiver.logs.map((l) => l.body)).toEqual(['job line']);
    expect(receiver.calls.map((c) => c.metadata['x-api-key'])).toEqual(['secret-2', 'secret-2']);
  });

  it('a process exporting over HTTP never loads @grpc/grpc-js', async () => {
    const http = await startOtlpReceiver();
    try {
      const s = await exportServer({ OTEL_EXPORTER_OTLP_ENDPOINT: http.url, OTEL_METRICS_EXPORTER: 'none' });
      expect((await s.fetch('/work?n=http')).status).toBe(200);
      await http.waitFor(() => http.spans.find((sp) => sp.attributes['url.path'] === '/work'));
      expect(await grpcLoaded(s)).toBe(false);
    } finally {
      await http.close();
    }
  });
});
