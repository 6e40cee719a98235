/**
 * The deferred @fastify/otel instrumentation (src/tracing/fastify.ts) in the test process, with the
 * real @fastify/otel (a dev dependency of @obs/core) and Fastify's `fastify.initialization` channel.
 * Fastify itself is not a dependency of @obs/core: the instances are stand-ins with the methods
 * @fastify/otel's plugin uses (`decorate`, `addHook`, `register`, `setNotFoundHandler`), and a request
 * is the `onRequest` hook the plugin added, called the way Fastify calls it.
 */
import { channel } from 'node:diagnostics_channel';
import type { Span, TracerProvider } from '@opentelemetry/api';
import { type ReadableSpan, TracerProvider as SdkTracerProvider, type SpanProcessor } from '@opentelemetry/sdk-trace';
import { afterEach, describe, expect, it } from 'vitest';
import { captureDiagnostics } from '../src/diag.js';
import { DeferredFastifyInstrumentation } from '../src/tracing/fastify.js';

type Fn = (...args: unknown[]) => unknown;

/** A tracer provider that keeps the names of the spans started with it. */
function recordingProvider(): { provider: TracerProvider; started: string[] } {
  const started: string[] = [];
  const processor: SpanProcessor = {
    onStart: (span: Span) => started.push((span as unknown as ReadableSpan).name),
    onEnd: () => {},
    forceFlush: async () => {},
    shutdown: async () => {},
  };
  return { provider: new SdkTracerProvider({ spanProcessors: [processor] }), started };
}

/** A Fastify instance stand-in: what @fastify/otel's plugin and the stand-in's marker need. */
function fakeFastify() {
  const hooks: Record<string, Fn[]> = {};
  const registered: Fn[] = [];
  const notFound: unknown[][] = [];
  const app: Record<string | symbol, unknown> = {
    pluginName: 'app',
    decorate(this: Record<string | symbol, unknown>, name: string | symbol, value: unknown) {
      this[name] = value;
      return this;
    },
    decorateRequest() {
      return app;
    },
    addHook(name: string, hook: Fn) {
      hooks[name] = [...(hooks[name] ?? []), hook];
      return app;
    },
    register(plugin: Fn) {
      registered.push(plugin);
      return app;
    },
    setNotFoundHandler(...args: unknown[]) {
      notFound.push(args);
      return app;
    },
  };
  /** A request through the plugin's `onRequest` hook, as Fastify runs it. */
  const request = () => {
    let done = false;
    const onRequest = hooks.onRequest?.[0];
    const req = { method: 'GET', url: '/items/1', headers: {}, routeOptions: { url: '/items/:id', config: {} } };
    onRequest?.call(app, req, {}, () => {
      done = true;
    });
    return done;
  };
  return { app, hooks, registered, notFound, request };
}

const publish = (message: unknown) => channel('fastify.initialization').publish(message);

const instrumentations: DeferredFastifyInstrumentation[] = [];
function deferred(options: Record<string, unknown> = {}): DeferredFastifyInstrumentation {
  const instrumentation = new DeferredFastifyInstrumentation(options);
  instrumentations.push(instrumentation);
  return instrumentation;
}
afterEach(() => {
  for (const instrumentation of instrumentations.splice(0)) instrumentation.disable();
});

