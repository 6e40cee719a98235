/**
 * Sentry on top of @obs's OpenTelemetry pipeline, with `@sentry/node` 11.x (an optional peer,
 * required only when `SENTRY_DSN` is set). Started after the OpenTelemetry SDK, as Sentry 11 expects
 * of an app that owns its SDK:
 *
 * - `enableOpenTelemetrySetup: false`: Sentry registers no tracer provider and no propagator; the
 *   global providers stay @obs's. `openTelemetryIntegration()` makes every event carry the trace and
 *   span ids of the active OpenTelemetry span (and @obs sets them explicitly on request errors).
 * - `enableRuntimeChannelInjection: false`: no module loader hooks of Sentry's own, no second
 *   instrumentation of the modules @obs instruments (unless Sentry's tracing is asked for).
 * - Sentry's tracing stays off (no `tracesSampleRate`) unless `SENTRY_TRACES_SAMPLE_RATE` asks for it;
 *   its `http` and `fetch` integrations never add `sentry-trace`/`baggage` headers
 *   (`tracePropagation: false`, `tracePropagationTargets: []`): OpenTelemetry's propagators are the
 *   only ones. Their breadcrumbs, request data and request sessions stay.
 * - Sentry's Express/Fastify/Koa/Hapi/Hono/Nitro error integrations are removed: @obs's adapters
 *   report each failed request once (see ./request.ts), so a second capture path would duplicate it.
 *   So is `Dedupe`, which would drop the second of two requests failing the same way.
 * - Uncaught exceptions: Sentry's own integration (it reports, then exits with code 1 as Node does,
 *   unless the app listens to `uncaughtException`). Unhandled rejections: @obs's integration below,
 *   which keeps Node's behaviour for the `--unhandled-rejections` mode in force.
 * - `beforeSend`: the app's callback (if any), then the redaction rules (./scrub.ts).
 * - Envelopes are sent with OpenTelemetry tracing suppressed, so they produce no spans.
 */
import { createRequire } from 'node:module';
import type * as SentryNode from '@sentry/node';
import type { ObsConfig } from '../config/resolve.js';
import { activeRequestId } from '../context.js';
import { diagnose, warn } from '../diag.js';
import type { ExitRequest } from '../lifecycle/post-sync.js';
import { opentelemetry, otelCore } from '../otel.js';
import type { ErrorReporter } from './reporter.js';
import { type Candidate, RequestErrorTracker, type RequestOutcome, spanContextOf } from './request.js';
import { createEventScrubber } from './scrub.js';
import type { CaptureOptions, SentryBeforeSend, SentryEvent, SentryEventHint } from './types.js';

const { context } = opentelemetry;
const { suppressTracing } = otelCore;

type Sentry = typeof SentryNode;
type Integration = Parameters<Sentry['addIntegration']>[0];

/** Replaced by @obs's own configuration of them. */
const REPLACED = new Set(['Http', 'NodeFetch', 'OnUnhandledRejection', 'OpenTelemetry']);
/**
 * Removed: the framework integrations capture errors through diagnostics channels (@obs's adapters
 * report those), and `Dedupe` drops an event that looks like the previous one, so two requests failing
 * the same way would count once. @obs reports once per request; the same Error object is never
 * reported twice anyway (Sentry marks it captured).
 */
const REMOVED = new Set(['Express', 'Fastify', 'Koa', 'Hapi', 'Hono', 'Nitro', 'Dedupe']);

/** Sentry's `mechanism.type` of each kind of candidate. */
const MECHANISMS: Record<Candidate['source'], { type: string; handled: boolean }> = {
  recorded: { type: 'auto.http.obs', handled: false },
  server: { type: 'auto.http.obs', handled: false },
  noted: { type: 'auto.http.obs', handled: true },
  logged: { type: 'auto.log.obs', handled: true },
};

