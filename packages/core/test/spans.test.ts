import { context, type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { recordError, withSpan } from '../src/tracing/spans.js';
import { sleep } from './helpers.js';

const exporter = new InMemorySpanExporter();
const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });

beforeAll(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(provider);
});
afterAll(async () => {
  await provider.shutdown();
  trace.disable();
  context.disable();
});
afterEach(() => {
  exporter.reset();
});

function finished(): ReadableSpan[] {
  return exporter.getFinishedSpans();
}

function only(name: string): ReadableSpan {
  const spans = finished().filter((s) => s.name === name);
  expect(spans).toHaveLength(1);
  return spans[0] as ReadableSpan;
}

describe('withSpan', () => {
  it('runs a sync function in an ended INTERNAL span and returns its value', () => {
    let inside: Span | undefined;
    const result = withSpan('sync work', (span) => {
      inside = span;
      expect(finished()).toHaveLength(0); // not ended while running
      return 42;
    });
    expect(result).toBe(42);
    const span = only('sync work');
    expect(span.ended).toBe(true);
    expect(span.kind).toBe(SpanKind.INTERNAL);
    expect(span.status.code).toBe(SpanStatusCode.UNSET);
    expect(span.events).toEqual([]);
    expect(span.instrumentationScope.name).toBe('@obs/app');
    expect(inside?.spanContext().spanId).toBe(span.spanContext().spanId);
  });

  it('passes attributes and kind', () => {
    withSpan('with options', () => undefined, { attributes: { 'app.items': 3 }, kind: SpanKind.CLIENT });
    const span = only('with options');
    expect(span.attributes).toEqual({ 'app.items': 3 });
    expect(span.kind).toBe(SpanKind.CLIENT);
  });

  it('ends an async span when its promise resolves, not before', async () => {
    const promise = withSpan('async work', async () => {
      await sleep(20);
      return 'done';
    });
    expect(finished()).toHaveLength(0);
    await expect(promise).resolves.toBe('done');
    const span = only('async work');
    expect(span.status.code).toBe(SpanStatusCode.UNSET);
    const durationMs = span.duration[0] * 1e3 + span.duration[1] / 1e6;
    expect(durationMs).toBeGreaterThanOrEqual(15);
  });

  it('records a thrown error (exception event, status ERROR), ends the span and re-throws the same error', () => {
    const boom = new TypeError('sync boom');
    let caught: unknown;
    try {
      withSpan('sync failure', () => {
        throw boom;
      });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBe(boom);
    const span = only('sync failure');
    expect(span.status).toEqual({ code: SpanStatusCode.ERROR, message: 'sync boom' });
    expect(span.events).toHaveLength(1);
    expect(span.events[0]?.name).toBe('exception');
    expect(span.events[0]?.attributes).toMatchObject({
      'exception.type': 'TypeError',
      'exception.message': 'sync boom',
      'exception.stacktrace': expect.stringContaining('TypeError: sync boom'),
    });
  });

  it('records a rejected promise the same way and re-rejects with the same error', async () => {
    const boom = new Error('async boom');
    const promise = withSpan('async failure', async () => {
      await sleep(5);
      throw boom;
    });
    await expect(promise).rejects.toBe(boom);
    const span = only('async failure');
    expect(span.status).toEqual({ code: SpanStatusCode.ERROR, message: 'async boom' });
    expect(span.events.map((e) => e.name)).toEqual(['exception']);
    expect(span.events[0]?.attributes?.['exception.message']).toBe('async boom');
  });

  it('records a non-Error throw with its string form and re-throws the original value', () => {
    expect(() =>
      withSpan('string throw', () => {
        throw 'just a string';
      }),
    ).toThrow('just a string');
    const span = only('string throw');
    expect(span.status).toEqual({ code: SpanStatusCode.ERROR, message: 'just a string' });
    expect(span.events[0]?.attributes?.['exception.message']).toBe('just a string');
  });

  it('makes the active span the parent, across awaits, and the new span active inside', async () => {
    await withSpan('parent', async (parent) => {
      expect(trace.getActiveSpan()).toBe(parent);
      await sleep(1);
      await withSpan('child', async (child) => {
        expect(trace.getActiveSpan()).toBe(child);
        await sleep(1);
        withSpan('grandchild', () => undefined);
      });
    });
    const parent = only('parent');
    const child = only('child');
    const grandchild = only('grandchild');
    expect(parent.parentSpanContext).toBeUndefined();
    expect(child.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
    expect(grandchild.parentSpanContext?.spanId).toBe(child.spanContext().spanId);
    expect(new Set([parent, child, grandchild].map((s) => s.spanContext().traceId)).size).toBe(1);
    expect(trace.getActiveSpan()).toBeUndefined();
  });

  it('parents to a span made active by other code', () => {
    const outer = provider.getTracer('other').startSpan('outer');
    context.with(trace.setSpan(context.active(), outer), () => withSpan('inner', () => undefined));
    outer.end();
    expect(only('inner').parentSpanContext?.spanId).toBe(outer.spanContext().spanId);
  });
});

describe('recordError', () => {
  it('adds an exception event and sets status ERROR without ending the span', () => {
    const span = provider.getTracer('t').startSpan('manual');
    recordError(span, new RangeError('out of range'));
    expect(finished()).toHaveLength(0);
    span.end();
    const done = only('manual');
    expect(done.status).toEqual({ code: SpanStatusCode.ERROR, message: 'out of range' });
    expect(done.events[0]?.attributes?.['exception.type']).toBe('RangeError');
  });
});
