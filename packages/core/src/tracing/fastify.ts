/**
 * `@fastify/otel`, loaded when the process creates its first Fastify instance rather than at start-up.
 * It is an optional peer dependency of @obs/core, installed by the apps that enable it: it pins
 * `@opentelemetry/core` 2.x, whose peer range excludes the `@opentelemetry/api` of the 3.x SDK, so as a
 * dependency it made every install warn (npm ERESOLVE, pnpm "unmet peer").
 *
 * @fastify/otel patches no module: it listens on Fastify's `fastify.initialization` diagnostics channel
 * (https://fastify.dev/docs/latest/Reference/Hooks/#diagnostics-channel-hooks) and adds its hooks to each
 * new instance. Loading it (with the copies of `@opentelemetry/core` 2.x and `@opentelemetry/instrumentation`
 * 0.2xx it depends on) cost ~35 ms of every preload's start-up, Fastify app or not (docs/performance.md).
 * This stand-in subscribes to the same channel; on the first message it creates the real instrumentation
 * with the providers it was given, and for every instance does what `registerOnInitialization` does:
 * runs the public `plugin()` on the instance right away (a `register()` would only run once the app
 * awaits it) and registers an empty plugin named `@fastify/otel` so `app.hasPlugin('@fastify/otel')` holds.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { MeterProvider, TracerProvider } from '@opentelemetry/api';
import type { Instrumentation, InstrumentationConfig } from '@opentelemetry/instrumentation';
import { warn } from '../diag.js';
import { load } from '../lazy.js';

const CHANNEL = 'fastify.initialization';
const PLUGIN_NAME = '@fastify/otel';

/** What @fastify/otel's instrumentation offers beyond the Instrumentation interface. */
interface FastifyOtel extends Instrumentation {
  plugin(): (instance: unknown, opts: unknown, done: () => void) => void;
}

type SetNotFoundHandler = (this: FastifyLike, ...args: unknown[]) => unknown;

interface FastifyLike {
  register(plugin: (instance: unknown, opts: unknown, done: () => void) => void): unknown;
  setNotFoundHandler: SetNotFoundHandler;
}

/** The options @obs gives @fastify/otel (see ./instrumentations.ts). */
export type FastifyOtelOptions = Record<string, unknown>;

/** An Instrumentation that loads @fastify/otel on the first `fastify.initialization` message. */
export class DeferredFastifyInstrumentation implements Instrumentation {
  readonly instrumentationName = PLUGIN_NAME;
  readonly instrumentationVersion = 'deferred';
  #config: InstrumentationConfig = { enabled: false };
  #tracerProvider: TracerProvider | undefined;
  #meterProvider: MeterProvider | undefined;
  #real: FastifyOtel | undefined;
  #failed = false;
  readonly #options: FastifyOtelOptions;
  readonly #onInitialization = (message: unknown) => this.#instrument(message as { fastify?: FastifyLike });

  /** @param options passed to `new FastifyOtelInstrumentation()` (`registerOnInitialization` is forced off) */
  constructor(options: FastifyOtelOptions) {
    this.#options = options;
  }

  enable(): void {
    if (this.#config.enabled) return;
    this.#config = { ...this.#config, enabled: true };
    subscribe(CHANNEL, this.#onInitialization);
    this.#real?.enable();
  }

  disable(): void {
    if (!this.#config.enabled) return;
    this.#config = { ...this.#config, enabled: false };
    unsubscribe(CHANNEL, this.#onInitialization);
    this.#real?.disable();
  }

  setTracerProvider(provider: TracerProvider): void {
    this.#tracerProvider = provider;
    this.#real?.setTracerProvider(provider);
  }

  setMeterProvider(provider: MeterProvider): void {
    this.#meterProvider = provider;
    this.#real?.setMeterProvider(provider);
  }

  setConfig(config: InstrumentationConfig): void {
    this.#config = { ...config };
  }

  getConfig(): InstrumentationConfig {
    return this.#config;
  }

  #instrument(message: { fastify?: FastifyLike }): void {
    const fastify = message.fastify;
    const real = this.#load();
    if (!fastify || !real) return;
    try {
      const unpatched = fastify.setNotFoundHandler;
      real.plugin()(fastify, undefined, () => {});
      fastify.setNotFoundHandler = keepNotFoundHandlerContract(fastify.setNotFoundHandler, unpatched);
      const marker = (_instance: unknown, _opts: unknown, done: () => void) => done();
      Object.assign(marker, { [Symbol.for('skip-override')]: true, [Symbol.for('fastify.display-name')]: PLUGIN_NAME });
      fastify.register(marker);
    } catch (err) {
      warn(`could not add @fastify/otel to a Fastify instance (${err instanceof Error ? err.message : String(err)})`);
    }
  }

  #load(): FastifyOtel | undefined {
    if (this.#real || this.#failed) return this.#real;
    try {
      const { FastifyOtelInstrumentation } = load('@fastify/otel') as {
        FastifyOtelInstrumentation: new (o: object) => FastifyOtel;
      };
      const real = new FastifyOtelInstrumentation({ ...this.#options, registerOnInitialization: false });
      if (this.#tracerProvider) real.setTracerProvider(this.#tracerProvider);
      if (this.#meterProvider) real.setMeterProvider(this.#meterProvider);
      this.#real = real;
    } catch (err) {
      this.#failed = true;
      // an optional peer dependency: the app installs it when it enables the instrumentation
      const missing = (err as { code?: string } | undefined)?.code === 'MODULE_NOT_FOUND';
      warn(
        missing
          ? 'the fastify instrumentation is enabled but @fastify/otel is not installed (npm install @fastify/otel); Fastify requests get no framework span'
          : `could not load @fastify/otel; Fastify requests get no framework span (${err instanceof Error ? err.message : String(err)})`,
      );
    }
    return this.#real;
  }
}

/**
 * Works around @fastify/otel 0.21.2's `setNotFoundHandler` patch, which breaks Fastify's contract:
 * it returns undefined instead of the instance (`app.setNotFoundHandler(h).get(...)` throws at
 * start-up), and throws a TypeError when no handler is given (Fastify then restores its default 404).
 * Calls with a handler go through the patch (its span wraps the handler) and return the instance;
 * calls without one go to Fastify's own method. Reported upstream (see the issue 15 notes).
 */
function keepNotFoundHandlerContract(patched: SetNotFoundHandler, unpatched: SetNotFoundHandler): SetNotFoundHandler {
  if (patched === unpatched || typeof patched !== 'function') return patched;
  return function setNotFoundHandler(this: FastifyLike, ...args: unknown[]) {
    const handler = typeof args[0] === 'function' ? args[0] : args[1];
    if (typeof handler !== 'function') return unpatched.apply(this, args);
    return patched.apply(this, args) ?? this;
  };
}