/** What {@link startSentry} needs besides the configuration. */
export interface SentrySetup {
  beforeSend?: SentryBeforeSend | undefined;
  /** `require` for `@sentry/node` (test seam: a loader that fails is "not installed"). */
  load: (id: string) => unknown;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function isNotFound(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return (code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND') && messageOf(err).includes('@sentry/node');
}

/** `@sentry/node` 11.x, or undefined after one warning. */
function loadSentry(load: (id: string) => unknown): Sentry | undefined {
  let version: string | undefined;
  try {
    version = (load('@sentry/node/package.json') as { version?: string }).version;
  } catch (err) {
    if (isNotFound(err)) {
      warn('SENTRY_DSN is set but @sentry/node is not installed; errors are not reported (install @sentry/node 11.x)');
    } else {
      warn(`could not load @sentry/node (${messageOf(err)}); errors are not reported to Sentry`);
    }
    return undefined;
  }
  const major = version?.split('.')[0];
  if (major !== '11') {
    // Sentry 10 and earlier set up an OpenTelemetry SDK of their own, and lack what @obs starts Sentry
    // with (`enableOpenTelemetrySetup: false`, `openTelemetryIntegration()`,
    // `enableRuntimeChannelInjection`: checked in 10.78): never next to @obs's.
    const why =
      major !== undefined && Number(major) < 11
        ? `; @sentry/node ${major} sets up an OpenTelemetry SDK of its own, which would take over @obs's tracing: upgrade to @sentry/node 11 (npm install @sentry/node@11)`
        : '';
    warn(
      `@sentry/node ${version ?? '(unknown version)'} is installed; @obs works with 11.x${why}; errors are not reported to Sentry`,
    );
    return undefined;
  }
  try {
    return load('@sentry/node') as Sentry;
  } catch (err) {
    warn(`could not load @sentry/node (${messageOf(err)}); errors are not reported to Sentry`);
    return undefined;
  }
}

/** Node's `--unhandled-rejections` mode (command line or NODE_OPTIONS); `throw` is Node's default. */
export function unhandledRejectionsMode(
  execArgv: readonly string[] = process.execArgv,
  nodeOptions: string | undefined = process.env.NODE_OPTIONS,
): string {
  const flags = [...execArgv, ...(nodeOptions ?? '').split(/\s+/).filter(Boolean)];
  let mode = 'throw';
  for (let i = 0; i < flags.length; i++) {
    const match = /^--unhandled-rejections(?:=(.*))?$/.exec(flags[i] ?? '');
    if (!match) continue;
    const value = match[1] ?? flags[i + 1];
    if (value) mode = value;
  }
  return mode;
}

/** What Node throws for a rejection with a non-Error reason. */
function unhandledRejectionError(reason: unknown): Error {
  let text: string;
  try {
    text = typeof reason === 'string' ? reason : (JSON.stringify(reason) ?? String(reason));
  } catch {
    text = String(reason);
  }
  const err = new Error(
    `This error originated either by throwing inside of an async function without a catch block, or by rejecting a promise which was not handled with .catch(). The promise rejected with the reason "${text}".`,
  );
  err.name = 'UnhandledPromiseRejection';
  (err as Error & { code?: string }).code = 'ERR_UNHANDLED_REJECTION';
  return err;
}

/**
 * Unhandled rejections, reported without changing what Node does with them. Listening to
 * `unhandledRejection` at all changes Node's default (`throw`: without listeners, the rejection is
 * raised as an uncaught exception and the process exits with code 1). So, in `throw` mode with no
 * other listener, the reason is re-thrown: Node then treats it as the uncaught exception it would
 * have been, and Sentry's uncaught-exception integration reports it (once) and exits with code 1.
 * When the app listens too, or runs with `warn`/`none`/`warn-with-error-code`, Node keeps the
 * process alive and the rejection is reported here. In `strict` mode Node raised it as an uncaught
 * exception already (reported there).
 */
function unhandledRejectionIntegration(sentry: Sentry): Integration {
  return {
    name: 'OnUnhandledRejection',
    setup(client) {
      const handler = (reason: unknown): void => {
        if (sentry.getClient() !== client) return;
        const mode = unhandledRejectionsMode();
        if (mode === 'strict') return;
        const others = process.listeners('unhandledRejection').filter((l) => l !== handler).length;
        if (others === 0 && mode === 'throw') {
          throw reason instanceof Error ? reason : unhandledRejectionError(reason);
        }
        sentry.captureException(reason, {
          originalException: reason,
          captureContext: { level: 'error', extra: { unhandledPromiseRejection: true } },
          mechanism: { type: 'auto.node.onunhandledrejection', handled: false },
        });
      };
      process.on('unhandledRejection', handler);
    },
  };
}

/**
 * Initialise Sentry (main thread only; the caller checks) and return the reporter, or undefined when
 * `@sentry/node` cannot be used (after one warning).
 */
export function startSentry(config: ObsConfig, setup: SentrySetup): ErrorReporter | undefined {
  const { dsn, release, environment, minStatus, tracesSampleRate } = config.sentry;
  if (!dsn) return undefined;
  const sentry = loadSentry(setup.load);
  if (!sentry) return undefined;

  const tracing = tracesSampleRate !== undefined;
  // Sentry gets at most half of the shutdown budget, so spans and logs still flush when its endpoint hangs.
  const flushMs = Math.max(1, Math.floor(config.shutdownTimeoutMs / 2));
  const scrub = createEventScrubber(config.logs.redactKeys, { strings: config.logs.redactStrings });
  let userBeforeSend = setup.beforeSend;

  const beforeSend = async (event: SentryEvent, hint: SentryEventHint): Promise<SentryEvent | null> => {
    let out: SentryEvent | null = event;
    const user = userBeforeSend;
    if (user) {
      try {
        out = await user(event, hint);
      } catch (err) {
        warn(`the Sentry beforeSend callback threw (${messageOf(err)}); the event was dropped`);
        return null;
      }
    }
    return out ? scrub(out) : null;
  };

  // Envelopes handed to the transport and not yet answered, and where they go: sent again from the
  // exit-time export when the process ends first (../lifecycle/post-sync.ts).
  type Envelope = Parameters<ReturnType<Sentry['makeNodeTransport']>['send']>[0];
  const sending = new Set<Envelope>();
  let destination: { url: string; headers: Record<string, string> } | undefined;

  let client: ReturnType<Sentry['init']>;
  try {
    client = sentry.init({
      dsn,
      ...(release !== undefined ? { release } : {}),
      ...(environment !== undefined ? { environment } : {}),
      ...(tracing ? { tracesSampleRate } : {}),
      enableOpenTelemetrySetup: false,
      enableRuntimeChannelInjection: tracing,
      tracePropagationTargets: [],
      shutdownTimeout: flushMs,
      initialScope: { tags: { 'service.name': config.serviceName } },
      integrations: (defaults: Integration[]) => [
        ...defaults.filter((i) => !REPLACED.has(i.name) && !REMOVED.has(i.name)),
        sentry.httpIntegration({ spans: tracing, tracePropagation: false }),
        sentry.nativeNodeFetchIntegration({ spans: tracing, tracePropagation: false }),
        sentry.openTelemetryIntegration(),
        unhandledRejectionIntegration(sentry),
      ],
      beforeSend: beforeSend as unknown as NonNullable<SentryNode.NodeOptions['beforeSend']>,
      ...(tracing ? { beforeSendSpan: (span) => scrub(span) } : {}),
      // Envelopes are sent with OpenTelemetry tracing suppressed: the POSTs to Sentry are not the
      // app's traffic (no CLIENT span, no traceparent on them).
      transport: (transportOptions) => {
        const transport = sentry.makeNodeTransport(transportOptions);
        destination = { url: transportOptions.url, headers: { ...transportOptions.headers } };
        return {
          send: (envelope) => {
            const settled = () => sending.delete(envelope);
            return context
              .with(suppressTracing(context.active()), () => transport.send(envelope))
              .then(
                (response) => {
                  settled();
                  return response;
                },
                (err: unknown) => {
                  settled();
                  throw err;
                },
              );
          },
          flush: (timeout) => transport.flush(timeout),
        };
      },
    });
  } catch (err) {
    warn(`Sentry failed to start (${messageOf(err)}); errors are not reported`);
    return undefined;
  }
  if (!client) return undefined;
  // Emitted right before the transport gets the envelope (synchronously, even when the process exits
  // in a later listener of this event): from here until it is answered the envelope is "sending".
  client.on('beforeEnvelope', (envelope) => sending.add(envelope));
  if (tracing) {
    warn(
      'SENTRY_TRACES_SAMPLE_RATE is set: Sentry records spans of its own, sent to Sentry only, next to the OpenTelemetry ones',
    );
  }
  // The isolation scope outside any request: a request's own one (forked by Sentry's http
  // integration per incoming request) carries its request data.
  const baseIsolationScope = sentry.getIsolationScope();

  const report = (candidate: Candidate, outcome: RequestOutcome, status: number, isolation?: SentryNode.Scope) => {
    const sc = spanContextOf(candidate.context) ?? spanContextOf(outcome.context);
    const capture = () =>
      sentry.withScope((scope) => {
        if (outcome.route !== undefined) {
          scope.setTransactionName(`${outcome.method ?? 'GET'} ${outcome.route}`);
          scope.setTag('http.route', outcome.route);
        }
        scope.setTag('request_id', outcome.requestId);
        if (outcome.method) scope.setTag('http.request.method', outcome.method);
        scope.setTag('http.response.status_code', status);
        if (sc) scope.setContext('trace', { trace_id: sc.traceId, span_id: sc.spanId });
        sentry.captureException(candidate.error, {
          originalException: candidate.error,
          mechanism: MECHANISMS[candidate.source],
        });
      });
    try {
      context.with(candidate.context, () => (isolation ? sentry.withIsolationScope(isolation, capture) : capture()));
    } catch (err) {
      diagnose('warn', `reporting an error to Sentry failed: ${messageOf(err)}`);
    }
  };

  // Sentry's own flush(timeout) can take twice its timeout and more: it first waits for the events
  // still in processing, in 1 ms ticks counted up to `timeout` (each tick longer on a busy machine),
  // then up to `timeout` again for the transport. A timer of ours bounds it to `timeoutMs`.
  const flush = async (timeoutMs = flushMs): Promise<boolean> => {
    let timer: NodeJS.Timeout | undefined;
    try {
      const flushed = sentry.flush(timeoutMs);
      if (!(timeoutMs > 0 && Number.isFinite(timeoutMs))) return await flushed;
      const deadline = new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      });
      return await Promise.race([flushed, deadline]);
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  };

  const takeUndelivered = (): ExitRequest[] => {
    if (sending.size === 0 || !destination) return [];
    let serializeEnvelope: (envelope: Envelope) => string | Uint8Array;
    try {
      // @sentry/core, as @sentry/node resolves it (it does not re-export the serializer)
      const resolve = (setup.load as NodeJS.Require).resolve;
      ({ serializeEnvelope } = createRequire(resolve('@sentry/node'))('@sentry/core') as {
        serializeEnvelope: typeof serializeEnvelope;
      });
    } catch {
      return [];
    }
    const to = destination;
    const requests = [...sending].map((envelope) => {
      const body = serializeEnvelope(envelope);
      return {
        url: to.url,
        headers: { ...to.headers, 'content-type': 'application/x-sentry-envelope' },
        body: typeof body === 'string' ? Buffer.from(body) : body,
      };
    });
    sending.clear();
    return requests;
  };

  return {
    backend: 'sentry',
    takeUndelivered,
    track() {
      const isolation = sentry.getIsolationScope();
      const own = isolation !== baseIsolationScope ? isolation : undefined;
      return new RequestErrorTracker(minStatus, (candidate, outcome, status) =>
        report(candidate, outcome, status, own),
      );
    },
    captureException(err: unknown, options: CaptureOptions = {}) {
      const ctx = context.active();
      const sc = spanContextOf(ctx);
      const requestId = activeRequestId(ctx);
      try {
        return sentry.withScope((scope) => {
          if (options.level) scope.setLevel(options.level);
          if (options.tags) scope.setTags(options.tags);
          if (options.extra) scope.setExtras(options.extra);
          if (requestId !== undefined) scope.setTag('request_id', requestId);
          if (sc) scope.setContext('trace', { trace_id: sc.traceId, span_id: sc.spanId });
          return sentry.captureException(err, {
            originalException: err,
            mechanism: { type: 'generic', handled: true },
          });
        });
      } catch (e) {
        diagnose('warn', `reporting an error to Sentry failed: ${messageOf(e)}`);
        return undefined;
      }
    },
    setBeforeSend(fn) {
      userBeforeSend = fn;
    },
    flush,
    registerShutdown(onShutdown) {
      // Runs with the cleanup hooks, after the servers drained: the errors of the last requests are in.
      onShutdown(async () => {
        if (!(await flush(flushMs))) {
          diagnose(
            'warn',
            `Sentry events were not all sent within ${flushMs} ms (half of OBS_SHUTDOWN_TIMEOUT_MS); some were lost`,
          );
        }
      });
    },
  };
}
