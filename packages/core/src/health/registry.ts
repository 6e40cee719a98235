/**
 * Named health checks and the JSON answers of the Kubernetes probe routes (`/health/live`,
 * `/health/ready`, `/health/started`).
 *
 * - A check is an async function that resolves when healthy and throws (or rejects) when not. It
 *   fails when it does not settle within its timeout (default 1000 ms), and every answer has a
 *   deadline (`OBS_HEALTH_TIMEOUT_MS`, default 900 ms, under Kubernetes' default probe timeout of 1 s):
 *   no check of an answer runs longer than that.
 * - Checks are `critical` by default: one failing makes the answer 503 `error`. A failing
 *   non-critical check makes it `degraded`, still 200.
 * - Answers are reused for `OBS_HEALTH_CACHE_MS` (default 1000 ms) after a run, and concurrent probes
 *   share the run in flight: however many probes arrive, a dependency sees at most one check per
 *   period.
 * - Readiness answers 503 `shutting_down` as soon as shutdown begins, without running checks.
 *   Liveness runs only liveness checks, which must not depend on other services. The startup answer
 *   is 503 `starting` until the app is listening (`markStarted()`, called by the adapters) and its
 *   startup checks pass; then 200 for good.
 * - Errors are summarised without their message: a code (`ECONNREFUSED`, `timeout`, `auth failed`,
 *   `HTTP 503`), since messages carry host names, users and connection strings. The message of a
 *   {@link HealthCheckError} is public. `OBS_HEALTH_DETAILS=true` adds each message as `detail`.
 * - Each run is measured: `health.check.status` (1 ok, 0 failing) and `health.check.duration` (s).
 *   Checks run with tracing suppressed: their queries and requests make no spans.
 *
 * Answer shape (HTTP 200 for `ok` and `degraded`, else 503):
 * ```json
 * { "status": "ok" | "degraded" | "error" | "shutting_down" | "starting",
 *   "checks": { "<name>": { "status": "ok" | "error", "critical": true, "duration_ms": 1.2, "error": "ECONNREFUSED" } } }
 * ```
 */
import type { Attributes, Gauge, Histogram, MeterProvider } from '@opentelemetry/api';
import { MAX_TIMER_MS } from '../config/parse.js';
import { warn } from '../diag.js';
import { METRICS } from '../metrics/names.js';
import { opentelemetry, otelCore } from '../otel.js';

const { context, metrics } = opentelemetry;
const { suppressTracing } = otelCore;

/** Which probe a check belongs to. Liveness checks must not depend on other services. */
export type ProbeKind = 'liveness' | 'readiness' | 'startup';

/** A health check. */
export interface HealthCheck {
  /** Unique name, shown in the answer and the metrics (e.g. `postgres`). */
  name: string;
  /** Resolves when healthy; throws or rejects when not. The signal aborts when the timeout passes. */
  check: (signal: AbortSignal) => Promise<unknown> | unknown;
  /** Default `readiness`. */
  kind?: ProbeKind;
  /** Milliseconds before the check counts as failed. Default 1000; never more than the answer's deadline. */
  timeoutMs?: number;
  /** A failing critical check makes the answer 503; a non-critical one only `degraded`. Default true. */
  critical?: boolean;
}

/** One check's result. */
export interface CheckResult {
  status: 'ok' | 'error';
  critical: boolean;
  /** Milliseconds the check took. */
  duration_ms: number;
  /** Short error summary: a code such as `ECONNREFUSED`, `timeout`, `auth failed`, `HTTP 503`. */
  error?: string;
  /** The error's message (first line), only with `OBS_HEALTH_DETAILS=true`. */
  detail?: string;
}

/** Overall status of an answer. */
export type HealthStatus = 'ok' | 'degraded' | 'error' | 'shutting_down' | 'starting';

/** A probe answer. */
export interface HealthReport {
  status: HealthStatus;
  checks: Record<string, CheckResult>;
}

/** A probe answer with its HTTP status code. */
export interface HealthResponse {
  statusCode: 200 | 503;
  body: HealthReport;
}

