import { describe, expect, it } from 'vitest';
import { Lifecycle, type LifecycleParts } from '../src/lifecycle/lifecycle.js';
import { sleep, useDiagnostics } from './helpers.js';

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
  it('runs readiness, hooks in order, telemetry, then logs; no warning', async () => {
    const { parts, calls } = fakeParts();
    const lifecycle = new Lifecycle(parts, 1000);
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
    const lifecycle = new Lifecycle(parts, 1000);
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
    const { parts, calls } = fakeParts();
    const lifecycle = new Lifecycle(parts, 200);
    lifecycle.onShutdown(never);
    lifecycle.onShutdown(() => calls.push('hook after the budget'));
    const started = performance.now();
    await lifecycle.shutdown();
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(190);
    expect(elapsed).toBeLessThan(200 + 150);
    // the budget is spent: later hooks are skipped, telemetry and logs are still flushed
    expect(calls).toEqual(['markShuttingDown', 'shutdownTelemetry', 'flushLogs']);
    expect(warnings).toEqual(['@obs warn: shutdown hooks did not finish within the shutdown budget; going on']);
  });

  it('cuts a hanging telemetry flush at the budget, then flushes logs, and warns', async () => {
    const { parts, calls } = fakeParts({ shutdownTelemetry: never });
    const lifecycle = new Lifecycle(parts, 200);
    const started = performance.now();
    await lifecycle.shutdown();
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(190);
    expect(elapsed).toBeLessThan(200 + 150);
    expect(calls).toEqual(['markShuttingDown', 'shutdownTelemetry', 'flushLogs']);
    expect(warnings).toEqual([
      '@obs warn: telemetry was not flushed within 200 ms (OBS_SHUTDOWN_TIMEOUT_MS); some was lost',
    ]);
  });

  it('shares one budget between slow hooks and a hanging flush', async () => {
    const { parts } = fakeParts({ shutdownTelemetry: never });
    const lifecycle = new Lifecycle(parts, 200);
    lifecycle.onShutdown(() => sleep(180));
    const started = performance.now();
    await lifecycle.shutdown();
    const elapsed = performance.now() - started;
    // the flush gets what the hook left (about 20 ms), not a fresh 200 ms
    expect(elapsed).toBeGreaterThanOrEqual(190);
    expect(elapsed).toBeLessThan(200 + 100);
    expect(warnings).toEqual([
      '@obs warn: telemetry was not flushed within 200 ms (OBS_SHUTDOWN_TIMEOUT_MS); some was lost',
    ]);
  });

  it('goes on after a hook that throws or rejects, warning for each', async () => {
    const { parts, calls } = fakeParts();
    const lifecycle = new Lifecycle(parts, 1000);
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
    const lifecycle = new Lifecycle(parts, 1000);
    await expect(lifecycle.shutdown()).resolves.toBeUndefined();
    expect(calls).toEqual(['markShuttingDown', 'shutdownTelemetry', 'flushLogs']);
  });
});

describe('Lifecycle process handlers', () => {
  it('installs SIGTERM, SIGINT and beforeExit listeners once, and removes them (no signal is sent)', () => {
    const { parts } = fakeParts();
    const lifecycle = new Lifecycle(parts, 1000);
    const counts = () => ['SIGTERM', 'SIGINT', 'beforeExit'].map((e) => process.listenerCount(e));
    const before = counts();
    try {
      lifecycle.installProcessHandlers();
      lifecycle.installProcessHandlers();
      expect(counts()).toEqual(before.map((n) => n + 1));
    } finally {
      lifecycle.removeProcessHandlers();
    }
    expect(counts()).toEqual(before);
    expect(lifecycle.shuttingDown).toBe(false);
  });
});
