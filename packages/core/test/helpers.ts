/** Shared test helpers: diagnostics capture and an in-memory pino logger built with @obs's own options. */
import { afterEach, beforeEach, vi } from 'vitest';
import { captureDiagnostics } from '../src/diag.js';
import { createLogger, type LoggerSetup, type ObsLogger } from '../src/logging/logger.js';

/** Capture @obs diagnostics for every test of the calling file; returns the live array of lines. */
export function useDiagnostics(): string[] {
  const lines: string[] = [];
  let restore: (() => void) | undefined;
  beforeEach(() => {
    lines.length = 0;
    restore = captureDiagnostics(lines);
  });
  afterEach(() => {
    restore?.();
    restore = undefined;
  });
  return lines;
}

/** A parsed JSON log line. */
export type LogLine = Record<string, unknown>;

/** A real pino logger with @obs's options whose lines land in memory, synchronously. */
export function memoryLogger(setup: Partial<LoggerSetup> = {}): { logger: ObsLogger; lines: LogLine[]; raw: string[] } {
  const lines: LogLine[] = [];
  const raw: string[] = [];
  const logger = createLogger({
    level: 'trace',
    serviceName: 'test-service',
    redactKeys: [],
    ...setup,
    destination: {
      write(chunk: string) {
        raw.push(chunk);
        lines.push(JSON.parse(chunk) as LogLine);
      },
    },
  });
  return { logger, lines, raw };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * With fake timers: the (fake) millisecond at which `promise` settles, advancing 1 ms at a time
 * (gives up after 10 s). For tests of @obs's own timers, exact whatever the machine's load.
 */
export async function settlesAt(promise: Promise<unknown>): Promise<number> {
  let settled = false;
  void promise.finally(() => {
    settled = true;
  });
  for (let ms = 0; ms <= 10_000; ms++) {
    await vi.advanceTimersByTimeAsync(ms === 0 ? 0 : 1);
    if (settled) return ms;
  }
  throw new Error('did not settle within 10 s of fake time');
}
