/**
 * Named health checks with timeouts, and the JSON answers for the Kubernetes probe routes
 * (`/health/live`, `/health/ready`). A check is an async function that resolves when healthy and
 * throws (or rejects) when not; one that does not settle within its timeout fails. Readiness reports
 * not ready as soon as shutdown begins, so load balancers stop sending traffic while in-flight
 * requests drain.
 *
 * Answer shape (HTTP 200 when `status` is `ok`, else 503):
 * ```json
 * { "status": "ok" | "error" | "shutting_down",
 *   "checks": { "<name>": { "status": "ok" | "error", "duration_ms": 1.2, "error": "timed out after 1000 ms" } } }
 * ```
 */

import { MAX_TIMER_MS } from '../config/parse.js';
import { warn } from '../diag.js';

/** Which probe a check belongs to. Liveness checks must not depend on other services. */
export type ProbeKind = 'liveness' | 'readiness';

/** A health check. */
export interface HealthCheck {
  /** Unique name, shown in the answer (e.g. `postgres`). */
  name: string;
  /** Resolves when healthy; throws or rejects when not. The signal aborts when the timeout passes. */
  check: (signal: AbortSignal) => Promise<unknown> | unknown;
  /** Default `readiness`. */
  kind?: ProbeKind;
  /** Milliseconds before the check counts as failed. Default 1000. */
  timeoutMs?: number;
}

/** One check's result. */
export interface CheckResult {
  status: 'ok' | 'error';
  /** Milliseconds the check took. */
  duration_ms: number;
  /** Short error summary (no stack). */
  error?: string;
}

/** A probe answer. */
export interface HealthReport {
  status: 'ok' | 'error' | 'shutting_down';
  checks: Record<string, CheckResult>;
}

/** A probe answer with its HTTP status code. */
export interface HealthResponse {
  statusCode: 200 | 503;
  body: HealthReport;
}

const DEFAULT_TIMEOUT_MS = 1000;
const MAX_ERROR_LENGTH = 200;

function summarise(err: unknown): string {
  const text = err instanceof Error ? err.message || err.name : String(err);
  const line = text.split('\n')[0] ?? '';
  return line.length > MAX_ERROR_LENGTH ? `${line.slice(0, MAX_ERROR_LENGTH)}…` : line;
}

async function run(check: HealthCheck): Promise<CheckResult> {
  const timeoutMs = check.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const controller = new AbortController();
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new Error(`timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    timer.unref();
  });
  try {
    await Promise.race([Promise.resolve().then(() => check.check(controller.signal)), timeout]);
    return { status: 'ok', duration_ms: round(performance.now() - started) };
  } catch (err) {
    return { status: 'error', duration_ms: round(performance.now() - started), error: summarise(err) };
  } finally {
    clearTimeout(timer);
  }
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

/** The health-check registry. */
export class HealthRegistry {
  readonly #checks = new Map<string, HealthCheck>();
  #shuttingDown = false;

  /**
   * Register a check. A second check with the same name replaces the first.
   * @throws TypeError when `name` is empty or `check` is not a function
   */
  add(check: HealthCheck): this {
    if (!check || typeof check.name !== 'string' || check.name === '' || typeof check.check !== 'function') {
      throw new TypeError('a health check needs a non-empty name and a check function');
    }
    const t = check.timeoutMs;
    if (t !== undefined && !(Number.isFinite(t) && t > 0 && t <= MAX_TIMER_MS)) {
      warn(`health check "${check.name}" has timeoutMs=${String(t)}; using ${DEFAULT_TIMEOUT_MS}`);
      check = { ...check, timeoutMs: DEFAULT_TIMEOUT_MS };
    }
    this.#checks.set(check.name, check);
    return this;
  }

  /** Remove a check by name. */
  remove(name: string): boolean {
    return this.#checks.delete(name);
  }

  /** Mark the process as shutting down: readiness answers 503 from now on. */
  markShuttingDown(): void {
    this.#shuttingDown = true;
  }

  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  async #report(kind: ProbeKind): Promise<HealthReport> {
    const checks = [...this.#checks.values()].filter((c) => (c.kind ?? 'readiness') === kind);
    const results = await Promise.all(checks.map(run));
    const out: Record<string, CheckResult> = {};
    checks.forEach((c, i) => {
      out[c.name] = results[i] as CheckResult;
    });
    const failed = results.some((r) => r.status === 'error');
    return { status: failed ? 'error' : 'ok', checks: out };
  }

  /** Liveness: the process is up and its liveness checks pass. Dependencies are never checked here. */
  async live(): Promise<HealthResponse> {
    const body = await this.#report('liveness');
    return { statusCode: body.status === 'ok' ? 200 : 503, body };
  }

  /** Readiness: the readiness checks pass and the process is not shutting down. */
  async ready(): Promise<HealthResponse> {
    if (this.#shuttingDown) return { statusCode: 503, body: { status: 'shutting_down', checks: {} } };
    const body = await this.#report('readiness');
    return { statusCode: body.status === 'ok' ? 200 : 503, body };
  }
}
