/**
 * A Nest `LoggerService` writing through the @obs logger (pino JSON lines, redaction, `trace_id`,
 * `span_id` and `request_id` inside a request).
 */
import type { LoggerService, LogLevel } from '@nestjs/common';
import { getObs, type ObsLogger } from '@obs/core';
import { wasNoted } from './http.js';

type PinoLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

/** Nest level → pino level. */
const LEVELS: Record<LogLevel, PinoLevel> = {
  fatal: 'fatal',
  error: 'error',
  warn: 'warn',
  log: 'info',
  debug: 'debug',
  verbose: 'trace',
};

/** Nest's test for a stack trace passed as a string (ConsoleLogger.isStackFormat). */
function isStackFormat(value: unknown): value is string | undefined {
  return value === undefined || (typeof value === 'string' && /\n[ \t]+at .+:\d+:\d+/.test(value));
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

interface Parsed {
  messages: unknown[];
  context?: string;
  stack?: string;
  params?: Record<string, unknown>;
}

/** Nest's reading of `(message, ...optionalParams)`: a trailing string is the context, plain objects after the message are fields. */
function parse(args: unknown[], fallbackContext: string | undefined): Parsed {
  if (args.length <= 1) return { messages: args, context: fallbackContext };
  const last = args[args.length - 1];
  const context = typeof last === 'string' ? last : fallbackContext;
  const rest = typeof last === 'string' ? args.slice(0, -1) : args;
  const messages = [rest[0]];
  let params: Record<string, unknown> | undefined;
  for (const arg of rest.slice(1)) {
    if (isPlainObject(arg)) params = { ...params, ...arg };
    else messages.push(arg);
  }
  return { messages, context, params };
}

/** As {@link parse}, also finding a stack trace the way Nest's ConsoleLogger does for `error()` and `fatal()`. */
function parseWithStack(args: unknown[], fallbackContext: string | undefined): Parsed {
  if (args.length === 2 && isStackFormat(args[1])) {
    return { messages: [args[0]], stack: args[1], context: fallbackContext };
  }
  const trailing = args[args.length - 1];
  if (args.length > 2 && typeof trailing === 'string' && isStackFormat(trailing)) {
    return { ...parse(args.slice(0, -1), fallbackContext), stack: trailing };
  }
  const parsed = parse(args, fallbackContext);
  if (parsed.messages.length > 1) {
    const lastMessage = parsed.messages[parsed.messages.length - 1];
    if (lastMessage === undefined || typeof lastMessage === 'string') {
      return { ...parsed, messages: parsed.messages.slice(0, -1), stack: lastMessage };
    }
  }
  return parsed;
}

/**
 * Nest's logger on @obs. Install it with `app.useLogger(app.get(ObsLoggerService))` (with
 * `bufferLogs: true` in `NestFactory.create` so start-up lines go through it too), or pass
 * `logger: new ObsLoggerService()` to `NestFactory.create`. Then `new Logger('Orders').log(...)` and
 * Nest's own messages are @obs JSON lines.
 *
 * Mapping: `log` → info, `error` → error, `warn` → warn, `debug` → debug, `verbose` → trace,
 * `fatal` → fatal; pino's level (`OBS_LOG_LEVEL`) then filters, and so does `setLogLevels()` when
 * Nest calls it. The context (the trailing string argument, or the `Logger`'s name) is the `context`
 * field. The message may be a string (`msg`), an Error (`err` with its stack, `msg` its message) or a
 * plain object (its fields; its `msg` or `message` string becomes `msg`). Plain objects after the
 * message are fields too, as Nest's ConsoleLogger prints them (`logger.log('Login attempt', { email })`);
 * other extra arguments go to `args`. A stack trace passed as a string (`logger.error('failed', err.stack)`)
 * becomes `err.stack`.
 *
 * Not decorated with `@Injectable()` on purpose: `ObservabilityModule` provides an instance, and a
 * class provider `ObsLoggerService` elsewhere is constructed without arguments.
 *
 * Exceptions the @obs filter or interceptor saw are reported once by @obs (`request failed`, only for
 * 5xx answers), so Nest's own `ExceptionsHandler` line about them is not written a second time.
 */
export class ObsLoggerService implements LoggerService {
  #levels: Set<LogLevel> | undefined;
  #logger: ObsLogger | undefined;

  /**
   * @param context default `context` field for calls that pass none
   * @param logger the pino logger to write to; default the @obs process logger (`getObs().logger`)
   */
  constructor(
    private readonly context?: string,
    logger?: ObsLogger,
  ) {
    this.#logger = logger;
  }

  /** Write a `log` (info) line. */
  log(message: unknown, ...optionalParams: unknown[]): void {
    this.#write('log', parse([message, ...optionalParams], this.context));
  }

  /** Write an `error` line; a string stack trace argument becomes `err.stack`. */
  error(message: unknown, ...optionalParams: unknown[]): void {
    const parsed = parseWithStack([message, ...optionalParams], this.context);
    if (parsed.context === 'ExceptionsHandler' && wasNoted(parsed.messages[0])) return;
    this.#write('error', parsed);
  }

  /** Write a `warn` line. */
  warn(message: unknown, ...optionalParams: unknown[]): void {
    this.#write('warn', parse([message, ...optionalParams], this.context));
  }

  /** Write a `debug` line. */
  debug(message: unknown, ...optionalParams: unknown[]): void {
    this.#write('debug', parse([message, ...optionalParams], this.context));
  }

  /** Write a `verbose` line, at pino level trace. */
  verbose(message: unknown, ...optionalParams: unknown[]): void {
    this.#write('verbose', parse([message, ...optionalParams], this.context));
  }

  /** Write a `fatal` line. */
  fatal(message: unknown, ...optionalParams: unknown[]): void {
    this.#write('fatal', parseWithStack([message, ...optionalParams], this.context));
  }

  /** Only write these Nest levels from now on (Nest calls this for its `logger: [...]` option). */
  setLogLevels(levels: LogLevel[]): void {
    this.#levels = new Set(levels);
  }

  #write(level: LogLevel, { messages, context, stack, params }: Parsed): void {
    if (this.#levels && !this.#levels.has(level)) return;
    const logger = this.#logger ?? getObs().logger;
    const pinoLevel = LEVELS[level];
    if (!logger.isLevelEnabled(pinoLevel)) return;
    const fields: Record<string, unknown> = {};
    if (context !== undefined) fields.context = context;
    let msg: string | undefined;
    const [first, ...rest] = messages;
    if (first instanceof Error) {
      fields.err = first;
      msg = first.message;
    } else if (isPlainObject(first)) {
      const { msg: m, message, ...others } = first;
      Object.assign(fields, others);
      msg = typeof m === 'string' ? m : typeof message === 'string' ? message : undefined;
    } else if (typeof first === 'string') {
      msg = first;
    } else if (first !== undefined) {
      msg = String(first);
    }
    if (params) Object.assign(fields, params);
    if (rest.length > 0) fields.args = rest;
    if (typeof stack === 'string' && fields.err === undefined) {
      const err = new Error(msg);
      err.stack = stack;
      fields.err = err;
    }
    if (msg === undefined) logger[pinoLevel](fields);
    else logger[pinoLevel](fields, msg);
  }
}
