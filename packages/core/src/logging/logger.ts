/**
 * The @obs logger: pino writing JSON lines with an ISO-8601 `time`, `level` as a label (`"info"`),
 * the service name, and, inside a request or span, `trace_id`, `span_id`, `trace_flags` (the field
 * names of the OpenTelemetry spec "Trace Context in Non-OTLP Log Formats") and `request_id`.
 * Secrets are redacted before a line is written (see ./redact.ts).
 */
import type { DestinationStream, Logger, LoggerOptions } from 'pino';
import { activeRequestId } from '../context.js';
import { warn } from '../diag.js';
import { noteLoggedError } from '../errors/request.js';
import { load } from '../lazy.js';
import { opentelemetry } from '../otel.js';
import { bufferedDestination } from './buffered-destination.js';
import { createRedactor, type Redactor } from './redact.js';
import { createTextRedaction } from './redact-text.js';

const { context, isSpanContextValid, trace } = opentelemetry;

/** The logger type @obs hands out: a plain pino logger. */
export type ObsLogger = Logger;

/** How to build the logger. */
export interface LoggerSetup {
  /** pino level name. */
  level: string;
  serviceName: string;
  /** Extra keys to redact on top of the defaults. */
  redactKeys: readonly string[];
  /** Redact secret shapes inside strings (messages, stacks, string fields; ./redact-text.ts). Default true (`OBS_REDACT_STRINGS`). */
  redactStrings?: boolean;
  /**
   * Write each line with its own `write(2)` (`OBS_LOG_SYNC=true`) instead of once per event-loop turn.
   * Default false. Ignored with `destination`.
   */
  sync?: boolean;
  /** Where lines go. Default: stdout (see {@link createLogger}). */
  destination?: DestinationStream;
}

type PinoModule = typeof import('pino');

/** The pino module, required lazily so that the pino instrumentation, once registered, sees it. */
export function loadPino(): PinoModule {
  return load('pino') as PinoModule;
}

type ErrorSerializer = (err: Error) => unknown;

/**
 * pino's error serializer (`type`, `message`, `stack`, `cause`, own enumerable properties), made safe
 * for errors it cannot handle: it tags every error it visits with a symbol, which throws on a frozen,
 * sealed or non-extensible error (or one with such a `cause`), and the logging call would then throw
 * in the app. Those are serialized from an extensible copy; the app's error is not touched. An error
 * that cannot even be copied (a revoked proxy) becomes `{ type, message }`.
 */
export function safeErrorSerializer(stdErr: ErrorSerializer): ErrorSerializer {
  return (err) => {
    try {
      return stdErr(err);
    } catch {
      try {
        return stdErr(extensibleCopy(err, 0));
      } catch {
        return { type: 'Error', message: '[error could not be serialized]' };
      }
    }
  };
}

/** A copy of `err` with its prototype and own properties (errors among them copied too, 5 deep). */
function extensibleCopy(err: Error, depth: number): Error {
  const copy = Object.create(Object.getPrototypeOf(err)) as Error;
  for (const key of Reflect.ownKeys(err)) {
    const descriptor = Object.getOwnPropertyDescriptor(err, key);
    if (!descriptor) continue;
    // V8's `stack` is an accessor on the error itself: read it through its getter
    let value: unknown = 'value' in descriptor ? descriptor.value : Reflect.get(err, key);
    if (value instanceof Error && depth < 5) value = extensibleCopy(value, depth + 1);
    Object.defineProperty(copy, key, {
      value,
      enumerable: descriptor.enumerable ?? false,
      writable: true,
      configurable: true,
    });
  }
  return copy;
}

/** pino options carrying @obs's formatting, redaction and correlation rules. */
export function loggerOptions(setup: LoggerSetup, pino: PinoModule = loadPino()): LoggerOptions {
  const stdErr = safeErrorSerializer(pino.stdSerializers.err);
  const redact: Redactor = lineRedactor(setup, stdErr);
  const redactKeys: Redactor = createRedactor(setup.redactKeys, { serializeError: stdErr });
  const { redactString } = createTextRedaction(setup.redactKeys, { strings: setup.redactStrings });
  return {
    hooks: { logMethod: redactMessageArguments(redactString, redact) },
    level: setup.level,
    base: { service: setup.serviceName, pid: process.pid, hostname: hostname() },
    timestamp: isoTime,
    formatters: {
      level: (label) => ({ level: label }),
      bindings: (bindings) => redact(bindings) as Record<string, unknown>,
      log: (obj) => redact(obj) as Record<string, unknown>,
    },
    serializers: {
      // `err` is pino's error key; `error` is the other name apps commonly log errors under.
      // (formatters.log runs first and has serialised and redacted the Error already, strings
      // included: only the keys are checked again, a stack is not scanned twice)
      err: (err: unknown) => (err instanceof Error ? redact(stdErr(err)) : redactKeys(err)),
      error: (err: unknown) => (err instanceof Error ? redact(stdErr(err)) : redactKeys(err)),
    },
    mixin(logged, level) {
      const ctx = context.active();
      // An Error logged at level error or fatal while a request is handled may be the error it reports.
      if (level >= 50) noteLoggedError(logged, ctx);
      const out: Record<string, string> = {};
      const span = trace.getSpan(ctx);
      const sc = span?.spanContext();
      if (sc && isSpanContextValid(sc)) {
        out.trace_id = sc.traceId;
        out.span_id = sc.spanId;
        out.trace_flags = `0${sc.traceFlags.toString(16)}`;
      }
      const requestId = activeRequestId(ctx);
      if (requestId !== undefined) out.request_id = requestId;
      return out;
    },
  };
}

