/**
 * `node --import @obs/register`, in real processes: the app's stdout and exit code stay its own,
 * nothing starts in worker threads, a failure of @obs's start or of the ESM hooks costs a warning and
 * not the app, and the ESM hooks are what patch an ES-module app's libraries.
 *
 * Covered elsewhere, not repeated here: the compile cache and a script started with @obs's `start()`
 * on top of the preload (packages/express/test/apps.test.ts), how a process under the preload ends
 * (packages/core/test/process-exit.test.ts).
 */
import { fileURLToPath } from 'node:url';
import { type OtlpReceiver, runNode, startOtlpReceiver } from '@obs/testkit';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

let receiver: OtlpReceiver;
beforeAll(async () => {
  receiver = await startOtlpReceiver();
});
afterAll(() => receiver.close());
beforeEach(() => receiver.reset());

/** runNode passes only PATH and `env`: under c8 the child must write its coverage too. */
const coverage = (): Record<string, string> =>
  process.env.NODE_V8_COVERAGE ? { NODE_V8_COVERAGE: process.env.NODE_V8_COVERAGE } : {};

const run = (args: string[], env: Record<string, string> = {}) =>
  runNode(args, {
    cwd: FIXTURES,
    env: {
      ...coverage(),
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_METRICS_EXPORTER: 'none',
      OTEL_LOGS_EXPORTER: 'none',
      ...env,
    },
  });

/** stderr without Node's "(Use `node --trace-warnings ...`" hint lines. */
const stderrLines = (stderr: string) =>
  stderr.split('\n').filter((line) => line !== '' && !line.startsWith('(Use `node --trace-warnings'));

/** The JSON line pino wrote for `msg`. */
const pinoLine = (stdout: string, msg: string): Record<string, unknown> | undefined =>
  stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .find((line) => line.msg === msg);

/** Makes one module specifier unresolvable for the preload, as a broken install would. */
const failing = (specifier: string) => ({ FAIL_RESOLVE: specifier });
const BREAKER = ['--import', './fail-resolve.mjs'];

describe('the app stays the app', { timeout: 60_000 }, () => {
  it('keeps its stdout and its exit code exactly, with @obs started', async () => {
    const app = await run(['--import', '@obs/register', 'app.mjs']);
    expect(app.code).toBe(3);
    expect(app.stdout).toBe('app line\n');
    expect(stderrLines(app.stderr)).toEqual(['otel globals: context,diag,metrics,propagation,trace,version']);

    const without = await run(['app.mjs']);
    expect({ code: without.code, stdout: without.stdout }).toEqual({ code: 3, stdout: 'app line\n' });
    expect(stderrLines(without.stderr)).toEqual(['otel globals: none']);
  });

  it('starts nothing inside a worker thread, where the preloads run again', async () => {
    const app = await run(['--import', './mark-preload.mjs', '--import', '@obs/register', 'worker-app.mjs']);
    expect(app.code).toBe(0);
    expect(JSON.parse(app.stdout)).toEqual({
      main: {
        preloaded: true,
        obsStarted: true,
        otel: ['context', 'diag', 'metrics', 'propagation', 'trace', 'version'],
      },
      worker: { preloaded: true, obsStarted: false, otel: [] },
    });
  });
});

describe('failures cost a warning, not the app', { timeout: 60_000 }, () => {
  it('when @obs cannot start, one warning says so and the app runs without it', async () => {
    const app = await run([...BREAKER, '--import', '@obs/register', 'app.mjs'], failing('@obs/core'));
    expect(app.code).toBe(3);
    expect(app.stdout).toBe('app line\n');
    // the warning is emitted on the next tick, after the app's first synchronous write
    const lines = stderrLines(app.stderr);
    expect(lines.filter((line) => !line.includes(' Warning: '))).toEqual(['otel globals: none']);
    expect(lines.filter((line) => line.includes(' Warning: '))).toEqual([
      expect.stringMatching(
        /^\(node:\d+\) Warning: @obs\/register failed to start @obs \(cannot resolve @obs\/core \(test\)\); the app runs without it$/,
      ),
    ]);
  });

  it('when the ESM hooks cannot be installed, one warning says so, @obs starts and ES modules go unpatched', async () => {
    const app = await run(
      [...BREAKER, '--import', '@obs/register', 'esm-pino.mjs'],
      failing('import-in-the-middle/register-hooks.mjs'),
    );
    expect(app.code).toBe(0);
    expect(stderrLines(app.stderr)).toEqual([
      expect.stringMatching(
        /^\(node:\d+\) Warning: @obs\/register could not install ESM loader hooks \(cannot resolve import-in-the-middle\/register-hooks\.mjs \(test\)\); ES modules will not be instrumented$/,
      ),
    ]);
    expect(receiver.spans.map((s) => s.name)).toEqual(['logged-work']);
    const line = pinoLine(app.stdout, 'inside a span');
    expect(line).toBeDefined();
    expect(line).not.toHaveProperty('trace_id');
  });
});

describe('ES modules are instrumented through the loader hooks', { timeout: 60_000 }, () => {
  it("an ES-module app's pino line written inside a span carries that span's ids", async () => {
    const app = await run(['--import', '@obs/register', 'esm-pino.mjs']);
    expect(app.code).toBe(0);
    expect(stderrLines(app.stderr)).toEqual([]);
    const [span] = receiver.spans;
    expect(receiver.spans.map((s) => s.name)).toEqual(['logged-work']);
    expect(pinoLine(app.stdout, 'inside a span')).toMatchObject({
      trace_id: span?.traceId,
      span_id: span?.spanId,
      trace_flags: '01',
    });
  });
});