describe('DeferredFastifyInstrumentation', () => {
  it('is named @fastify/otel and starts disabled', () => {
    const instrumentation = deferred();
    expect(instrumentation.instrumentationName).toBe('@fastify/otel');
    expect(instrumentation.instrumentationVersion).toBe('deferred');
    expect(instrumentation.getConfig()).toEqual({ enabled: false });
    const fastify = fakeFastify();
    publish({ fastify: fastify.app });
    expect(fastify.registered).toEqual([]);
  });

  it("adds @fastify/otel's hooks and one plugin named @fastify/otel to each new instance, once", () => {
    const instrumentation = deferred();
    instrumentation.enable();
    instrumentation.enable();
    expect(instrumentation.getConfig()).toEqual({ enabled: true });
    const first = fakeFastify();
    const second = fakeFastify();
    publish({ fastify: first.app });
    publish({ fastify: second.app });
    for (const { hooks, registered } of [first, second]) {
      expect(hooks.onRequest).toHaveLength(1);
      expect(registered).toHaveLength(1);
      const marker = registered[0] as Fn & Record<symbol, unknown>;
      expect(marker[Symbol.for('skip-override')]).toBe(true);
      expect(marker[Symbol.for('fastify.display-name')]).toBe('@fastify/otel');
      let done = false;
      marker(first.app, {}, () => {
        done = true;
      });
      expect(done).toBe(true);
    }
  });

  it('starts request spans with the tracer provider it was given, before or after @fastify/otel loaded', () => {
    const before = recordingProvider();
    const after = recordingProvider();
    const instrumentation = deferred();
    instrumentation.setTracerProvider(before.provider);
    instrumentation.enable();
    const fastify = fakeFastify();
    publish({ fastify: fastify.app });
    expect(fastify.request()).toBe(true);
    expect(before.started).toEqual(['request']);
    instrumentation.setTracerProvider(after.provider);
    expect(fastify.request()).toBe(true);
    expect(after.started).toEqual(['request']);
    expect(before.started).toEqual(['request']);
  });

  it('passes its options to @fastify/otel', () => {
    const seen: string[] = [];
    const instrumentation = deferred({ requestHook: (_span: Span, req: { url: string }) => seen.push(req.url) });
    instrumentation.setTracerProvider(recordingProvider().provider);
    instrumentation.enable();
    const fastify = fakeFastify();
    publish({ fastify: fastify.app });
    fastify.request();
    expect(seen).toEqual(['/items/1']);
  });

  it('when disabled, leaves new instances alone and makes no spans; enabled again, it resumes', () => {
    const { provider, started } = recordingProvider();
    const instrumentation = deferred();
    instrumentation.setTracerProvider(provider);
    instrumentation.enable();
    const early = fakeFastify();
    publish({ fastify: early.app });
    instrumentation.disable();
    instrumentation.disable();
    expect(instrumentation.getConfig()).toEqual({ enabled: false });
    const late = fakeFastify();
    publish({ fastify: late.app });
    expect(late.registered).toEqual([]);
    early.request();
    expect(started).toEqual([]);
    instrumentation.enable();
    early.request();
    expect(started).toEqual(['request']);
    publish({ fastify: late.app });
    expect(late.registered).toHaveLength(1);
  });

  it('loads @fastify/otel once: disabling stops the spans of every instance instrumented so far', () => {
    const { provider, started } = recordingProvider();
    const instrumentation = deferred();
    instrumentation.setTracerProvider(provider);
    instrumentation.enable();
    const first = fakeFastify();
    const second = fakeFastify();
    publish({ fastify: first.app });
    publish({ fastify: second.app });
    instrumentation.disable();
    first.request();
    second.request();
    expect(started).toEqual([]);
  });

  it('keeps setNotFoundHandler returning the instance, and lets a call without a handler reach Fastify', () => {
    const instrumentation = deferred();
    instrumentation.enable();
    const fastify = fakeFastify();
    publish({ fastify: fastify.app });
    const setNotFoundHandler = fastify.app.setNotFoundHandler as Fn;
    const handler = () => 'not found';
    expect(setNotFoundHandler.call(fastify.app, handler)).toBe(fastify.app);
    expect(setNotFoundHandler.call(fastify.app, { preHandler: [] }, handler)).toBe(fastify.app);
    expect(setNotFoundHandler.call(fastify.app)).toBe(fastify.app);
    expect(setNotFoundHandler.call(fastify.app, { preHandler: [] })).toBe(fastify.app);
    const [first, second, third, fourth] = fastify.notFound;
    expect(first).toHaveLength(1);
    expect(first?.[0]).toBeTypeOf('function');
    expect(first?.[0]).not.toBe(handler); // wrapped by @fastify/otel: its span wraps the handler
    expect(second?.[1]).toBeTypeOf('function');
    expect(second?.[1]).not.toBe(handler);
    expect(third).toEqual([]);
    expect(fourth).toEqual([{ preHandler: [] }]);
  });

  it('ignores a message without an instance, and warns about an instance it cannot instrument', () => {
    const lines: string[] = [];
    const restore = captureDiagnostics(lines);
    const instrumentation = deferred();
    instrumentation.enable();
    const broken = { register: () => undefined, setNotFoundHandler: () => undefined };
    try {
      publish({});
      publish({ fastify: broken });
    } finally {
      restore();
    }
    expect(lines).toEqual([
      expect.stringMatching(/could not add @fastify\/otel to a Fastify instance \(.*decorate.*\)$/),
    ]);
  });

  it('keeps a copy of the config it is given', () => {
    const instrumentation = deferred();
    const config = { enabled: false, custom: 1 };
    instrumentation.setConfig(config);
    config.custom = 2;
    expect(instrumentation.getConfig()).toEqual({ enabled: false, custom: 1 });
  });
});
