/**
 * A framework's usual logger options (Fastify's `logger`, the pino options of nestjs-pino or
 * koa-pino-logger) applied to the @obs logger instead of a second logger: the app keeps its level,
 * redaction paths, serializers and development transport, and its lines keep @obs's format
 * (JSON, redaction, `request_id` and trace ids).
 */
import type { LoggerOptions } from 'pino';
import { type LogTransport, type ObsLogger, useLogStream, useLogTransport } from './logger.js';

/** The pino options an app's framework logger set-up usually carries, as {@link shapeLogger} applies them. */
export interface AppLoggerOptions {
  /** The level of the logger returned (a child; @obs's own lines keep `OBS_LOG_LEVEL`). */
  level?: string;
  /** pino redaction paths (`['req.headers.x-session']`, or `{ paths, censor, remove }`), on top of @obs's key redaction. */
  redact?: LoggerOptions['redact'];
  /** pino serializers for the lines of the logger returned. */
  serializers?: Record<string, (value: never) => unknown>;
  /**
   * A pino transport (`{ target: 'pino-pretty' }` in development): every @obs line of the process, the
   * completion lines included, goes through it ({@link useLogTransport}).
   */
  transport?: LogTransport;
  /** A destination stream: every @obs line of the process goes to it ({@link useLogStream}). */
  stream?: { write(line: string): unknown };
  /** Anything else cannot be combined with @obs's line format (see {@link shapeLogger}). */
  [other: string]: unknown;
}

const APPLIED = new Set(['level', 'redact', 'serializers', 'transport', 'stream']);

/** The loggers {@link shapeLogger} handed out: @obs's, wherever a framework option carries them. */
const SHAPED = new WeakSet<object>();

/** Whether `value` is a logger {@link shapeLogger} returned (the `loggerInstance` of `obsFastifyOptions()`). */
export function isShapedLogger(value: unknown): value is ObsLogger {
  return typeof value === 'object' && value !== null && SHAPED.has(value);
}

/**
 * The logger for an app's own logger options:
 * - undefined or `true`: `logger` itself; `false`: a silent child (the app's lines are off, @obs's stay);
 * - `level`, `redact`, `serializers`: a child of `logger` with them;
 * - `transport`, `stream`: every line of `logger` (and its children) goes there instead of stdout.
 * Anything else (`formatters`, `mixin`, `timestamp`, `messageKey`, `base`, `customLevels`, `file`, a
 * logger instance, ...) would change @obs's line format: one warning at level warn names the keys
 * left out (`<label>.ignored`). Never throws: options pino refuses cost one warning and `logger`.
 * @param label who asks, for the warnings (`@obs/fastify: logger`)
 */
export function shapeLogger(
  logger: ObsLogger,
  option: boolean | AppLoggerOptions | undefined,
  label: string,
): ObsLogger {
  const shaped = shape(logger, option, label);
  SHAPED.add(shaped);
  return shaped;
}

function shape(logger: ObsLogger, option: boolean | AppLoggerOptions | undefined, label: string): ObsLogger {
  if (option === undefined || option === true) return logger;
  if (option === false) return logger.child({}, { level: 'silent' });
  if (option === null || typeof option !== 'object') {
    logger.warn(`${label} must be true, false or pino options; using the @obs logger as it is`);
    return logger;
  }
  // a pino instance (a function-bearing object with `child`): @obs owns the instance
  const isInstance = typeof (option as { child?: unknown }).child === 'function';
  const ignored = isInstance ? ['(a logger instance)'] : Object.keys(option).filter((k) => !APPLIED.has(k));
  if (ignored.length > 0) {
    logger.warn(
      { 'obs.logger_options_ignored': ignored },
      `${label} ${ignored.join(', ')} cannot be combined with the @obs logger (it would change its JSON lines); left out. Applied: level, redact, serializers, transport, stream`,
    );
  }
  if (isInstance) return logger;
  if (option.transport !== undefined) useLogTransport(logger, option.transport);
  else if (option.stream && typeof option.stream.write === 'function') useLogStream(logger, option.stream);
  const child: Record<string, unknown> = {};
  if (typeof option.level === 'string') child.level = option.level;
  if (option.redact !== undefined) child.redact = option.redact;
  if (option.serializers !== undefined) child.serializers = option.serializers;
  if (Object.keys(child).length === 0) return logger;
  try {
    return logger.child({}, child);
  } catch (err) {
    // an unknown level, malformed redaction paths
    logger.warn({ err }, `${label} cannot be applied; using the @obs logger as it is`);
    return logger;
  }
}
