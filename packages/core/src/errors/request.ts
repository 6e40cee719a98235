/**
 * Which error of a request is reported, and when: the capture rule, independent of the backend.
 *
 * While a request is handled, @obs collects candidates:
 * - `recorded`: the error the adapter recorded as the request's failure (`ObservedRequest.recordError`,
 *   an exception that reached the framework's error handling with a 5xx status);
 * - `noted`: an error the framework answered with a 4xx status (`ObservedRequest.noteError`);
 * - `logged`: an Error logged at level `error` or `fatal` (under `err` or `error`) by an @obs logger
 *   while the request was being handled (a handler that catches, logs and answers 500 itself).
 *
 * When the response is done, at most one is reported: the recorded error, else the error that
 * destroyed the response, else (when the response status is at least the minimum status, 500 by
 * default) the noted error, else the first logged one. A request whose status is below the minimum
 * reports nothing, whatever was logged; a 5xx without any error reports nothing either. So an error
 * is reported once per request, whichever handlers saw it, and wherever the app's own handlers sit.
 */
import type { Context, SpanContext } from '@opentelemetry/api';
import { opentelemetry } from '../otel.js';

const { context, createContextKey, isSpanContextValid, trace } = opentelemetry;

const TRACKER = createContextKey('@obs/errors.request');

/** Why an error is a candidate (see the module comment). */
export type ErrorSource = 'recorded' | 'server' | 'noted' | 'logged';

/** An error and the context it was seen in (for its trace and span ids). */
export interface Candidate {
  readonly error: unknown;
  readonly context: Context;
  readonly source: ErrorSource;
}

/** How the request ended. */
export interface RequestOutcome {
  readonly method: string | undefined;
  /** Route template, when a route matched. */
  readonly route: string | undefined;
  readonly path: string;
  readonly requestId: string;
  /** Undefined when the client went away before the headers were sent. */
  readonly statusCode: number | undefined;
  /** The error the server destroyed the response with (a failing stream), if any. */
  readonly serverError: Error | undefined;
  /** The request's context (server span, request id). */
  readonly context: Context;
}

/** What the observer tells the tracker of one request. */
export interface RequestErrors {
  recorded(error: unknown, ctx?: Context): void;
  noted(error: unknown, ctx?: Context): void;
  logged(error: unknown, ctx?: Context): void;
  /** The response is done: report the one error the rule selects, if any. Idempotent. */
  complete(outcome: RequestOutcome): void;
}

/** Sends the selected error (the backend's part). */
export type ReportRequestError = (candidate: Candidate, outcome: RequestOutcome, status: number) => void;

/** Is `value` an Error, or shaped like one (a message and a stack)? */
export function isErrorLike(value: unknown): value is Error {
  if (value instanceof Error) return true;
  if (value === null || typeof value !== 'object') return false;
  const v = value as { message?: unknown; stack?: unknown };
  return typeof v.message === 'string' && typeof v.stack === 'string';
}

/** The candidates of one request and the capture rule. */
export class RequestErrorTracker implements RequestErrors {
  readonly #minStatus: number;
  readonly #report: ReportRequestError;
  #recorded: Candidate | undefined;
  #noted: Candidate | undefined;
  #logged: Candidate | undefined;
  #done = false;

  /**
   * @param minStatus lowest response status whose noted or logged error is reported
   * @param report sends the selected error
   */
  constructor(minStatus: number, report: ReportRequestError) {
    this.#minStatus = minStatus;
    this.#report = report;
  }

  recorded(error: unknown, ctx: Context = context.active()): void {
    this.#recorded ??= { error, context: ctx, source: 'recorded' };
  }

  noted(error: unknown, ctx: Context = context.active()): void {
    this.#noted ??= { error, context: ctx, source: 'noted' };
  }

  logged(error: unknown, ctx: Context = context.active()): void {
    this.#logged ??= { error, context: ctx, source: 'logged' };
  }

  complete(outcome: RequestOutcome): void {
    if (this.#done) return;
    this.#done = true;
    let candidate: Candidate | undefined;
    let status: number | undefined;
    const failed =
      this.#recorded ??
      (outcome.serverError && { error: outcome.serverError, context: outcome.context, source: 'server' as const });
    if (failed) {
      // A recorded failure is a 5xx by definition, also when the client went away before the answer.
      candidate = failed;
      status = outcome.statusCode !== undefined && outcome.statusCode >= 500 ? outcome.statusCode : 500;
    } else if (outcome.statusCode !== undefined) {
      candidate = this.#noted ?? this.#logged;
      status = outcome.statusCode;
    }
    this.#recorded = this.#noted = this.#logged = undefined;
    if (!candidate || status === undefined || status < this.#minStatus) return;
    this.#report(candidate, outcome, status);
  }
}

/** A context whose work reports logged errors to `tracker`. */
export function withRequestErrors(ctx: Context, tracker: RequestErrors): Context {
  return ctx.setValue(TRACKER, tracker);
}

/** The tracker of the request whose work is running in `ctx`, if any. */
export function requestErrorsOf(ctx: Context = context.active()): RequestErrors | undefined {
  return ctx.getValue(TRACKER) as RequestErrors | undefined;
}

/**
 * Called by @obs's logger for every line at level `error` or above, with the object logged: when the
 * line is written while a request is handled and carries an Error under `err` or `error`, that error
 * becomes a candidate of the request. Cheap when there is no request or no tracker.
 */
export function noteLoggedError(logged: unknown, ctx: Context = context.active()): void {
  if (logged === null || typeof logged !== 'object') return;
  const tracker = requestErrorsOf(ctx);
  if (!tracker) return;
  const { err, error } = logged as { err?: unknown; error?: unknown };
  const found = isErrorLike(err) ? err : isErrorLike(error) ? error : undefined;
  if (found) tracker.logged(found, ctx);
}

/** The valid span context active in `ctx`, if any. */
export function spanContextOf(ctx: Context): SpanContext | undefined {
  const sc = trace.getSpanContext(ctx);
  return sc && isSpanContextValid(sc) ? sc : undefined;
}
