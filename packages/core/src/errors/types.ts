/**
 * Public types of @obs error reporting. Nothing here imports `@sentry/node`: it is an optional peer
 * dependency, so @obs's own type declarations must not need it. Events are typed structurally; cast
 * to `import('@sentry/node').ErrorEvent` in your own code if you want Sentry's full type.
 */

/** A Sentry event as `beforeSend` sees it (structural subset of `@sentry/core`'s `ErrorEvent`). */
export interface SentryEvent {
  event_id?: string;
  message?: string;
  level?: string;
  release?: string;
  environment?: string;
  transaction?: string;
  tags?: Record<string, unknown>;
  extra?: Record<string, unknown>;
  contexts?: Record<string, Record<string, unknown> | undefined>;
  request?: Record<string, unknown>;
  breadcrumbs?: Record<string, unknown>[];
  exception?: { values?: Record<string, unknown>[] };
  [key: string]: unknown;
}

/** The hint Sentry passes along with an event (`originalException` is what was thrown or logged). */
export interface SentryEventHint {
  originalException?: unknown;
  event_id?: string;
  [key: string]: unknown;
}

/**
 * Edit an event, or drop it by returning null. Runs after Sentry's own processing and before @obs
 * scrubs the event with the redaction rules (so whatever it adds is scrubbed too).
 */
export type SentryBeforeSend = (
  event: SentryEvent,
  hint: SentryEventHint,
) => SentryEvent | null | PromiseLike<SentryEvent | null>;

/** Options for {@link ErrorReporting.captureException}. */
export interface CaptureOptions {
  /** Default `error`. */
  level?: 'fatal' | 'error' | 'warning' | 'info';
  tags?: Record<string, string | number | boolean>;
  extra?: Record<string, unknown>;
}

/**
 * Error reporting as the app sees it (`getObs().errors`). With no backend configured (no
 * `SENTRY_DSN`, or `@sentry/node` not installed) every method is a cheap no-op.
 */
export interface ErrorReporting {
  /** `'sentry'` when errors are reported to Sentry, else undefined. */
  readonly backend: 'sentry' | undefined;
  /**
   * Report an error that fails no request (a job, a consumer, a timer): the event carries the active
   * span's trace and span ids and the request id, if any. Errors that fail a request are reported by
   * @obs already; do not report them again.
   * @returns the event id, or undefined when nothing was sent
   */
  captureException(err: unknown, options?: CaptureOptions): string | undefined;
  /** Set (or clear, with undefined) the `beforeSend` callback; replaces the one from `start({ sentry })`. */
  setBeforeSend(beforeSend: SentryBeforeSend | undefined): void;
  /**
   * Send what is queued. @obs calls this at shutdown within `OBS_SHUTDOWN_TIMEOUT_MS`.
   * @returns true when everything was sent within `timeoutMs`
   */
  flush(timeoutMs?: number): Promise<boolean>;
}
