/**
 * A TypeScript main file under the preload (issue 15, item 17): `--import` sends the main file
 * through Node's ES module loader, where Node's own type stripping reads it, so a require hook such
 * as `ts-node/register` never sees it. docs/getting-started.md says so and gives commands that work;
 * the ones that need nothing but Node are run here, exactly as the page writes them.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type OtlpReceiver, runNode, startOtlpReceiver } from '@obs/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const FIXTURES = fileURLToPath(new URL('./fixtures', import.meta.url));
const GUIDE = readFileSync(new URL('../../../docs/getting-started.md', import.meta.url), 'utf8');

describe('a TypeScript main file under --import @obs/register', () => {
  let receiver: OtlpReceiver;
  beforeAll(async () => {
    receiver = await startOtlpReceiver();
  });
  afterAll(() => receiver.close());

  it('needs more than type stripping for an enum, as the guide says', async () => {
    expect(GUIDE).toContain('node -r ts-node/register --import @obs/register app.ts');
    expect(GUIDE).toContain('SyntaxError: TypeScript enum is not supported in strip-only mode');
    const run = await runNode(['--import', '@obs/register', 'typescript-main.ts'], {
      cwd: FIXTURES,
      env: { OTEL_TRACES_EXPORTER: 'none' },
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('TypeScript enum is not supported in strip-only mode');
  });

  it('runs with the guide’s `--experimental-transform-types` command, traced', async () => {
    const documented = 'node --experimental-transform-types --import @obs/register app.ts';
    expect(GUIDE).toContain(documented);
    const args = documented.split(' ').slice(1, -1);
    const run = await runNode([...args, 'typescript-main.ts'], {
      cwd: FIXTURES,
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_SERVICE_NAME: 'ts-main' },
    });
    expect(run.code).toBe(0);
    const spans = await receiver.waitFor(() => {
      const mine = receiver.spans.filter((s) => s.resource['service.name'] === 'ts-main');
      return mine.length >= 2 && mine;
    });
    expect(spans.map((s) => s.kind).sort()).toEqual([2, 3]);
    expect(spans.find((s) => s.kind === 2)?.attributes['url.path']).toBe('/ts');
  });
});
