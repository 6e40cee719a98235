/**
 * Values @obs keeps in the OpenTelemetry context of a request, so that anything running inside it
 * (a log line from the app's own pino logger, an error report) can find them without being handed
 * the request object.
 */
import type { Context } from '@opentelemetry/api';
import { opentelemetry } from './otel.js';

const { context, createContextKey } = opentelemetry;

const REQUEST_ID = createContextKey('@obs/request-id');

/** The request id of the request whose work is running now, if any. */
export function activeRequestId(ctx: Context = context.active()): string | undefined {
  return ctx.getValue(REQUEST_ID) as string | undefined;
}

/** A context that carries `requestId`. */
export function withRequestId(ctx: Context, requestId: string): Context {
  return ctx.setValue(REQUEST_ID, requestId);
}
