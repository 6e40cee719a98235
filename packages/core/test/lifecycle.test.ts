import { EventEmitter, once } from 'node:events';
import { Agent, createServer, get, type IncomingMessage, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tryConnect } from '@obs/testkit';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
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

describe('Lifecycle signals and exit, in process (mutation-testing edges)', () => {
  // The worker's own SIGTERM/SIGINT listeners would count as the app's: set aside for each test.
  const saved = new Map<string, ((...args: unknown[]) => void)[]>();
  let lifecycle: Lifecycle | undefined;
  let kill: ReturnType<typeof vi.spyOn>;
  let exit: ReturnType<typeof vi.spyOn>;
  const V4 = Symbol.for('signal-exit emitter');

  beforeEach(() => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      saved.set(signal, process.listeners(signal) as (() => void)[]);
      process.removeAllListeners(signal);
    }
    // the process is not signalled nor ended: @obs's calls are recorded
    kill = vi.spyOn(process, 'kill').mockImplementation(() => true);
    exit = vi.spyOn(process, 'exit').mockImplementation((() => undefined) as never);
    vi.useFakeTimers();
  });

  afterEach(() => {
    lifecycle?.removeProcessHandlers();
    lifecycle = undefined;
    vi.useRealTimers();
    vi.restoreAllMocks();
    for (const [signal, listeners] of saved) {
      process.removeAllListeners(signal);
      for (const listener of listeners) process.on(signal, listener);
    }
    delete (globalThis as Record<symbol, unknown>)[V4];
    delete (process as unknown as Record<string, unknown>).__signal_exit_emitter__;
  });

  /** Settles when `spy` is next called. */
  const calledBy = (spy: ReturnType<typeof vi.spyOn>) =>
    new Promise<void>((resolve) => {
      spy.mockImplementation((() => {
        resolve();
        return true;
      }) as never);
    });

  it('SIGTERM without a handler of the app: the whole shutdown, then SIGTERM again without @obs; exit 143 if that does not end it', async () => {
    const { parts, calls } = fakeParts();
    const began: unknown[] = [];
    parts.began = (info) => began.push(info);
    lifecycle = new Lifecycle(parts, { budgetMs: 1000, delayMs: 300, drainTimeoutMs: 2000 });
    lifecycle.onShutdown(() => calls.push('hook'));
    lifecycle.installProcessHandlers();
    const reRaised = calledBy(kill);
    process.emit('SIGTERM', 'SIGTERM');
    expect(lifecycle.shuttingDown).toBe(true);
    expect(await settlesAt(reRaised)).toBe(300); // the delay, then nothing to drain
    expect(calls).toEqual(['markShuttingDown', 'hook', 'shutdownTelemetry', 'flushLogs']);
    expect(began).toEqual([{ signal: 'SIGTERM', delayMs: 300, drainTimeoutMs: 2000, serving: false }]);
    expect(kill.mock.calls).toEqual([[process.pid, 'SIGTERM']]);
    expect([process.listenerCount('SIGTERM'), process.listenerCount('SIGINT')]).toEqual([0, 0]);
    // still alive (PID 1 of a container ignores it): exit as a shell reports death by that signal
    const exited = calledBy(exit);
    expect(await settlesAt(exited)).toBe(1000);
    expect(exit.mock.calls).toEqual([[143]]);
  });

  it('SIGINT likewise, with exit code 130', async () => {
    const { parts } = fakeParts();
    lifecycle = new Lifecycle(parts, { budgetMs: 1000 });
    lifecycle.installProcessHandlers();
    const reRaised = calledBy(kill);
    process.emit('SIGINT', 'SIGINT');
    expect(await settlesAt(reRaised)).toBe(0);
    expect(kill.mock.calls).toEqual([[process.pid, 'SIGINT']]);
    const exited = calledBy(exit);
    expect(await settlesAt(exited)).toBe(1000);
    expect(exit.mock.calls).toEqual([[130]]);
  });

  it('a second signal during that shutdown re-raises at once', async () => {
    const { parts } = fakeParts();
    lifecycle = new Lifecycle(parts, { budgetMs: 5000 });
    lifecycle.onShutdown(never);
    lifecycle.installProcessHandlers();
    process.emit('SIGTERM', 'SIGTERM');
    await vi.advanceTimersByTimeAsync(100);
    expect(kill).not.toHaveBeenCalled();
    process.emit('SIGTERM', 'SIGTERM');
    expect(kill.mock.calls).toEqual([[process.pid, 'SIGTERM']]);
    expect(process.listenerCount('SIGTERM')).toBe(0);
  });

  it("with a handler of the app's: readiness fails and telemetry is flushed, the app decides; a second signal ends the process", async () => {
    const { parts, calls } = fakeParts();
    const began: unknown[] = [];
    parts.began = (info) => began.push(info);
    lifecycle = new Lifecycle(parts, { budgetMs: 1000, delayMs: 300 });
    lifecycle.onShutdown(() => calls.push('hook'));
    const appHandler = vi.fn();
    process.on('SIGTERM', appHandler);
    lifecycle.installProcessHandlers();
    process.emit('SIGTERM', 'SIGTERM');
    expect(appHandler).toHaveBeenCalledTimes(1);
    expect(calls).toEqual(['markShuttingDown', 'flushTelemetry']);
    expect(began).toEqual([{ signal: 'SIGTERM', delayMs: 300, drainTimeoutMs: 10000, serving: false }]);
    expect(lifecycle.shuttingDown).toBe(true);
    // the framework's close drains through drain(), which waits for the rest of the delay
    await vi.advanceTimersByTimeAsync(100);
    expect(await settlesAt(lifecycle.drain())).toBe(200);
    await vi.advanceTimersByTimeAsync(5000);
    expect(kill).not.toHaveBeenCalled();
    expect(calls).toEqual(['markShuttingDown', 'flushTelemetry']); // no hooks, no telemetry shutdown: the app's
    const exitListeners = process.listenerCount('exit');
    process.emit('SIGTERM', 'SIGTERM');
    expect(kill.mock.calls).toEqual([[process.pid, 'SIGTERM']]);
    expect(process.listenerCount('SIGTERM')).toBe(0); // the app's handler too: ended as Node would end it
    // and @obs's others: no SIGINT handling, no exit flush (a forced exit 143 flushes nothing twice)
    expect([process.listenerCount('SIGINT'), process.listenerCount('exit')]).toEqual([0, exitListeners - 1]);
    expect(appHandler).toHaveBeenCalledTimes(2); // it was first in line for both
  });

  for (const version of ['v3', 'v4'] as const) {
    it(`does not count signal-exit's listener (${version}) as the app's: shuts down and re-raises`, async () => {
      const state = { count: 1 };
      if (version === 'v4') (globalThis as Record<symbol, unknown>)[V4] = state;
      else (process as unknown as Record<string, unknown>).__signal_exit_emitter__ = state;
      process.on('SIGTERM', () => {}); // signal-exit's: it re-raises only when its listeners are alone
      const { parts, calls } = fakeParts();
      lifecycle = new Lifecycle(parts, { budgetMs: 1000 });
      lifecycle.installProcessHandlers();
      const reRaised = calledBy(kill);
      process.emit('SIGTERM', 'SIGTERM');
      expect(await settlesAt(reRaised)).toBe(0);
      expect(calls).toEqual(['markShuttingDown', 'shutdownTelemetry', 'flushLogs']);
    });
  }

  it('flushes at exit through its one exit listener, and nothing it throws escapes', () => {
    let flushes = 0;
    const { parts } = fakeParts();
    parts.flushAtExit = () => {
      flushes++;
      throw new Error('exporter gone');
    };
    lifecycle = new Lifecycle(parts, { budgetMs: 1000 });
    const events = () => process.eventNames().reduce((n, e) => n + process.listenerCount(e), 0);
    const before = process.listeners('exit');
    const total = events();
    lifecycle.installProcessHandlers({ signals: false });
    expect(events()).toBe(total + 1); // the exit listener, nothing else
    const ours = process.listeners('exit').filter((l) => !before.includes(l));
    expect(ours).toHaveLength(1);
    expect(() => (ours[0] as () => void)()).not.toThrow();
    expect(flushes).toBe(1);
  });

  it('removes its handlers twice without harm, and installs them again', () => {
    const { parts } = fakeParts();
    lifecycle = new Lifecycle(parts, { budgetMs: 1000 });
    const counts = () => ['SIGTERM', 'SIGINT', 'exit'].map((e) => process.listenerCount(e));
    const before = counts();
    lifecycle.installProcessHandlers();
    lifecycle.removeProcessHandlers();
    lifecycle.removeProcessHandlers();
    expect(counts()).toEqual(before);
    lifecycle.installProcessHandlers();
    expect(counts()).toEqual(before.map((n) => n + 1));
    lifecycle.removeProcessHandlers();
    expect(counts()).toEqual(before);
  });
});

