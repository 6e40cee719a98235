/**
 * Runs a service under test as a real child process started the way users start theirs:
 * `node --import @obs/register <entry>`. Collects its stdout as JSON log lines and its stderr as
 * text, waits for readiness over HTTP, and stops it with a signal while recording how it ended.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { freePort } from './free-port.js';

/** A parsed JSON log line (pino). */
export type LogLine = Record<string, unknown> & { level?: string; msg?: string };

/** How the process ended. */
export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Milliseconds from `stop()` (or from start, when it exited by itself) to exit. */
  elapsedMs: number;
}

/** Options for {@link startService}. */
export interface ServiceOptions {
  /** Entry file, relative to `cwd` or absolute. */
  entry: string;
  cwd: string;
  /** Extra environment, merged over a clean copy of process.env (OTEL_, OBS_ and KUBERNETES_SERVICE_HOST removed). */
  env?: Record<string, string | undefined>;
  /** Port; default a free ephemeral port, passed as PORT. */
  port?: number;
  /** Preload module; default `@obs/register`. `false` starts without a preload. */
  preload?: string | false;
  /** Path that answers 200 when the service is ready. Default `/health/ready`. `false` waits only for the port. */
  readyPath?: string | false;
  /** Milliseconds to wait for readiness. Default 45000 (a Nest app with the preload took over 15 s to start at load 9-15, over 30 s at load 30). */
  readyTimeoutMs?: number;
}

/** A running service. */
export interface Service {
  readonly port: number;
  readonly baseUrl: string;
  readonly child: ChildProcess;
  /** Raw stdout so far. */
  stdout(): string;
  /** Raw stderr so far. */
  stderr(): string;
  /** stdout lines that parse as JSON objects. */
  logs(): LogLine[];
  /** Resolve when a log line matches (polls; rejects after `timeoutMs`, default 5000). */
  waitForLog(predicate: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** fetch against the service. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /**
   * Send `signal` (default SIGTERM) and wait for exit (rejects after `timeoutMs`, default 10000, after SIGKILL).
   * Under coverage (`NODE_V8_COVERAGE`) SIGKILL is preceded by SIGTERM, so the process writes its coverage.
   */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<ExitInfo>;
  /** Resolves when the process has ended and its output has been read to the end. */
  readonly exited: Promise<ExitInfo>;
  /** True until the process has ended. */
  running(): boolean;
}

function cleanEnv(): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('OTEL_') || k.startsWith('OBS_') || k === 'NODE_OPTIONS' || k.startsWith('VITEST')) continue;
    // In a Kubernetes pod (CI runners) @obs would wait 5 s before draining at shutdown: tests set the delay.
    if (k === 'KUBERNETES_SERVICE_HOST') continue;
    env[k] = v;
  }
  return env;
}

/**
 * For tests that a SIGTERM ends a service *promptly*: a shutdown budget and a drain timeout so long
 * (30 s) that reaching either fails {@link PROMPT_EXIT_MS}. A shutdown that waits for a connection, a
 * hook or an exporter it should not wait for takes 30 s; a correct one takes 0.3-1.5 s on an idle
 * machine and up to about 5 s at load 12 on two cores, which the default 5 s budget would cut.
 */
export const PROMPT_SHUTDOWN_ENV: Readonly<Record<string, string>> = Object.freeze({
  OBS_SHUTDOWN_TIMEOUT_MS: '30000',
  OBS_DRAIN_TIMEOUT_MS: '30000',
});

/** Upper bound of a prompt exit under {@link PROMPT_SHUTDOWN_ENV}: half its timeouts. */
export const PROMPT_EXIT_MS = 15_000;