/** Registry settings (the resolved `OBS_HEALTH_*` configuration). */
export interface HealthSettings {
  /** Milliseconds an answer is reused after its run. 0: every probe runs the checks (concurrent ones still share). */
  cacheMs?: number;
  /** Deadline of an answer, in milliseconds. */
  timeoutMs?: number;
  /** Include error messages (`detail`). */
  details?: boolean;
}

/** Defaults of {@link HealthSettings} (also the configuration's). */
export const HEALTH_DEFAULTS = Object.freeze({ cacheMs: 1000, timeoutMs: 900, details: false });

const DEFAULT_CHECK_TIMEOUT_MS = 1000;
const MAX_DETAIL_LENGTH = 200;

/**
 * A failure whose message is safe to show in the public answer (`throw new HealthCheckError('backlog
 * above 10000')`). Other errors are summarised by their code only.
 */
export class HealthCheckError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'HealthCheckError';
  }
}

class CheckTimeout extends Error {
  constructor(ms: number) {
    super(`timed out after ${Math.round(ms)} ms`);
    this.name = 'CheckTimeout';
  }
}

/** Error codes (pg SQLSTATE, MySQL, Redis, AMQP) that mean the credentials were refused. */
const AUTH_CODES = new Set([
  '28P01',
  '28000',
  'ER_ACCESS_DENIED_ERROR',
  'ER_DBACCESS_DENIED_ERROR',
  'NOAUTH',
  'WRONGPASS',
]);
const AUTH_TEXT = /password authentication failed|access denied|ACCESS_REFUSED|WRONGPASS|NOAUTH|authentication failed/i;

function firstLine(text: string): string {
  const line = text.split('\n')[0] ?? '';
  return line.length > MAX_DETAIL_LENGTH ? `${line.slice(0, MAX_DETAIL_LENGTH)}…` : line;
}

/**
 * The error and its causes, outermost first: `cause`, an AggregateError's first error, the driver
 * error an ORM wraps (Sequelize's `parent`, TypeORM's `driverError`, Prisma's `meta.driverAdapterError`).
 */
function chain(err: unknown): unknown[] {
  const out: unknown[] = [];
  let cursor: unknown = err;
  while (cursor !== undefined && cursor !== null && out.length < 5 && !out.includes(cursor)) {
    out.push(cursor);
    const e = cursor as {
      cause?: unknown;
      errors?: unknown;
      parent?: unknown;
      driverError?: unknown;
      meta?: { driverAdapterError?: unknown };
    };
    cursor =
      e.cause ??
      (Array.isArray(e.errors) ? e.errors[0] : undefined) ??
      (e.parent instanceof Error ? e.parent : undefined) ??
      (e.driverError instanceof Error ? e.driverError : undefined) ??
      (typeof e.meta === 'object' ? e.meta?.driverAdapterError : undefined);
  }
  return out;
}

/** Prisma driver-adapter error kinds (`{ kind: 'DatabaseNotReachable' }`) that are summaries of their own. */
const PRISMA_KIND =
  /^(?:Database|Authentication|TooMany|SocketTimeout|TransactionAlreadyClosed|TlsConnectionError)[A-Za-z]{0,40}$/;

/**
 * The public summary of a failure: never the message of an arbitrary error, which may carry host
 * names, users or connection strings.
 */
