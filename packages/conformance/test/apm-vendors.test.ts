/**
 * The vendor set-ups of docs/apm.md, exercised: the `<!-- vendor-env: NAME -->` blocks are read from
 * the document itself, placeholders get fake credentials, the vendor's endpoint is pointed at a local
 * OTLP receiver (path kept), and the Express reference service is started with that environment. The
 * test then checks what each vendor requires of the requests that arrive: the path the endpoint
 * implies, the headers (API keys), the protocol (content type), compression, and the metrics'
 * aggregation temporality. The requirements are written here, independently of the document, so a
 * wrong block fails.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type OtlpReceiver, type ReceivedRequest, type Service, startOtlpReceiver, startService } from '@obs/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const DOC = fileURLToPath(new URL('../../../docs/apm.md', import.meta.url));
const EXPRESS = fileURLToPath(new URL('../../../examples/express', import.meta.url));

type Signal = 'traces' | 'metrics' | 'logs';
const SIGNALS: Signal[] = ['traces', 'metrics', 'logs'];

/** Fake values for the placeholders the blocks use. */
const SECRETS: Record<string, string> = {
  DD_API_KEY: 'dd-fake-api-key',
  NEW_RELIC_LICENSE_KEY: 'nr-fake-license-key',
  ELASTIC_API_KEY: 'ZWxhc3RpYzpmYWtl',
  HONEYCOMB_API_KEY: 'hc-fake-team-key',
  HONEYCOMB_METRICS_DATASET: 'shop-metrics',
  GRAFANA_CLOUD_BASIC_AUTH: Buffer.from('123456:glc_fake_token').toString('base64'),
};

interface Requirement {
  /** Path each signal must arrive on (the vendor's endpoint path). */
  paths: Record<Signal, string>;
  /** Headers each signal must carry. */
  headers: Record<Signal, Record<string, string>>;
  /** Headers a signal must not carry. */
  absent?: Partial<Record<Signal, string[]>>;
  temporality: 'delta' | 'cumulative';
  compression?: 'gzip';
}

const standardPaths = (prefix = ''): Record<Signal, string> => ({
  traces: `${prefix}/v1/traces`,
  metrics: `${prefix}/v1/metrics`,
  logs: `${prefix}/v1/logs`,
});
const same = (headers: Record<string, string>): Record<Signal, Record<string, string>> => ({
  traces: headers,
  metrics: headers,
  logs: headers,
});

/** What each vendor requires (from its documentation; see docs/apm.md). */
const REQUIREMENTS: Record<string, Requirement> = {
  'datadog-agent': { paths: standardPaths(), headers: same({}), temporality: 'delta' },
  datadog: {
    paths: standardPaths(),
    headers: {
      traces: { 'dd-api-key': 'dd-fake-api-key', compute_stats: 'true' },
      metrics: { 'dd-api-key': 'dd-fake-api-key' },
      logs: { 'dd-api-key': 'dd-fake-api-key' },
    },
    temporality: 'delta',
  },
  'new-relic': {
    paths: standardPaths(),
    headers: same({ 'api-key': 'nr-fake-license-key' }),
    temporality: 'delta',
    compression: 'gzip',
  },
  elastic: {
    paths: standardPaths(),
    headers: same({ authorization: 'ApiKey ZWxhc3RpYzpmYWtl' }),
    temporality: 'delta',
    compression: 'gzip',
  },
  honeycomb: {
    paths: standardPaths(),
    headers: {
      traces: { 'x-honeycomb-team': 'hc-fake-team-key' },
      metrics: { 'x-honeycomb-team': 'hc-fake-team-key', 'x-honeycomb-dataset': 'shop-metrics' },
      logs: { 'x-honeycomb-team': 'hc-fake-team-key' },
    },
    absent: { traces: ['x-honeycomb-dataset'] },
    temporality: 'cumulative',
  },
  'grafana-cloud': {
    paths: standardPaths('/otlp'),
    headers: same({ authorization: `Basic ${Buffer.from('123456:glc_fake_token').toString('base64')}` }),
    temporality: 'cumulative',
  },
};

