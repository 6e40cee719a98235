import { EventEmitter, once } from 'node:events';
import { Agent, createServer, get, type IncomingMessage, type Server } from 'node:http';
import { connect } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Lifecycle, type LifecycleParts } from '../src/lifecycle/lifecycle.js';
import { settlesAt, sleep, useDiagnostics } from './helpers.js';

const warnings = useDiagnostics();

/** Fake parts that record the order of calls. */
function fakeParts(overrides: Partial<LifecycleParts> = {}): { parts: LifecycleParts; calls: string[] } {
  const calls: string[] = [];
  const parts: LifecycleParts = {
    markShuttingDown: () => calls.push('markShuttingDown'),
    shutdownTelemetry: async () => {
      calls.push('shutdownTelemetry');
    },
    flushTelemetry: async () => {
      calls.push('flushTelemetry');
    },
    flushLogs: async () => {
      calls.push('flushLogs');
    },
  };
  for (const [key, fn] of Object.entries(overrides) as [keyof LifecycleParts, () => never][]) {
    const original = fn;
    parts[key] = (() => {
      calls.push(key);
      return original();
    }) as never;
  }
  return { parts, calls };
}

const never = () => new Promise<never>(() => {});

describe('Lifecycle.shutdown', () => {
  afterEach(() => {
    vi.useRealTimers();
  });
  it('runs readiness, hooks in order, telemetry, then logs; no warning', async () => {
    const { parts, calls } = fakeParts();
    const lifecycle = new Lifecycle(parts, { budgetMs: 1000 });
    lifecycle.onShutdown(() => calls.push('hook 1'));
    lifecycle.onShutdown(async () => {
      await sleep(10);
      calls.push('hook 2');
    });
    lifecycle.onShutdown(() => calls.push('hook 3'));
    expect(lifecycle.shuttingDown).toBe(false);
    await lifecycle.shutdown();
    expect(calls).toEqual(['markShuttingDown', 'hook 1', 'hook 2', 'hook 3', 'shutdownTelemetry', 'flushLogs']);
    expect(warnings).toEqual([]);
  });

  it('is idempotent: the same promise, and every part called once', async () => {
    const { parts, calls } = fakeParts();
    const lifecycle = new Lifecycle(parts, { budgetMs: 1000 });
    let hookRuns = 0;
    lifecycle.onShutdown(() => hookRuns++);
    const first = lifecycle.shutdown();
    const second = lifecycle.shutdown();
    expect(second).toBe(first);
    expect(lifecycle.shuttingDown).toBe(true);
    await first;
    expect(lifecycle.shutdown()).toBe(first);
    await lifecycle.shutdown();
    expect(hookRuns).toBe(1);
    expect(calls).toEqual(['markShuttingDown', 'shutdownTelemetry', 'flushLogs']);
  });

  it('cuts a hanging hook at the budget, still flushes telemetry and logs, and warns', async () => {
    vi.useFakeTimers();
    const { parts, calls } = fakeParts();
    const lifecycle = new Lifecycle(parts, { budgetMs: 200 });
    lifecycle.onShutdown(never);
    lifecycle.onShutdown(() => calls.push('hook after the budget'));
    expect(await settlesAt(lifecycle.shutdown())).toBe(200);
    // the budget is spent: later hooks are skipped, telemetry and logs are still flushed
    expect(calls).toEqual(['markShuttingDown', 'shutdownTelemetry', 'flushLogs']);
    expect(warnings).toEqual(['@obs warn: shutdown hooks did not finish within the shutdown budget; going on']);
  });

  it('cuts a hanging telemetry flush at the budget, then flushes logs, and warns', async () => {
    vi.useFakeTimers();
    const { parts, calls } = fakeParts({ shutdownTelemetry: never });
    const lifecycle = new Lifecycle(parts, { budgetMs: 200 });
    expect(await settlesAt(lifecycle.shutdown())).toBe(200);
    expect(calls).toEqual(['markShuttingDown', 'shutdownTelemetry', 'flushLogs']);
    expect(warnings).toEqual([
      '@obs warn: telemetry was not flushed within 200 ms (OBS_SHUTDOWN_TIMEOUT_MS); some was lost',
    ]);
  });

  it('shares one budget between slow hooks and a hanging flush', async () => {
    vi.useFakeTimers();
    const { parts } = fakeParts({ shutdownTelemetry: never });
    const lifecycle = new Lifecycle(parts, { budgetMs: 200 });
    lifecycle.onShutdown(() => sleep(180));
    // the flush gets what the hook left (20 ms), not a fresh 200 ms
    expect(await settlesAt(lifecycle.shutdown())).toBe(200);
    expect(warnings).toEqual([
      '@obs warn: telemetry was not flushed within 200 ms (OBS_SHUTDOWN_TIMEOUT_MS); some was lost',
    ]);
  });

  it('goes on after a hook that throws or rejects, warning for each', async () => {
    const { parts, calls } = fakeParts();
    const lifecycle = new Lifecycle(parts, { budgetMs: 1000 });
    lifecycle.onShutdown(() => {
      throw new Error('pool already closed');
    });
    lifecycle.onShutdown(() => Promise.reject(new Error('consumer stuck')));
    lifecycle.onShutdown(() => {
      throw 'not an error';
    });
    lifecycle.onShutdown(() => calls.push('last hook'));
    await expect(lifecycle.shutdown()).resolves.toBeUndefined();
    expect(calls).toEqual(['markShuttingDown', 'last hook', 'shutdownTelemetry', 'flushLogs']);
    expect(warnings).toEqual([
      '@obs warn: a shutdown hook failed: pool already closed',
      '@obs warn: a shutdown hook failed: consumer stuck',
      '@obs warn: a shutdown hook failed: not an error',
    ]);
  });

  it('never rejects, even when the telemetry flush rejects or flushing logs throws', async () => {
    const { parts, calls } = fakeParts({
      shutdownTelemetry: () => Promise.reject(new Error('exporter failed')) as never,
      flushLogs: () => {
        throw new Error('destination closed');
      },
    });
    const lifecycle = new Lifecycle(parts, { budgetMs: 1000 });
    await expect(lifecycle.shutdown()).resolves.toBeUndefined();
    expect(calls).toEqual(['markShuttingDown', 'shutdownTelemetry', 'flushLogs']);
  });
});