/** The key and string redaction of a line's fields, bindings and interpolated objects. */
function lineRedactor(setup: LoggerSetup, serializeError: ErrorSerializer): Redactor {
  const { redactString } = createTextRedaction(setup.redactKeys, { strings: setup.redactStrings });
  return createRedactor(setup.redactKeys, { serializeError, redactString });
}

type LogMethod = (this: Logger, ...args: unknown[]) => void;

/**
 * pino's `hooks.logMethod`: the message and its printf-style arguments, redacted before pino
 * formats them (`formatters.log` sees only the merging object). String arguments go through the
 * string redaction, objects (`%o`, `%j`, or one passed as the message) through the key redaction; an Error logged without a
 * message lends pino its `message`, redacted here too. Nothing is copied when nothing changed.
 */
function redactMessageArguments(redactString: (text: string) => string, redact: Redactor) {
  return function logMethod(this: Logger, args: unknown[], method: LogMethod): void {
    const first = args[0];
    const at = typeof first === 'string' ? 0 : 1;
    let out: unknown[] | undefined;
    if (at === 1 && first instanceof Error && args.length === 1) {
      const message = redactString(first.message);
      if (message !== first.message) out = [first, message];
    }
    for (let i = at; i < args.length; i++) {
      const arg = args[i];
      // an object where the message goes (`log.info(obj, other)`) is written as `msg` as it is: redact it too
      const next = typeof arg === 'string' ? redactString(arg) : typeof arg === 'object' ? redact(arg) : arg;
      if (next !== arg) {
        out ??= args.slice();
        out[i] = next;
      }
    }
    method.apply(this, (out ?? args) as Parameters<LogMethod>);
  };
}

let lastMs = -1;
let lastTime = '';
/**
 * pino's `stdTimeFunctions.isoTime` (`,"time":"2026-11-29T10:45:00.123Z"`), made once per millisecond:
 * a busy service writes several lines per millisecond, and `toISOString()` was ~1% of its CPU time.
 */
function isoTime(): string {
  const now = Date.now();
  if (now !== lastMs) {
    lastMs = now;
    lastTime = `,"time":"${new Date(now).toISOString()}"`;
  }
  return lastTime;
}

let cachedHostname: string | undefined;
function hostname(): string {
  if (cachedHostname === undefined) {
    cachedHostname = (load('node:os') as typeof import('node:os')).hostname();
  }
  return cachedHostname;
}

/**
 * Create a logger writing to stdout (unless `setup.destination` says otherwise). Lines are collected
 * and written with one synchronous `write(2)` per event-loop turn or per 8 KiB of lines
 * (./buffered-destination.ts), and written out synchronously on `process.exit()`, uncaught
 * exceptions, the natural end and at shutdown before a signal is re-raised; only a process killed by
 * `SIGKILL`, the OOM killer or an unhandled signal loses the lines of its current turn. With
 * `setup.sync` (`OBS_LOG_SYNC=true`) each line is its own `write(2)` (sonic-boom with `sync: true`)
 * and is out before the logging call returns. Either way a stdout that stops draining (a stuck pipe)
 * slows the writing process down instead of filling memory. Measured cost per line:
 * docs/performance.md.
 */
export function createLogger(setup: LoggerSetup): ObsLogger {
  const pino = loadPino();
  const stdout = () => pino.destination({ dest: 1, sync: true });
  const destination = setup.destination ?? (setup.sync ? stdout() : bufferedDestination(stdout()));
  const options = loggerOptions(setup, pino);
  const logger = pino(options, destination);
  // When instrumentation-pino has patched pino (the preload enables it before this logger exists, so
  // that its log sending sees our lines), it put its own mixin in front of ours. Ours writes the same
  // trace_id, span_id and trace_flags, and the request_id: keep it alone, so a line computes them
  // once (children inherit it).
  (logger as unknown as Record<symbol, unknown>)[pino.symbols.mixinSym] = options.mixin;
  // pino applies `formatters.bindings` to the root logger only; redact child bindings here. Children
  // are created with Object.create(parent), so grandchildren inherit this wrapper.
  const redact = lineRedactor(setup, safeErrorSerializer(pino.stdSerializers.err));
  const child = logger.child;
  logger.child = function redactedChild(this: ObsLogger, bindings, options) {
    return child.call(this, redact(bindings) as typeof bindings, options);
  } as typeof logger.child;
  const setBindings = logger.setBindings;
  logger.setBindings = function redactedSetBindings(this: ObsLogger, bindings) {
    setBindings.call(this, redact(bindings) as typeof bindings);
  } as typeof logger.setBindings;
  return logger;
}