/** The `export NAME="value"` lines of each `<!-- vendor-env: NAME -->` block of the document. */
function vendorBlocks(markdown: string): Map<string, Record<string, string>> {
  const blocks = new Map<string, Record<string, string>>();
  for (const match of markdown.matchAll(/<!-- vendor-env: ([\w-]+) -->\s*```sh\n([\s\S]*?)```/g)) {
    const env: Record<string, string> = {};
    for (const line of (match[2] ?? '').split('\n')) {
      const trimmed = line.trim();
      if (trimmed === '' || trimmed.startsWith('#')) continue;
      const assignment = /^(?:export\s+)?([A-Z0-9_]+)=(?:"([^"]*)"|(\S*))$/.exec(trimmed);
      if (!assignment) throw new Error(`unparsable line in the ${match[1]} block: ${trimmed}`);
      env[assignment[1] as string] = assignment[2] ?? assignment[3] ?? '';
    }
    blocks.set(match[1] as string, env);
  }
  return blocks;
}

/** Placeholders filled in, endpoints (`scheme://host[:port]`) pointed at the receiver with their path kept. */
function localised(env: Record<string, string>, receiverUrl: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, raw] of Object.entries(env)) {
    let value = raw.replace(/\$\{(\w+)\}/g, (_m, key: string) => {
      const secret = SECRETS[key];
      if (secret === undefined) throw new Error(`no fake value for \${${key}} (used by ${name})`);
      return secret;
    });
    if (/^OTEL_EXPORTER_OTLP_(?:(?:TRACES|METRICS|LOGS)_)?ENDPOINT$/.test(name)) {
      value = value.replace(/^https?:\/\/[^/]+/, receiverUrl);
    }
    out[name] = value;
  }
  return out;
}

const blocks = vendorBlocks(readFileSync(DOC, 'utf8'));

it('docs/apm.md has a tested block for each vendor, and every block has requirements here', () => {
  expect([...blocks.keys()].sort()).toEqual(Object.keys(REQUIREMENTS).sort());
  for (const env of blocks.values()) {
    // only standard variables: OTEL_* and the placeholders' own names
    expect(Object.keys(env).every((name) => name.startsWith('OTEL_'))).toBe(true);
  }
});

describe.each(Object.entries(REQUIREMENTS))('%s', (vendor, requirement) => {
  let receiver: OtlpReceiver;
  let service: Service;

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    const documented = blocks.get(vendor);
    if (!documented) throw new Error(`docs/apm.md has no vendor-env block for ${vendor}`);
    service = await startService({
      cwd: EXPRESS,
      entry: 'src/server.js',
      env: {
        ...localised(documented, receiver.url),
        OTEL_SERVICE_NAME: `apm-${vendor}`,
        // test pacing only: export promptly
        OTEL_BSP_SCHEDULE_DELAY: '100',
        OTEL_BLRP_SCHEDULE_DELAY: '100',
        OTEL_METRIC_EXPORT_INTERVAL: '500',
      },
    });
    expect((await service.fetch('/api/v1/users/7')).status).toBe(200);
  });

  afterAll(async () => {
    await service?.stop('SIGKILL');
    await receiver?.close();
  });

  const requestOf = (signal: Signal): Promise<ReceivedRequest> =>
    receiver.waitFor(() => receiver.requests.find((r) => r.signal === signal));

  it.each(SIGNALS)('%s: the path, headers, protocol and compression the vendor requires', async (signal) => {
    const request = await requestOf(signal);
    expect(request.path).toBe(requirement.paths[signal]);
    expect(request.contentType).toBe('application/x-protobuf');
    expect(request.headers).toMatchObject(requirement.headers[signal]);
    for (const name of requirement.absent?.[signal] ?? []) expect(request.headers).not.toHaveProperty(name);
    if (requirement.compression) expect(request.contentEncoding).toBe(requirement.compression);
    // and the data decoded: the request was well-formed
    if (signal === 'traces') await receiver.waitForSpans((s) => s.resource['service.name'] === `apm-${vendor}`);
  });

  it(`metrics: ${requirement.temporality} temporality`, async () => {
    const metric = await receiver.waitFor(() =>
      receiver.metrics.find((m) => m.name === 'http.server.request.duration' && m.dataPoints.length > 0),
    );
    expect(metric.type).toBe('histogram');
    expect(metric.temporality).toBe(requirement.temporality);
    const counters = receiver.metrics.filter((m) => m.type === 'sum' && m.isMonotonic);
    for (const counter of counters) expect(counter.temporality).toBe(requirement.temporality);
  });
});
