/**
 * Manual spans. `withSpan` runs a function in a child span of the active one, records a thrown error
 * (or rejected promise) as an exception event, sets status ERROR, ends the span and re-throws, so the
 * caller's error handling is unchanged.
 */
import type { Attributes, Span, SpanKind } from '@opentelemetry/api';
import { opentelemetry } from '../otel.js';

const { SpanStatusCode, trace } = opentelemetry;

const TRACER = '@obs/app';

/** Options for {@link withSpan}. */
export interface SpanOptions {
  attributes?: Attributes;
  /** Default INTERNAL. */
  kind?: SpanKind;
}

/** Mark a span as failed with `err`: exception event (semconv `exception.*`) plus status ERROR. */
export function recordError(span: Span, err: unknown): void {
  const error = err instanceof Error ? err : new Error(String(err));
  // timed on the clock spans start and end with: a span given a start time (the SERVER span) would
  // otherwise stamp the event with Date.now(), to the millisecond
  span.recordException(error, performance.now());
  span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
}

/**
 * Run `fn` inside a new span named `name`. Works for synchronous and async functions; the span ends
 * when the function returns or its promise settles.
 * @returns whatever `fn` returns
 * @throws whatever `fn` throws, after recording it on the span
 */
export function withSpan<T>(name: string, fn: (span: Span) => T, options: SpanOptions = {}): T {
  const tracer = trace.getTracer(TRACER);
  return tracer.startActiveSpan(
    name,
    {
      kind: options.kind ?? opentelemetry.SpanKind.INTERNAL,
      ...(options.attributes ? { attributes: options.attributes } : {}),
    },
    (span) => {
      let result: T;
      try {
        result = fn(span);
      } catch (err) {
        recordError(span, err);
        span.end();
        throw err;
      }
      if (result instanceof Promise) {
        return result.then(
          (value) => {
            span.end();
            return value;
          },
          (err: unknown) => {
            recordError(span, err);
            span.end();
            throw err;
          },
        ) as T;
      }
      span.end();
      return result;
    },
  );
}
