/**
 * Export health in real processes under `--import @obs/register` (issue 15, item 14): span export
 * resumes within one schedule delay after a collector outage, and what is dropped is counted by signal
 * and reason in `obs_telemetry_dropped_total` and reported on stderr.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { freePort, startOtlpReceiver } from '@obs/testkit';
import { afterEach, describe, expect, it } from 'vitest';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const CORE = pathToFileURL(fileURLToPath(new URL('../dist/index.js', import.meta.url))).href;
const REGISTER = pathToFileURL(fileURLToPath(new URL('../../register/dist/index.js', import.meta.url))).href;

let child: ChildProcess | undefined;
afterEach(() => {
  child?.kill('SIGKILL');
  child = undefined;
});

/** Start span-stream.mjs (a span every 5 ms) and wait for its 'ready'. */
async function spanStream(env: Record<string, string>): Promise<{ stderr: () => string }> {
  child = spawn(process.execPath, ['--import', REGISTER, 'span-stream.mjs'], {
    cwd: FIXTURES,
    env: { PATH: process.env.PATH, OBS_CORE_URL: CORE, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  await once(child.stderr as NodeJS.ReadableStream, 'data');
  return { stderr: () => stderr };
}

const listen = async (server: Server, port: number) => {
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
};

describe('export health', { timeout: 60_000 }, () => {
  it('resumes exporting spans within one schedule delay once the collector is back, though an export still hangs on a dead connection', async () => {
    let receiver = await startOtlpReceiver();
    const port = receiver.port;
    await spanStream({
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_BSP_SCHEDULE_DELAY: '1000',
      OTEL_EXPORTER_OTLP_TIMEOUT: '20000',
      OTEL_METRICS_EXPORTER: 'none',
    });
    await receiver.waitFor(() => receiver.spans.length > 0);
    await receiver.close();
    // the outage: a collector that accepts connections and never answers them
    const sockets = new Set<import('node:net').Socket>();
    const blackHole = createServer(() => {});
    blackHole.on('connection', (s) => sockets.add(s));
    const hanging = once(blackHole, 'request'); // an export has been sent to it, and waits for an answer
    await listen(blackHole, port);
    await hanging;
    // back: a new collector on the same port; the export on the black hole's connection still hangs
    blackHole.close();
    receiver = await startOtlpReceiver({ port });
    const back = performance.now();
    try {
      await receiver.waitFor(() => receiver.spans.length > 0, { timeoutMs: 30_000 });
      const resumedAfter = performance.now() - back;
      // one schedule delay (1 s) for the hanging export to go on in the background, then the next
      // batch's export (about 1-2 s); before, the processor waited for the hanging export's 20 s
      // timeout. The margin is for a busy machine.
      expect(resumedAfter).toBeLessThan(8000);
    } finally {
      for (const s of sockets) s.destroy();
      await receiver.close();
    }
  });

  it('counts dropped spans by signal and reason in obs_telemetry_dropped_total and reports them on stderr', async () => {
    const refusing = await freePort(); // nothing listens there: connections are refused
    const metricsPort = await freePort();
    const stream = await spanStream({
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${refusing}`,
      OTEL_EXPORTER_OTLP_TIMEOUT: '500',
      OTEL_BSP_SCHEDULE_DELAY: '200',
      OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort),
      OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
    });
    const dropped = async () => {
      const body = await fetch(`http://127.0.0.1:${metricsPort}/metrics`)
        .then((res) => res.text())
        .catch(() => ''); // the standalone server is not listening yet
      const match = /^obs_telemetry_dropped_total\{([^}]*)\} (\d+)/m.exec(body);
      return match ? { labels: match[1], value: Number(match[2]) } : undefined;
    };
    let sample = await dropped();
    const deadline = performance.now() + 20_000;
    while (!sample && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200)); // paces the poll
      sample = await dropped();
    }
    expect(sample?.labels).toContain('signal="traces"');
    expect(sample?.labels).toContain('reason="unavailable"');
    expect(sample?.value).toBeGreaterThan(0);
    const reports = stream.stderr().match(/@obs warn: telemetry dropped since start: \d+ spans \(unavailable: \d+\)/g);
    expect(reports).toHaveLength(1); // at once, then at most once per 30 s
  });
});