export function summariseError(err: unknown): string {
  const errors = chain(err);
  for (const e of errors) {
    if (e instanceof CheckTimeout) return 'timeout';
    if (e instanceof HealthCheckError) return firstLine(e.message) || 'failed';
  }
  for (const e of errors) {
    const { code, message } = (e ?? {}) as { code?: unknown; message?: unknown };
    if (
      (typeof code === 'string' && AUTH_CODES.has(code)) ||
      (typeof message === 'string' && AUTH_TEXT.test(message))
    ) {
      return 'auth failed';
    }
  }
  for (const e of errors) {
    // Prisma's own code (P2010 "raw query failed") wraps the driver's: the cause says more
    if ((e as { meta?: { driverAdapterError?: unknown } } | null)?.meta?.driverAdapterError) continue;
    const code = (e as { code?: unknown } | null)?.code;
    // errno codes (ECONNREFUSED), MySQL codes (ER_...), SQLSTATE (42P01)
    if (typeof code === 'string' && (/^E[A-Z0-9_]{2,40}$/.test(code) || /^(?=.*\d)[0-9A-Z]{5}$/.test(code))) {
      return code;
    }
  }
  for (const e of errors) {
    const kind = (e as { kind?: unknown } | null)?.kind;
    if (kind === 'AuthenticationFailed') return 'auth failed';
    if (typeof kind === 'string' && PRISMA_KIND.test(kind)) return kind;
  }
  for (const e of errors) {
    const name = (e as { name?: unknown } | null)?.name;
    if (name === 'AbortError' || name === 'TimeoutError') return 'timeout';
  }
  const name = (errors[0] as { name?: unknown } | null)?.name;
  return typeof name === 'string' && /^[A-Z][A-Za-z0-9_]{0,60}$/.test(name) && name !== 'Error' ? name : 'failed';
}