describe('Lifecycle shutdown details (mutation-testing edges)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('gives the log flush what is left of the budget, and at least 100 ms', async () => {
    vi.useFakeTimers();
    const budgets: number[] = [];
    const { parts } = fakeParts();
    parts.flushLogs = async (ms) => {
      budgets.push(ms);
    };
    await new Lifecycle(parts, { budgetMs: 1000 }).shutdown();
    const hanging = fakeParts({ shutdownTelemetry: never }).parts;
    hanging.flushLogs = async (ms) => {
      budgets.push(ms);
    };
    const spent = new Lifecycle(hanging, { budgetMs: 200 }).shutdown();
    expect(await settlesAt(spent)).toBe(200);
    expect(budgets).toEqual([1000, 100]);
  });

  it('tells began() that the process serves once a server was registered, even one since closed', async () => {
    const { parts } = fakeParts();
    const began: unknown[] = [];
    parts.began = (info) => began.push(info);
    const lifecycle = new Lifecycle(parts, { budgetMs: 1000, drainTimeoutMs: 3000 });
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    lifecycle.registerServer(server);
    server.close();
    await once(server, 'close');
    await lifecycle.shutdown();
    expect(began).toEqual([{ signal: undefined, delayMs: 0, drainTimeoutMs: 3000, serving: true }]);
  });

  it('goes on when a registered server throws from close()', async () => {
    const { parts, calls } = fakeParts();
    const lifecycle = new Lifecycle(parts, { budgetMs: 1000, drainTimeoutMs: 3000 });
    const odd = Object.assign(new EventEmitter(), {
      close: () => {
        throw new Error('not running');
      },
    });
    lifecycle.registerServer(odd as unknown as Server, { close: () => calls.push('framework close') });
    lifecycle.onShutdown(() => calls.push('hook'));
    await lifecycle.shutdown();
    expect(calls).toEqual(['markShuttingDown', 'framework close', 'hook', 'shutdownTelemetry', 'flushLogs']);
    expect(warnings).toEqual([]); // taken as closed at once, not waited for until the drain timeout
  });

  it('begins once: drain() again neither fails readiness again nor restarts the delay; began() may throw', async () => {
    vi.useFakeTimers();
    const { parts, calls } = fakeParts();
    parts.began = () => {
      calls.push('began');
      throw new Error('logger gone');
    };
    const lifecycle = new Lifecycle(parts, { budgetMs: 1000, delayMs: 300 });
    const first = lifecycle.drain();
    await vi.advanceTimersByTimeAsync(200);
    expect(lifecycle.drain()).toBe(first);
    expect(await settlesAt(first)).toBe(100);
    expect(calls).toEqual(['markShuttingDown', 'began']);
  });

  it('leaves no timer behind once shut down (nothing holds the process open)', async () => {
    const { server } = await slowServer();
    const { parts } = fakeParts();
    const lifecycle = new Lifecycle(parts, { budgetMs: 1000, drainTimeoutMs: 5000 });
    lifecycle.registerServer(server);
    vi.useFakeTimers();
    await lifecycle.shutdown();
    expect(server.listening).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('Lifecycle server registration and drain (mutation-testing edges)', () => {
  const servers: Server[] = [];
  afterEach(() => {
    for (const server of servers.splice(0)) {
      server.closeAllConnections();
      server.close();
    }
  });

  it('refuses what is not a node:http server, saying so', () => {
    const lifecycle = new Lifecycle(fakeParts().parts, { budgetMs: 1000 });
    for (const bad of [undefined, null, {}, { close() {} }, { once() {} }]) {
      expect(() => lifecycle.registerServer(bad as never), String(bad && Object.keys(bad))).toThrow(
        new TypeError('registerServer needs a node:http or node:https server'),
      );
    }
  });

  it("registers a server once: its framework close runs once; the second registration's unregister works too", async () => {
    const a = await slowServer();
    const b = await slowServer();
    servers.push(a.server, b.server);
    const { parts, calls } = fakeParts();
    const lifecycle = new Lifecycle(parts, { budgetMs: 1000 });
    lifecycle.registerServer(a.server, { close: () => calls.push('close a') });
    lifecycle.registerServer(a.server, { close: () => calls.push('close a again') });
    lifecycle.registerServer(b.server, { close: () => calls.push('close b') });
    const unregisterB = lifecycle.registerServer(b.server);
    unregisterB();
    await lifecycle.shutdown();
    expect(calls).toEqual(['markShuttingDown', 'close a', 'shutdownTelemetry', 'flushLogs']);
    expect(b.server.listening).toBe(true);
  });

  it('forgets a server the app closed itself: its framework close does not run again', async () => {
    const a = await slowServer();
    servers.push(a.server);
    const { parts, calls } = fakeParts();
    const lifecycle = new Lifecycle(parts, { budgetMs: 1000 });
    lifecycle.registerServer(a.server, { close: () => calls.push('framework close') });
    a.server.close();
    await once(a.server, 'close');
    await lifecycle.shutdown();
    expect(calls).toEqual(['markShuttingDown', 'shutdownTelemetry', 'flushLogs']);
  });

  it('leaves the requests of other servers alone: answered, keep-alive, before and during shutdown', async () => {
    const registered = await slowServer();
    const other = await slowServer();
    servers.push(registered.server, other.server);
    const lifecycle = new Lifecycle(fakeParts().parts, { budgetMs: 1000, delayMs: 200 });
    lifecycle.registerServer(registered.server);
    const keepAlive = new Agent({ keepAlive: true });
    try {
      // before shutdown, a registered server's answers keep the connection open as usual
      expect(await request(registered.port, '/', keepAlive)).toMatchObject({ status: 200, connection: 'keep-alive' });
      const drained = lifecycle.drain();
      expect(await request(other.port, '/', keepAlive)).toMatchObject({ status: 200, connection: 'keep-alive' });
      await drained;
      expect(other.server.listening).toBe(true);
    } finally {
      keepAlive.destroy();
    }
  });

  it('answers a request that arrives while the server drains with Connection: close', async () => {
    const { server, port, arrived } = await slowServer();
    servers.push(server);
    const lifecycle = new Lifecycle(fakeParts().parts, { budgetMs: 1000, drainTimeoutMs: 5000 });
    lifecycle.registerServer(server);
    // a connection whose request has begun (not idle, so not swept) but is not complete yet
    const accepted = once(server, 'connection') as Promise<[Socket]>;
    const socket = connect(port, '127.0.0.1');
    const [serverSide] = await accepted;
    socket.write('GET /late HTTP/1.1\r\nHost: x\r\n');
    while (serverSide.bytesRead === 0) await new Promise((resolve) => setImmediate(resolve));
    let response = '';
    socket.setEncoding('utf8').on('data', (d: string) => {
      response += d;
    });
    const ended = once(socket, 'close');
    const drained = lifecycle.drain();
    socket.write('\r\n'); // the request completes after the drain began
    await arrived('/late');
    await Promise.all([drained, ended]);
    expect(response).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(response.toLowerCase()).toContain('\r\nconnection: close\r\n');
    expect(warnings).toEqual([]);
  });

  it('closes a keep-alive connection whose response had sent its headers when the drain began, once it is idle', async () => {
    let finish!: () => void;
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('started; ');
      finish = () => res.end('done');
    });
    server.keepAliveTimeout = 60_000; // the connection would stay open a minute
    servers.push(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as { port: number }).port;
    const lifecycle = new Lifecycle(fakeParts().parts, { budgetMs: 1000, drainTimeoutMs: 5000 });
    lifecycle.registerServer(server);
    const keepAlive = new Agent({ keepAlive: true });
    try {
      const answer = request(port, '/', keepAlive);
      await once(server, 'request');
      const drained = lifecycle.drain();
      await sleep(30);
      finish();
      expect(await answer).toMatchObject({ status: 200, body: 'started; done', connection: 'keep-alive' });
      await drained;
      expect(warnings).toEqual([]); // closed when idle, not at the drain timeout
    } finally {
      keepAlive.destroy();
    }
  });

  it('tells the observer which requests it cuts at the drain timeout: only those still running', async () => {
    const { server, port, arrived } = await slowServer();
    servers.push(server);
    const cut: string[] = [];
    const { parts, calls } = fakeParts();
    parts.cutRequest = (response) => cut.push((response as unknown as { req: IncomingMessage }).req.url ?? '');
    server.on('request', (req: IncomingMessage, res) => res.once('close', () => calls.push(`closed ${req.url}`)));
    const lifecycle = new Lifecycle(parts, { budgetMs: 1000, drainTimeoutMs: 200 });
    lifecycle.registerServer(server);
    await request(port, '/done-before');
    const hanging = request(port, '/hang').catch((err: NodeJS.ErrnoException) => err.code);
    await arrived('/hang');
    await lifecycle.shutdown();
    expect(await hanging).toBe('ECONNRESET');
    expect(cut).toEqual(['/hang']);
    // the cut response has closed (its span ended) before telemetry is flushed and stopped
    expect(calls.slice(calls.indexOf('closed /hang'))).toEqual(['closed /hang', 'shutdownTelemetry', 'flushLogs']);
  });
});
