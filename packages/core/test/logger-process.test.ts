/**
 * The logger's stdout in real processes under `--import @obs/register`: one `write(2)` per
 * event-loop turn (one per line with `OBS_LOG_SYNC=true`), and no line lost however the process ends
 * while JavaScript still runs: `process.exit()`, an uncaught exception, the natural end, the app's
 * own `exit` listener, and a signal @obs handles (issue 14, "Logs without a syscall per line").
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { runNode } from '@obs/testkit';
import { describe, expect, it } from 'vitest';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const CORE = pathToFileURL(fileURLToPath(new URL('../dist/index.js', import.meta.url))).href;
const REGISTER = pathToFileURL(fileURLToPath(new URL('../../register/dist/index.js', import.meta.url))).href;
const ENV = { OBS_CORE_URL: CORE, OTEL_TRACES_EXPORTER: 'none', OTEL_METRICS_EXPORTER: 'none' };

/** The parsed JSON lines of `stdout` (every line must parse: a torn line fails the test). */
function jsonLines(stdout: string): Record<string, unknown>[] {
  return stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

function burstOf(stdout: string): { burst: number; last: boolean; all: Record<string, unknown>[] } {
  const all = jsonLines(stdout);
  return {
    burst: all.filter((l) => l.msg === 'burst line').length,
    last: all.some((l) => l.msg === 'LAST LINE'),
    all,
  };
}

const logLines = (mode: string, extra: Record<string, string> = {}, preload: string[] = []) =>
  runNode([...preload, '--import', REGISTER, 'log-lines.mjs'], {
    cwd: FIXTURES,
    env: { ...ENV, MODE: mode, ...extra },
  });

describe('one write per event-loop turn', { timeout: 30_000 }, () => {
  const countWrites = async (extra: Record<string, string>) => {
    const run = await logLines('natural', { LINES: '19', ...extra }, ['--import', './count-stdout-writes.mjs']);
    expect(run.code).toBe(0);
    expect(burstOf(run.stdout)).toMatchObject({ burst: 19, last: true });
    return Number([...run.stderr.matchAll(/stdout writes: (\d+)/g)].at(-1)?.[1] ?? 0);
  };

  it('writes the 20 lines logged in one turn with one write(2)', async () => {
    expect(await countWrites({})).toBe(1);
  });

  it('with OBS_LOG_SYNC=true, writes each line with its own write(2)', async () => {
    expect(await countWrites({ OBS_LOG_SYNC: 'true' })).toBe(20);
  });
});

describe('no line lost when the process ends', { timeout: 30_000 }, () => {
  it('on process.exit() right after logging', async () => {
    const run = await logLines('exit');
    expect(run.code).toBe(0);
    expect(burstOf(run.stdout)).toMatchObject({ burst: 300, last: true });
  });

  it('on an uncaught exception right after logging (the crash stays a crash)', async () => {
    const run = await logLines('throw');
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('crashed after logging');
    expect(burstOf(run.stdout)).toMatchObject({ burst: 300, last: true });
  });

  it('when the event loop empties, and for lines the app logs in its own exit listener', async () => {
    const run = await logLines('exit-listener');
    expect(run.code).toBe(0);
    const { burst, last, all } = burstOf(run.stdout);
    expect({ burst, last }).toEqual({ burst: 300, last: true });
    expect(all.at(-1)?.msg).toBe('from the app exit listener');
  });

  it('on SIGTERM, for lines logged by an onShutdown hook right before @obs re-raises the signal', async () => {
    const child = spawn(process.execPath, ['--import', REGISTER, 'log-lines.mjs'], {
      cwd: FIXTURES,
      env: { PATH: process.env.PATH, ...ENV, MODE: 'shutdown-hook', OBS_SHUTDOWN_DELAY_MS: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    await once(child.stderr, 'data'); // 'ready'
    child.kill('SIGTERM');
    const [code, signal] = await once(child, 'close');
    expect({ code, signal }).toEqual({ code: null, signal: 'SIGTERM' });
    const { burst, last, all } = burstOf(stdout);
    expect({ burst, last }).toEqual({ burst: 300, last: true });
    expect(all[0]?.msg).toBe('shutting down');
  });
});

describe("the app's own asynchronous pino destination", { timeout: 60_000 }, () => {
  it('writes its buffered lines at exit under the preload, in 10 runs of 10', async () => {
    const written: number[] = [];
    for (let run = 0; run < 10; run++) {
      const { code, stdout } = await runNode(['--import', REGISTER, 'app-async-pino.cjs'], { cwd: FIXTURES, env: ENV });
      expect(code).toBe(0);
      written.push(jsonLines(stdout).filter((l) => l.msg === 'app line').length);
    }
    expect(written).toEqual(Array(10).fill(4));
  });
});