function detailOf(err: unknown): string {
  if (err instanceof Error) return firstLine(err.message || err.name);
  return firstLine(String(err));
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

/** The instruments a run records on, created on first use (after the meter provider is installed). */
let instruments: { provider: MeterProvider; status: Gauge; duration: Histogram } | undefined;
function record(check: HealthCheck, kind: ProbeKind, critical: boolean, result: CheckResult): void {
  try {
    const provider = metrics.getMeterProvider();
    if (instruments?.provider !== provider) {
      const meter = provider.getMeter('@obs/core');
      const { healthCheckStatus: s, healthCheckDuration: d } = METRICS;
      instruments = {
        provider,
        status: meter.createGauge(s.name, { description: s.description, unit: s.unit }),
        duration: meter.createHistogram(d.name, {
          description: d.description,
          unit: d.unit,
          advice: { explicitBucketBoundaries: [...(d.buckets ?? [])] },
        }),
      };
    }
    const base: Attributes = { 'health.check.name': check.name, 'health.check.kind': kind };
    instruments.status.record(result.status === 'ok' ? 1 : 0, { ...base, 'health.check.critical': String(critical) });
    instruments.duration.record(result.duration_ms / 1000, base);
  } catch {
    // metrics never fail a probe
  }
}

/** A cached or in-flight run of one probe kind's checks. */
interface Run {
  readonly generation: number;
  readonly promise: Promise<HealthReport>;
  /** `performance.now()` when the run finished; undefined while in flight. */
  doneAt?: number;
}

/** The health-check registry. */
export class HealthRegistry {
  readonly #checks = new Map<string, HealthCheck>();
  readonly #runs = new Map<ProbeKind, Run>();
  readonly #cacheMs: number;
  readonly #deadlineMs: number;
  readonly #details: boolean;
  #generation = 0;
  #shuttingDown = false;
  #started = false;
  #startupPassed = false;

  constructor(settings: HealthSettings = {}) {
    this.#cacheMs = settings.cacheMs ?? HEALTH_DEFAULTS.cacheMs;
    this.#deadlineMs = settings.timeoutMs ?? HEALTH_DEFAULTS.timeoutMs;
    this.#details = settings.details ?? HEALTH_DEFAULTS.details;
  }

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
      warn(`health check "${check.name}" has timeoutMs=${String(t)}; using ${DEFAULT_CHECK_TIMEOUT_MS}`);
      check = { ...check, timeoutMs: DEFAULT_CHECK_TIMEOUT_MS };
    }
    const kind = check.kind ?? 'readiness';
    if (kind !== 'liveness' && kind !== 'readiness' && kind !== 'startup') {
      throw new TypeError(`health check "${check.name}" has an unknown kind ${JSON.stringify(kind)}`);
    }
    this.#checks.set(check.name, check);
    this.#generation++;
    return this;
  }

  /** Remove a check by name. */
  remove(name: string): boolean {
    const removed = this.#checks.delete(name);
    if (removed) this.#generation++;
    return removed;
  }

  /** Mark the process as shutting down: readiness answers 503 from now on. */
  markShuttingDown(): void {
    this.#shuttingDown = true;
  }

  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  /** The app is listening: the startup probe passes once its startup checks do. Adapters call it. */
  markStarted(): void {
    this.#started = true;
  }

  /** True once {@link markStarted} was called. */
  get started(): boolean {
    return this.#started;
  }

  async #runOne(check: HealthCheck, kind: ProbeKind): Promise<CheckResult> {
    const critical = check.critical !== false;
    const timeoutMs = Math.min(check.timeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS, this.#deadlineMs);
    const controller = new AbortController();
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const err = new CheckTimeout(timeoutMs);
        controller.abort(err);
        reject(err);
      }, timeoutMs);
      timer.unref();
    });
    let result: CheckResult;
    try {
      // No spans for the checks' queries and requests: probes would fill the traces with them.
      const running = context.with(suppressTracing(context.active()), () =>
        Promise.resolve().then(() => check.check(controller.signal)),
      );
      await Promise.race([running, timeout]);
      result = { status: 'ok', critical, duration_ms: round(performance.now() - started) };
    } catch (err) {
      result = {
        status: 'error',
        critical,
        duration_ms: round(performance.now() - started),
        error: summariseError(err),
      };
      if (this.#details) result.detail = detailOf(err);
    } finally {
      clearTimeout(timer);
    }
    record(check, kind, critical, result);
    return result;
  }

  async #run(kind: ProbeKind): Promise<HealthReport> {
    const checks = [...this.#checks.values()].filter((c) => (c.kind ?? 'readiness') === kind);
    const results = await Promise.all(checks.map((c) => this.#runOne(c, kind)));
    const out: Record<string, CheckResult> = {};
    let status: HealthStatus = 'ok';
    checks.forEach((c, i) => {
      const result = results[i] as CheckResult;
      out[c.name] = result;
      if (result.status === 'error') status = result.critical ? 'error' : status === 'error' ? 'error' : 'degraded';
    });
    return { status, checks: out };
  }

  /** The report of `kind`: the cached one, the one in flight, or a new run. */
  #report(kind: ProbeKind): Promise<HealthReport> {
    const current = this.#runs.get(kind);
    if (
      current &&
      current.generation === this.#generation &&
      (current.doneAt === undefined || performance.now() - current.doneAt < this.#cacheMs)
    ) {
      return current.promise;
    }
    const run: Run = {
      generation: this.#generation,
      promise: this.#run(kind).finally(() => {
        run.doneAt = performance.now();
      }),
    };
    this.#runs.set(kind, run);
    return run.promise;
  }

  /** Liveness: the process is up and its liveness checks pass. Dependencies are never checked here. */
  async live(): Promise<HealthResponse> {
    return respond(await this.#report('liveness'));
  }

  /** Readiness: the readiness checks pass and the process is not shutting down. */
  async ready(): Promise<HealthResponse> {
    if (this.#shuttingDown) return { statusCode: 503, body: { status: 'shutting_down', checks: {} } };
    const body = await this.#report('readiness');
    // shutdown may have begun while the checks ran
    if (this.#shuttingDown) return { statusCode: 503, body: { status: 'shutting_down', checks: {} } };
    return respond(body);
  }

  /** Startup: 503 `starting` until {@link markStarted} was called and the startup checks pass; then 200 for good. */
  async startup(): Promise<HealthResponse> {
    if (this.#startupPassed) return { statusCode: 200, body: { status: 'ok', checks: {} } };
    if (!this.#started) return { statusCode: 503, body: { status: 'starting', checks: {} } };
    const body = await this.#report('startup');
    if (body.status === 'error') return { statusCode: 503, body: { ...body, status: 'starting' } };
    this.#startupPassed = true;
    return respond(body);
  }
}

function respond(body: HealthReport): HealthResponse {
  return { statusCode: body.status === 'ok' || body.status === 'degraded' ? 200 : 503, body };
}
