/**
 * The opt-in instrumentations (issue 18) against the real libraries, in a real process under
 * `--import @obs/register`: a gRPC server and client in-process, a GraphQL schema, knex over the
 * local PostgreSQL. Their spans reach an OTLP receiver (knex's SQL text sanitised at export), and the
 * gRPC call durations reach the Prometheus exposition with bounded labels. None of it loads unless
 * OTEL_NODE_ENABLED_INSTRUMENTATIONS names them.
 */
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type OtlpReceiver, type ReceivedSpan, runNode, startOtlpReceiver } from '@obs/testkit';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const CORE = fileURLToPath(new URL('../dist/index.js', import.meta.url));
const CORE_URL = pathToFileURL(CORE).href;
const REGISTER = pathToFileURL(fileURLToPath(new URL('../../register/dist/index.js', import.meta.url))).href;
const SERVER = 2;
const CLIENT = 3;

let receiver: OtlpReceiver;
beforeAll(async () => {
  receiver = await startOtlpReceiver();
});
afterAll(() => receiver.close());
beforeEach(() => receiver.reset());

function app(enabled?: string) {
  return runNode(['--import', REGISTER, 'opt-in-libraries.cjs'], {
    cwd: FIXTURES,
    env: {
      OBS_CORE_PATH: CORE,
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_BSP_SCHEDULE_DELAY: '600000',
      ...(enabled ? { OTEL_NODE_ENABLED_INSTRUMENTATIONS: enabled } : {}),
    },
  });
}

/** The spans of the trace of the app's `app-work` span, once it arrived. */
async function trace(): Promise<ReceivedSpan[]> {
  const [work] = await receiver.waitForSpans((s) => s.name === 'app-work');
  return receiver.spans.filter((s) => s.traceId === work?.traceId);
}

/** `name{labels} value` samples of one family's `_count` series, labels without the scope. */
function counts(exposition: string, family: string): string[] {
  return exposition
    .split('\n')
    .filter((line) => line.startsWith(`${family}_count{`))
    .map((line) => line.replace(/,?otel_scope_name="[^"]*"/, ''))
    .sort();
}

describe('opt-in instrumentations on the real libraries', { timeout: 30_000 }, () => {
  it('gRPC, GraphQL and knex: spans at the receiver, rpc call durations on /metrics', async () => {
    const run = await app('http,pg,grpc,graphql,knex');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const [results = '', exposition = ''] = run.stdout.split(/\n(.*)/s);
    expect(JSON.parse(results)).toEqual(['hi', 'error 5', 'hello knex', 'hunter2']);

    expect(counts(exposition, 'rpc_server_call_duration')).toEqual([
      'rpc_server_call_duration_count{rpc_system_name="grpc",rpc_method="demo.Echo/Say",rpc_status_code="NOT_FOUND"} 1',
      'rpc_server_call_duration_count{rpc_system_name="grpc",rpc_method="demo.Echo/Say",rpc_status_code="OK"} 1',
    ]);
    expect(counts(exposition, 'rpc_client_call_duration')).toEqual([
      'rpc_client_call_duration_count{rpc_system_name="grpc",rpc_method="demo.Echo/Say",rpc_status_code="NOT_FOUND",server_address="127.0.0.1"} 1',
      'rpc_client_call_duration_count{rpc_system_name="grpc",rpc_method="demo.Echo/Say",rpc_status_code="OK",server_address="127.0.0.1"} 1',
    ]);

    const spans = await trace();
    const grpc = spans.filter((s) => s.name === 'grpc.demo.Echo/Say');
    expect(grpc.map((s) => [s.kind, s.attributes['rpc.grpc.status_code']]).sort()).toEqual(
      [
        [SERVER, 0],
        [SERVER, 5],
        [CLIENT, 0],
        [CLIENT, 5],
      ].sort(),
    );
    const names = spans.map((s) => s.name);
    expect(names).toEqual(
      expect.arrayContaining(['graphql.parse', 'graphql.validate', 'graphql.resolve hello', 'query']),
    );
    // knex's own span records the statement as written; the literal is gone at export
    const knexSpan = spans.find((s) => s.name === 'raw test');
    expect(knexSpan?.attributes['db.query.text']).toBe('select ? as password');
    expect(JSON.stringify(spans.map((s) => s.attributes))).not.toContain('hunter2');
  });

  it('gRPC in an ES module app: the ES module hooks intercept @grpc/grpc-js for the enabled instrumentation', async () => {
    const run = await runNode(['--import', REGISTER, 'esm-grpc.mjs'], {
      cwd: FIXTURES,
      env: {
        OBS_CORE_URL: CORE_URL,
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_BSP_SCHEDULE_DELAY: '600000',
        OTEL_METRICS_EXPORTER: 'none',
        OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'grpc',
      },
    });
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('hi\n');
    const grpc = (await trace()).filter((s) => s.name === 'grpc.demo.Echo/Say');
    expect(grpc.map((s) => s.kind).sort()).toEqual([SERVER, CLIENT]);
  });

  it('loads none of them by default', async () => {
    const run = await app();
    expect(run.code).toBe(0);
    expect(run.stdout).not.toContain('rpc_');
    const names = (await trace()).map((s) => s.name);
    expect(names.filter((n) => n.startsWith('grpc.') || n.startsWith('graphql.') || n === 'raw test')).toEqual([]);
    expect(names).toContain('SELECT'); // pg, a default one, still runs
  });
});
