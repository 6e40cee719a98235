/**
 * The error reporter of the @obs instance: Sentry when `SENTRY_DSN` is set and `@sentry/node` 11.x
 * is installed (./sentry.ts), else a no-op. Nothing of Sentry is loaded without a DSN.
 */
import type { ObsConfig } from '../config/resolve.js';
import { load } from '../lazy.js';
import type { ShutdownHook } from '../lifecycle/lifecycle.js';
import type { ExitRequest } from '../lifecycle/post-sync.js';
import type { RequestErrors } from './request.js';
import { startSentry } from './sentry.js';
import type { ErrorReporting, SentryBeforeSend } from './types.js';

/** The reporter as the rest of @obs uses it. */
export interface ErrorReporter extends ErrorReporting {
  /** Start tracking the errors of a request (call where the request begins); undefined when no backend. */
  track(): RequestErrors | undefined;
  /** Flush pending events at shutdown, through the public `onShutdown` hook. */
  registerShutdown(onShutdown: (hook: ShutdownHook) => void): void;
  /**
   * At exit (synchronous): the envelopes handed to the transport and not yet answered, as HTTP
   * requests for the exit-time export. An envelope whose answer was on its way is sent twice; Sentry
   * drops the second event by its `event_id`.
   */
  takeUndelivered(): ExitRequest[];
}

/** No backend: every method a no-op. */
export const NO_ERROR_REPORTER: ErrorReporter = Object.freeze({
  backend: undefined,
  track: () => undefined,
  captureException: () => undefined,
  setBeforeSend: () => {},
  flush: () => Promise.resolve(true),
  registerShutdown: () => {},
  takeUndelivered: () => [],
});

/** Options for {@link startErrorReporting}. */
export interface ErrorReportingSetup {
  beforeSend?: SentryBeforeSend | undefined;
  /** How `@sentry/node` is required (test seam). Default: `require` relative to @obs/core. */
  load?: (id: string) => unknown;
}

/**
 * Start error reporting for `config`. Call after the OpenTelemetry pipeline has started (Sentry 11
 * must find the global providers in place). Never throws.
 */
export function startErrorReporting(config: ObsConfig, setup: ErrorReportingSetup = {}): ErrorReporter {
  if (!config.sentry.dsn) return NO_ERROR_REPORTER;
  return startSentry(config, { beforeSend: setup.beforeSend, load: setup.load ?? load }) ?? NO_ERROR_REPORTER;
}