describe('Lifecycle process handlers', () => {
  it('installs SIGTERM, SIGINT and exit listeners once, no beforeExit listener, and removes them (no signal is sent)', () => {
    const { parts } = fakeParts();
    const lifecycle = new Lifecycle(parts, { budgetMs: 1000 });
    const counts = () => ['SIGTERM', 'SIGINT', 'exit', 'beforeExit'].map((e) => process.listenerCount(e));
    const before = counts();
    try {
      lifecycle.installProcessHandlers();
      lifecycle.installProcessHandlers();
      expect(counts()).toEqual([...before.slice(0, 3).map((n) => n + 1), before[3]]);
    } finally {
      lifecycle.removeProcessHandlers();
    }
    expect(counts()).toEqual(before);
    expect(lifecycle.shuttingDown).toBe(false);
  });

  it('with signals off (OBS_HANDLE_SIGNALS=false), installs only the exit listener', () => {
    const { parts } = fakeParts();
    const lifecycle = new Lifecycle(parts, { budgetMs: 1000 });
    const counts = () => ['SIGTERM', 'SIGINT', 'exit'].map((e) => process.listenerCount(e));
    const before = counts();
    try {
      lifecycle.installProcessHandlers({ signals: false });
      expect(counts()).toEqual([before[0], before[1], (before[2] ?? 0) + 1]);
    } finally {
      lifecycle.removeProcessHandlers();
    }
    expect(counts()).toEqual(before);
  });
});

/**
 * A server whose `/slow?ms=N` answers after N ms and `/hang` never; everything else at once.
 * `arrived(path)` resolves once a request for `path` has reached the handler.
 */
