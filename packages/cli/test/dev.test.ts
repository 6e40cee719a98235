/**
 * `obs dev` as users run it: the built `obs` executable, its start-up message (addresses, loopback),
 * an OTLP export reaching the UI's API, the UI page, SIGINT, and the start-up errors.
 */
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@obs/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { mainDev } from '../src/main.js';
import { obs } from './helpers.js';
import { type Proc, startProcess, waitForHttp } from './processes.js';

const bin = new URL('../dist/bin.js', import.meta.url).pathname;
let proc: Proc | undefined;

afterEach(async () => {
  await proc?.stop();
  proc = undefined;
});

async function waitForOutput(p: Proc, text: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!p.output().includes(text)) {
    if (p.child.exitCode !== null) throw new Error(`obs dev exited:\n${p.output()}`);
    if (Date.now() > deadline) throw new Error(`no "${text}" within ${timeoutMs} ms:\n${p.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('obs dev', () => {
  it('receives OTLP, serves the UI on loopback, says so, and stops on SIGINT with status 0', async () => {
    const [otlpPort, uiPort] = [await freePort(), await freePort()];
    proc = startProcess(process.execPath, [bin, 'dev', '--otlp-port', String(otlpPort), '--ui-port', String(uiPort)]);
    await waitForOutput(proc, 'Ctrl-C stops it.');
    expect(proc.output()).toContain(`OTLP/HTTP receiver  http://127.0.0.1:${otlpPort}`);
    expect(proc.output()).toContain(`web UI              http://127.0.0.1:${uiPort}/`);
    expect(proc.output()).toContain('loopback only: reachable from this machine only');
    expect(proc.output()).toContain('store               in memory');
    await waitForHttp(`http://127.0.0.1:${uiPort}/api/stats`, proc);

    const traceId = '5b8efff798038103d269b633813fc60c';
    const body = JSON.stringify({
      resourceSpans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'cli-test' } }] },
          scopeSpans: [
            {
              spans: [
                {
                  traceId,
                  spanId: 'eee19b7ec3c1b174',
                  name: 'GET /x',
                  kind: 2,
                  startTimeUnixNano: '1',
                  endTimeUnixNano: '2000001',
                },
              ],
            },
          ],
        },
      ],
    });
    const res = await fetch(`http://127.0.0.1:${otlpPort}/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    expect(res.status).toBe(200);
    const traces = (await (await fetch(`http://127.0.0.1:${uiPort}/api/traces?traceId=${traceId}`)).json()) as {
      name: string;
    }[];
    expect(traces.map((t) => t.name)).toEqual(['GET /x']);
    const page = await fetch(`http://127.0.0.1:${uiPort}/`);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await page.text()).toContain('<script type="module" src="/assets/app.js"></script>');

    const exited = once(proc.child, 'exit');
    proc.child.kill('SIGINT');
    const [code] = await exited;
    expect(code).toBe(0);
    expect(proc.output()).toContain('obs dev: stopped');
  });

  it('exits 1 with a clear message when a port is taken', async () => {
    const taken = createServer().listen(0, '127.0.0.1');
    await once(taken, 'listening');
    const port = (taken.address() as { port: number }).port;
    try {
      proc = startProcess(process.execPath, [
        bin,
        'dev',
        '--otlp-port',
        String(port),
        '--ui-port',
        String(await freePort()),
      ]);
      const [code] = await once(proc.child, 'exit');
      expect(code).toBe(1);
      expect(proc.output()).toContain('obs dev: cannot start: listen EADDRINUSE');
    } finally {
      taken.close();
    }
  });

  it('rejects bad options with status 2, has a help, and is listed in the help', async () => {
    let stderr = '';
    let stdout = '';
    const io = {
      stdout: (t: string) => {
        stdout += t;
      },
      stderr: (t: string) => {
        stderr += t;
      },
    };
    expect(await mainDev(['--otlp-port', 'nope'], io)).toBe(2);
    expect(stderr).toContain('obs dev: --otlp-port: "nope" is not an integer >= 1');
    expect(await mainDev(['--help'], io)).toBe(0);
    expect(stdout).toContain('--db PATH');
    expect(obs('--help').stdout).toMatch(/^ {2}dev +Local telemetry viewer/m);
  });

  it('shares a config file with the other commands', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'obs-dev-config-'));
    try {
      const config = join(dir, 'obs.yml');
      writeFileSync(config, 'job: shop\ndb: telemetry.sqlite\ndev:\n  ui-port: nope\n');
      expect(obs('alerts', '-c', config).code).toBe(0);
      let stderr = '';
      const code = await mainDev(['-c', config], {
        stdout: () => {},
        stderr: (t) => {
          stderr += t;
        },
      });
      // The dev section is read (its bad value is reported); the other commands' keys pass.
      expect(code).toBe(2);
      expect(stderr).toContain('ui-port');
      expect(stderr).not.toContain('unknown key');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
