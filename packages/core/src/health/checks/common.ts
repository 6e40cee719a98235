/**
 * What every built-in check factory takes, and how it builds the {@link HealthCheck}.
 */
import type { HealthCheck, ProbeKind } from '../registry.js';

/** Options every built-in check takes. */
export interface CheckOptions {
  /** Name in the answers and the metrics. Default: the dependency (`postgres`, `mysql`, `redis`, `rabbitmq`, `http`). */
  name?: string;
  /** Milliseconds before the check fails. Default 1000 (never more than `OBS_HEALTH_TIMEOUT_MS`). */
  timeoutMs?: number;
  /** Default true: a failure makes readiness 503. False: the service is only `degraded` without it. */
  critical?: boolean;
  /** Default `readiness`. Dependencies have no place in liveness. */
  kind?: ProbeKind;
}

/** Build a check from its options and what it runs. */
export function makeCheck(
  defaultName: string,
  options: CheckOptions,
  check: (signal: AbortSignal) => Promise<unknown>,
): HealthCheck {
  const out: HealthCheck = { name: options.name ?? defaultName, check };
  if (options.timeoutMs !== undefined) out.timeoutMs = options.timeoutMs;
  if (options.critical !== undefined) out.critical = options.critical;
  if (options.kind !== undefined) out.kind = options.kind;
  return out;
}

/** True for a promise or any thenable. */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}