/** Default of {@link ServiceOptions.readyTimeoutMs}. */
const READY_TIMEOUT_MS = 45_000;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Start a service and wait until it is ready. Rejects (after killing it) when it dies or never gets ready. */
export async function startService(options: ServiceOptions): Promise<Service> {
  const port = options.port ?? (await freePort());
  const preload = options.preload ?? '@obs/register';
  const args = preload === false ? [options.entry] : ['--import', preload, options.entry];
  const started = performance.now();
  const child = spawn(process.execPath, args, {
    cwd: options.cwd,
    env: { ...cleanEnv(), PORT: String(port), ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    err += chunk;
  });
  let stopAt: number | undefined;
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('error', (e) => {
      err += `spawn failed: ${e.message}\n`;
      resolve({ code: null, signal: null, elapsedMs: performance.now() - (stopAt ?? started) });
    });
    // 'close' rather than 'exit': by then stdout and stderr have been read to the end.
    child.once('close', (code, signal) => {
      resolve({ code, signal, elapsedMs: performance.now() - (stopAt ?? started) });
    });
  });
  let done = false;
  void exited.then(() => {
    done = true;
  });

  const baseUrl = `http://127.0.0.1:${port}`;
  const logs = (): LogLine[] => {
    const lines: LogLine[] = [];
    for (const raw of out.split('\n')) {
      if (!raw.startsWith('{')) continue;
      try {
        const parsed = JSON.parse(raw) as unknown;
        if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) lines.push(parsed as LogLine);
      } catch {
        // a partial line still being written
      }
    }
    return lines;
  };

  const service: Service = {
    port,
    baseUrl,
    child,
    stdout: () => out,
    stderr: () => err,
    logs,
    async waitForLog(predicate, timeoutMs = 5000) {
      const deadline = performance.now() + timeoutMs;
      for (;;) {
        const found = logs().find(predicate);
        if (found) return found;
        if (performance.now() > deadline) {
          throw new Error(`no matching log line within ${timeoutMs} ms; stdout so far:\n${out.slice(-4000)}`);
        }
        await sleep(20);
      }
    },
    fetch: (path, init) => fetch(`${baseUrl}${path}`, init),
    async stop(signal = 'SIGTERM', timeoutMs = 10000) {
      if (done) return exited;
      // Under coverage (c8 sets NODE_V8_COVERAGE) a killed process writes none: end it with SIGTERM first.
      if (signal === 'SIGKILL' && process.env.NODE_V8_COVERAGE) {
        return service.stop('SIGTERM', 5000).catch(() => exited);
      }
      stopAt = performance.now();
      child.kill(signal);
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error(`process did not exit within ${timeoutMs} ms of ${signal}`));
        }, timeoutMs);
      });
      try {
        return await Promise.race([exited, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
    exited,
    running: () => !done,
  };

  const deadline = performance.now() + (options.readyTimeoutMs ?? READY_TIMEOUT_MS);
  const readyPath = options.readyPath ?? '/health/ready';
  for (;;) {
    if (done) {
      throw new Error(`service exited before it was ready\nstderr:\n${err}\nstdout:\n${out.slice(-2000)}`);
    }
    try {
      const res = await fetch(`${baseUrl}${readyPath === false ? '/' : readyPath}`);
      await res.arrayBuffer();
      if (readyPath === false || res.status === 200) return service;
    } catch {
      // not listening yet
    }
    if (performance.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`service not ready within ${options.readyTimeoutMs ?? READY_TIMEOUT_MS} ms\nstderr:\n${err}`);
    }
    await sleep(50);
  }
}

/** `NODE_V8_COVERAGE` of the test process (set by `c8 vitest run`), for the children it starts. */
function coverageEnv(): Record<string, string> {
  const dir = process.env.NODE_V8_COVERAGE;
  return dir ? { NODE_V8_COVERAGE: dir } : {};
}

/** What {@link runNode} returns once the process has exited. */
export interface NodeRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Run `node <args>` to completion (a script or `-e` code, usually with `--import @obs/register`) and
 * collect its output. The environment is exactly `PATH` plus `env` (and `NODE_V8_COVERAGE` when the
 * tests run under c8, so the child's coverage is counted), so no OTEL_ or OBS_ variable of the test
 * process leaks in. Never rejects on a non-zero exit: the caller asserts the code.
 */
export async function runNode(
  args: string[],
  options: { cwd: string; env?: Record<string, string> },
): Promise<NodeRun> {
  const child = spawn(process.execPath, args, {
    cwd: options.cwd,
    env: { PATH: process.env.PATH, ...coverageEnv(), ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    stdout += d;
  });
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  return { code, signal, stdout, stderr };
}
