/**
 * `obs dev`: the local telemetry viewer (@obs/viewer). Starts the OTLP/HTTP receiver and the web UI in
 * this process, prints where they listen (and whether only this machine can reach them), and runs
 * until SIGINT or SIGTERM.
 */
import type { CommandSpec, Options } from '../args.js';

/** The options of `obs dev`. */
export const devCommand: CommandSpec = {
  name: 'dev',
  short: 'Local telemetry viewer: OTLP/HTTP receiver, embedded store and web UI',
  summary:
    'Run a local telemetry viewer: an OTLP/HTTP receiver (protobuf and JSON; traces, metrics, logs), an embedded SQLite store (node:sqlite) and a web UI with traces, logs and metrics.',
  details:
    'Point any OpenTelemetry SDK at it with OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 and open the UI address it prints. Both ports bind to loopback unless --host says otherwise. Data older than --max-age, and the oldest data past --max-size, is deleted.',
  options: [
    {
      name: 'config',
      short: 'c',
      type: 'path',
      arg: 'FILE',
      description: 'YAML or JSON config file (flags win over it)',
    },
    { name: 'otlp-port', type: 'integer', arg: 'PORT', description: 'port of the OTLP/HTTP receiver', default: 4318 },
    { name: 'ui-port', type: 'integer', arg: 'PORT', description: 'port of the web UI', default: 4319 },
    {
      name: 'host',
      type: 'string',
      arg: 'ADDRESS',
      description: 'interface both listen on; anything but loopback lets other machines read your telemetry',
      default: '127.0.0.1',
    },
    { name: 'db', type: 'path', arg: 'PATH', description: 'SQLite database file', defaultText: 'in memory' },
    { name: 'max-age', type: 'duration', arg: 'DURATION', description: 'delete data older than this', default: 86400 },
    {
      name: 'max-size',
      type: 'bytes',
      arg: 'BYTES',
      description: 'delete the oldest data past this size',
      default: 256 * 1024 * 1024,
      defaultText: '256Mi',
    },
    { name: 'help', short: 'h', type: 'boolean', description: 'show this help' },
  ],
  examples: [
    'obs dev',
    'obs dev --db ./telemetry.sqlite --max-age 6h',
    'OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 node --import @obs/register app.js',
  ],
};

/** Where `runDev` writes, and the signal it waits for (tests pass their own). */
export interface DevIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Resolves when the viewer should stop. Default: the first SIGINT or SIGTERM. */
  stopped?: Promise<unknown>;
}

/**
 * Runs the viewer until stopped.
 * @returns the exit status: 0 after a clean stop, 1 when it could not start (e.g. a port in use)
 */
export async function runDev(options: Options, io: DevIo): Promise<number> {
  const { isLoopback, startViewer } = await import('@obs/viewer');
  const host = options.host as string;
  let viewer: Awaited<ReturnType<typeof startViewer>>;
  try {
    viewer = await startViewer({
      otlpHost: host,
      uiHost: host,
      otlpPort: options['otlp-port'] as number,
      uiPort: options['ui-port'] as number,
      path: (options.db as string | undefined) ?? ':memory:',
      maxAgeMs: (options['max-age'] as number) * 1000,
      maxBytes: options['max-size'] as number,
      warn: (m) => io.stderr(`obs dev: ${m}\n`),
    });
  } catch (err) {
    io.stderr(`obs dev: cannot start: ${(err as Error).message}\n`);
    return 1;
  }
  const reach = isLoopback(host)
    ? 'loopback only: reachable from this machine only'
    : `listening on ${host}: reachable from other machines (no authentication)`;
  io.stdout(
    [
      'obs dev: local telemetry viewer',
      `  OTLP/HTTP receiver  ${viewer.otlpUrl}   (OTEL_EXPORTER_OTLP_ENDPOINT=${viewer.otlpUrl})`,
      `  web UI              ${viewer.uiUrl}`,
      `  store               ${options.db ? `file ${options.db}` : 'in memory'}`,
      `  binds               ${reach}`,
      'Ctrl-C stops it.',
      '',
    ].join('\n'),
  );
  const stopped =
    io.stopped ??
    new Promise((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
  await stopped;
  await viewer.close();
  io.stdout('obs dev: stopped\n');
  return 0;
}