async function slowServer(onFinish: (path: string) => void = () => {}): Promise<{
  server: Server;
  port: number;
  finished: Map<string, number>;
  arrived: (path: string) => Promise<void>;
}> {
  const finished = new Map<string, number>();
  const arrivals = new EventEmitter();
  const seen = new Set<string>();
  const arrived = (path: string) => (seen.has(path) ? Promise.resolve() : once(arrivals, path).then(() => undefined));
  const server = createServer((req, res) => {
    seen.add(req.url ?? '/');
    arrivals.emit(req.url ?? '/');
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/hang') return;
    const ms = Number(url.searchParams.get('ms') ?? 0);
    res.once('finish', () => {
      finished.set(req.url ?? '/', performance.now());
      onFinish(req.url ?? '/');
    });
    if (ms === 0) res.end('waited 0');
    else setTimeout(() => res.end(`waited ${ms}`), ms);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as { port: number }).port, finished, arrived };
}

interface Answer {
  status: number | undefined;
  connection: string | undefined;
  body: string;
  at: number;
}

function request(port: number, path: string, agent: Agent | false = false): Promise<Answer> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path, agent }, (res: IncomingMessage) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => {
        body += d;
      });
      res.on('end', () =>
        resolve({ status: res.statusCode, connection: res.headers.connection, body, at: performance.now() }),
      );
      res.on('error', reject);
    }).on('error', reject);
  });
}

/** Resolves with the connection error code, or 'connected'. */
function tryConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
  });
}

