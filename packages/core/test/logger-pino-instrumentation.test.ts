/**
 * @obs's logger when instrumentation-pino has patched pino first (the preload enables the
 * instrumentations before the logger exists): its lines carry the trace ids once, from @obs's own
 * mixin, not from instrumentation-pino's mixin put in front of it (the same fields computed twice on
 * every line: docs/performance.md).
 */
import { Writable } from 'node:stream';
import { context, ROOT_CONTEXT, TraceFlags, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { PinoInstrumentation } from '@opentelemetry/instrumentation-pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, loadPino } from '../src/logging/logger.js';

let instrumentation: PinoInstrumentation;
/** Calls of instrumentation-pino's mixin: its `logHook` runs on each one with a valid span. */
let otelMixinCalls = 0;

beforeAll(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  instrumentation = new PinoInstrumentation({ disableLogSending: true, logHook: () => void otelMixinCalls++ });
  instrumentation.enable();
});
afterAll(() => {
  instrumentation.disable();
  context.disable();
});

describe('the @obs logger under instrumentation-pino', () => {
  it('writes the trace ids from its own mixin only', () => {
    const raw: string[] = [];
    const destination = new Writable({
      write(chunk, _encoding, callback) {
        raw.push(String(chunk));
        callback();
      },
    });
    // the app's own pino logger is instrumented: the patch is in place
    const pino = loadPino();
    const span = trace.wrapSpanContext({
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      traceFlags: TraceFlags.SAMPLED,
    });
    context.with(trace.setSpan(ROOT_CONTEXT, span), () => pino(destination).info('app line'));
    expect(otelMixinCalls).toBe(1);

    const logger = createLogger({
      level: 'info',
      serviceName: 'billing',
      redactKeys: [],
      destination,
    });
    context.with(trace.setSpan(ROOT_CONTEXT, span), () => {
      logger.info('obs line');
      logger.child({ component: 'db' }).info('child line');
    });
    expect(otelMixinCalls).toBe(1);
    const lines = raw.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.map((line) => [line.msg, line.trace_id, line.span_id, line.trace_flags])).toEqual([
      ['app line', '0af7651916cd43dd8448eb211c80319c', 'b7ad6b7169203331', '01'],
      ['obs line', '0af7651916cd43dd8448eb211c80319c', 'b7ad6b7169203331', '01'],
      ['child line', '0af7651916cd43dd8448eb211c80319c', 'b7ad6b7169203331', '01'],
    ]);
  });
});