/** What flushLogger needs of a destination: sonic-boom, or pino.multistream around several. */
interface Destination {
  flushSync?: () => void;
  once?: (event: 'drain', fn: () => void) => void;
  /** sonic-boom with `sync: false` (a destination an app passed in): an asynchronous write is in flight. */
  _writing?: boolean;
  /** pino.multistream: the destinations it writes to. */
  streams?: { stream?: Destination }[];
}

/**
 * Write out everything the logger has buffered. The default destination holds the lines of the
 * current event-loop turn (written here synchronously); an asynchronous one (sonic-boom with `sync: false`, passed as `destination`) may
 * have a write in flight and lines queued behind it: wait for it to drain (at
 * most `timeoutMs`), then write whatever is left synchronously. Never rejects. Used at shutdown,
 * right before the process ends, when the `exit`-time flush of pino would not run (death by signal).
 */
export function flushLogger(logger: ObsLogger, timeoutMs: number): Promise<void> {
  const root = (logger as unknown as Record<symbol, Destination | undefined>)[loadPino().symbols.streamSym];
  const targets: Destination[] = root?.streams
    ? root.streams.map((s) => s.stream).filter((s): s is Destination => s !== undefined)
    : root
      ? [root]
      : [];
  const drained = targets.map(
    (target) =>
      new Promise<void>((resolve) => {
        if (target._writing !== true || typeof target.once !== 'function') {
          resolve();
          return;
        }
        const timer = setTimeout(resolve, timeoutMs);
        target.once('drain', () => {
          clearTimeout(timer);
          resolve();
        });
      }),
  );
  return Promise.all(drained).then(() => {
    for (const target of targets) {
      try {
        target.flushSync?.();
      } catch {
        // closed or not ready: nothing more can be written
      }
    }
  });
}

/**
 * A pino transport, as pino's own `transport` option describes one (`{ target: 'pino-pretty',
 * options: { colorize: true } }`, `{ targets: [...] }`, `{ pipeline: [...] }`).
 */
export type LogTransport = Parameters<PinoModule['transport']>[0];

/**
 * Send every line of `logger` and of all its children (made before or after) to a pino transport
 * instead of stdout: for readable lines in development (`pino-pretty`). The lines are formatted and
 * redacted as before; only where they go changes. A target is resolved from the app's directory
 * (`process.cwd()`) first, then as pino resolves it. Never throws: a transport that cannot be
 * created (`pino-pretty` not installed) costs one warning and the lines stay on stdout.
 * @returns true when the lines now go to the transport
 */
export function useLogTransport(logger: ObsLogger, transport: LogTransport): boolean {
  const pino = loadPino();
  try {
    const stream = pino.transport(resolveTargets(transport));
    (logger as unknown as Record<symbol, unknown>)[pino.symbols.streamSym] = stream;
    return true;
  } catch (err) {
    warn(
      `the logger transport cannot be used (${err instanceof Error ? err.message : String(err)}); log lines stay JSON on stdout`,
    );
    return false;
  }
}

/** `transport` with each `target` resolved from the app's directory when it can be. */
function resolveTargets(transport: LogTransport): LogTransport {
  const appRequire = (load('node:module') as typeof import('node:module')).createRequire(
    `${process.cwd()}/package.json`,
  );
  const fix = <T extends { target?: unknown }>(entry: T): T => {
    if (typeof entry.target !== 'string' || entry.target.startsWith('pino/')) return entry;
    try {
      return { ...entry, target: appRequire.resolve(entry.target) };
    } catch {
      return entry;
    }
  };
  const t = transport as { target?: unknown; targets?: { target?: unknown }[]; pipeline?: { target?: unknown }[] };
  if (Array.isArray(t.targets)) return { ...t, targets: t.targets.map(fix) } as LogTransport;
  if (Array.isArray(t.pipeline)) return { ...t, pipeline: t.pipeline.map(fix) } as LogTransport;
  return fix(t) as LogTransport;
}

/**
 * Send every line of `logger` and of all its children to `stream` (anything with `write(line)`)
 * instead of stdout. As {@link useLogTransport}, for a destination the app made itself.
 */
export function useLogStream(logger: ObsLogger, stream: { write(line: string): unknown }): void {
  (logger as unknown as Record<symbol, unknown>)[loadPino().symbols.streamSym] = stream;
}