describe('Lifecycle drain of HTTP servers', () => {
  const servers: Server[] = [];
  afterEach(() => {
    vi.useRealTimers();
    for (const server of servers.splice(0)) server.closeAllConnections();
  });

  it('fails readiness at once, keeps serving during the delay, then refuses connections, finishes the in-flight request, and only then runs the hooks', async () => {
    const events: [string, number][] = [];
    const { server, port, arrived } = await slowServer((path) => events.push([`answered ${path}`, performance.now()]));
    servers.push(server);
    const keepAlive = new Agent({ keepAlive: true });
    await request(port, '/', keepAlive); // an idle keep-alive connection
    events.length = 0;
    // @obs's timers (the delay, the drain timeout, the idle sweep) and the handler's 600 ms run on a
    // fake clock, exact to the millisecond whatever the machine's load; the sockets are real.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'performance'] });
    const { parts } = fakeParts();
    const mark = parts.markShuttingDown;
    parts.markShuttingDown = () => {
      events.push(['readiness fails', performance.now()]);
      mark();
    };
    const lifecycle = new Lifecycle(parts, { budgetMs: 1000, delayMs: 300, drainTimeoutMs: 2000 });
    lifecycle.registerServer(server);
    lifecycle.onShutdown(() => {
      events.push(['hook', performance.now()]);
    });
    const slow = request(port, '/slow?ms=600', keepAlive);
    await arrived('/slow?ms=600');
    const started = performance.now();
    const done = lifecycle.shutdown();
    expect(lifecycle.shuttingDown).toBe(true);
    expect(events).toEqual([['readiness fails', started]]);
    // during the delay, to its last millisecond: new connections are still accepted and served
    await vi.advanceTimersByTimeAsync(299);
    expect(await tryConnect(port)).toBe('connected');
    expect((await request(port, '/')).status).toBe(200);
    // at its end: refused
    await vi.advanceTimersByTimeAsync(1);
    expect(await tryConnect(port)).toBe('ECONNREFUSED');
    // the in-flight request is still running; nothing else happened
    await vi.advanceTimersByTimeAsync(299);
    expect(events.map((e) => e[0])).toEqual(['readiness fails', 'answered /']);
    // it is answered at 600 ms, with Connection: close; the drain ends with it (the fake clock never
    // reaches the 2000 ms drain timeout), and only then do the hooks run
    await vi.advanceTimersByTimeAsync(1);
    const answer = await slow;
    expect(answer).toMatchObject({ status: 200, body: 'waited 600', connection: 'close', at: started + 600 });
    await done;
    expect(events.slice(2)).toEqual([
      ['answered /slow?ms=600', started + 600],
      ['hook', started + 600],
    ]);
    expect(server.listening).toBe(false);
    expect(warnings).toEqual([]);
    keepAlive.destroy();
  });

  it('closes idle keep-alive connections at once: no delay, no in-flight request, no waiting', async () => {
    const { server, port } = await slowServer();
    servers.push(server);
    const { parts } = fakeParts();
    const lifecycle = new Lifecycle(parts, { budgetMs: 1000, drainTimeoutMs: 5000 });
    lifecycle.registerServer(server);
    const keepAlive = new Agent({ keepAlive: true });
    await Promise.all([request(port, '/', keepAlive), request(port, '/', keepAlive), request(port, '/', keepAlive)]);
    const started = performance.now();
    await lifecycle.shutdown();
    expect(performance.now() - started).toBeLessThan(2500); // not the 5 s drain timeout
    keepAlive.destroy();
  });

  it('closes the connections of requests still running at the drain timeout, warns, and goes on', async () => {
    const { server, port, arrived } = await slowServer();
    servers.push(server);
    const { parts, calls } = fakeParts();
    const lifecycle = new Lifecycle(parts, { budgetMs: 1000, drainTimeoutMs: 200 });
    lifecycle.registerServer(server);
    lifecycle.onShutdown(() => calls.push('hook'));
    const hanging = request(port, '/hang').catch((err: NodeJS.ErrnoException) => err.code);
    await arrived('/hang');
    const started = performance.now();
    await lifecycle.shutdown();
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(190);
    expect(elapsed).toBeLessThan(200 + 2000); // generous for a busy machine; the request itself never ends
    expect(await hanging).toBe('ECONNRESET');
    expect(calls).toEqual(['markShuttingDown', 'hook', 'shutdownTelemetry', 'flushLogs']);
    expect(warnings).toEqual([
      '@obs warn: requests still in flight after 200 ms (OBS_DRAIN_TIMEOUT_MS); closing their connections',
    ]);
  });

  it("runs a framework's own close after the drain and before the onShutdown hooks", async () => {
    const { parts, calls } = fakeParts();
    const { server, port, arrived } = await slowServer((path) => calls.push(`answered ${path}`));
    servers.push(server);
    const lifecycle = new Lifecycle(parts, { budgetMs: 1000 });
    lifecycle.registerServer(server, {
      close: () => calls.push(`framework close (listening: ${server.listening})`),
    });
    lifecycle.onShutdown(() => calls.push('hook'));
    const slow = request(port, '/slow?ms=100');
    await arrived('/slow?ms=100');
    await lifecycle.shutdown();
    await slow;
    expect(calls).toEqual([
      'markShuttingDown',
      'answered /slow?ms=100',
      'framework close (listening: false)',
      'hook',
      'shutdownTelemetry',
      'flushLogs',
    ]);
  });

  it('drain() is shared and idempotent; unregistered and closed servers are left alone', async () => {
    const a = await slowServer();
    const b = await slowServer();
    const c = await slowServer();
    servers.push(a.server, b.server, c.server);
    const { parts } = fakeParts();
    const lifecycle = new Lifecycle(parts, { budgetMs: 1000, delayMs: 100 });
    expect(lifecycle.shuttingDown).toBe(false);
    lifecycle.registerServer(a.server);
    lifecycle.registerServer(a.server); // twice: once
    const unregister = lifecycle.registerServer(b.server);
    unregister();
    lifecycle.registerServer(c.server);
    c.server.close();
    await once(c.server, 'close');
    const started = performance.now();
    const first = lifecycle.drain();
    expect(lifecycle.drain()).toBe(first);
    await first;
    expect(performance.now() - started).toBeGreaterThanOrEqual(95);
    expect(a.server.listening).toBe(false);
    expect(b.server.listening).toBe(true);
    b.server.close();
  });

  it('rejects what is not a server', () => {
    const { parts } = fakeParts();
    const lifecycle = new Lifecycle(parts, { budgetMs: 1000 });
    expect(() => lifecycle.registerServer({} as Server)).toThrow(TypeError);
  });
});
