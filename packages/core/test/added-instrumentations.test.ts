/**
 * Instrumentations the app brings (issue 18): a package named in OBS_INSTRUMENTATION_PACKAGES patches
 * an ES module app under `--import @obs/register` (the ESM hooks learn its modules from its own
 * module definitions), an object passed to start() runs too, the disabled list turns either off,
 * and a package that is not installed costs one warning and nothing else. Real processes, real
 * OTLP receiver; `@opentelemetry/instrumentation-dataloader` is not bundled with @obs.
 */
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type OtlpReceiver, runNode, startOtlpReceiver } from '@obs/testkit';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const CORE = pathToFileURL(fileURLToPath(new URL('../dist/index.js', import.meta.url))).href;
const REGISTER = pathToFileURL(fileURLToPath(new URL('../../register/dist/index.js', import.meta.url))).href;
const DATALOADER = '@opentelemetry/instrumentation-dataloader';

let receiver: OtlpReceiver;
beforeAll(async () => {
  receiver = await startOtlpReceiver();
});
afterAll(() => receiver.close());
beforeEach(() => receiver.reset());

/** Run the dataloader app; its spans are exported when it ends. */
function app(mode: 'import' | 'start-option', env: Record<string, string> = {}) {
  return runNode([...(mode === 'import' ? ['--import', REGISTER] : []), 'esm-dataloader.mjs'], {
    cwd: FIXTURES,
    env: {
      OBS_CORE_URL: CORE,
      MODE: mode,
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_METRICS_EXPORTER: 'none',
      OTEL_BSP_SCHEDULE_DELAY: '600000',
      ...env,
    },
  });
}

/** The spans of the app's own `app-work` span's trace, by name, once `app-work` arrived. */
async function spansOfTheRun(): Promise<string[]> {
  const [work] = await receiver.waitForSpans((s) => s.name === 'app-work');
  return receiver.spans
    .filter((s) => s.traceId === work?.traceId)
    .map((s) => s.name)
    .sort();
}

describe('instrumentations the app brings', { timeout: 30_000 }, () => {
  it('a package from OBS_INSTRUMENTATION_PACKAGES patches an ES module app under the preload', async () => {
    const run = await app('import', { OBS_INSTRUMENTATION_PACKAGES: DATALOADER });
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('value 1,value 2\n');
    expect(await spansOfTheRun()).toEqual(['app-work', 'dataloader.batch', 'dataloader.load', 'dataloader.load']);
  });

  it('OTEL_NODE_DISABLED_INSTRUMENTATIONS turns it off by its short name', async () => {
    const run = await app('import', {
      OBS_INSTRUMENTATION_PACKAGES: DATALOADER,
      OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'dataloader',
    });
    expect(run.code).toBe(0);
    expect(await spansOfTheRun()).toEqual(['app-work']);
  });

  it('a package that is not installed costs one warning; the others still run', async () => {
    const run = await app('import', { OBS_INSTRUMENTATION_PACKAGES: `@acme/instrumentation-missing,${DATALOADER}` });
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('value 1,value 2\n');
    const warnings = run.stderr.split('\n').filter((line) => line.includes('@acme/instrumentation-missing'));
    expect(warnings).toEqual([
      `@obs warn: OBS_INSTRUMENTATION_PACKAGES: "@acme/instrumentation-missing" is not installed in ${FIXTURES.replace(/\/$/, '')}; continuing without it`,
    ]);
    expect(await spansOfTheRun()).toContain('dataloader.load');
  });

  it('an instrumentation object passed to start() runs with the providers', async () => {
    const run = await app('start-option');
    expect(run.code).toBe(0);
    expect(await spansOfTheRun()).toEqual(['app-work', 'dataloader.batch', 'dataloader.load', 'dataloader.load']);
  });

  it('an object passed to start() is off when the disabled list names it', async () => {
    const run = await app('start-option', { OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'dataloader' });
    expect(run.code).toBe(0);
    expect(await spansOfTheRun()).toEqual(['app-work']);
  });
});
