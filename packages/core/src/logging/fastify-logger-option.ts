/**
 * The app's own Fastify `logger` option next to @obs's `loggerInstance`:
 * `Fastify({ ...obsFastifyOptions(), logger: { level: 'debug', redact: ['req.headers.x-session'] } })`
 * (or the spread after it). Fastify refuses the two together
 * (`FST_ERR_LOG_LOGGER_AND_LOGGER_INSTANCE_PROVIDED`), and nothing between the app's object literal and
 * Fastify's factory can see both: the spread copies plain values. Under the preload, this patch of
 * Fastify's logger factory (`fastify/lib/logger-factory.js`, Fastify 5) receives them first: when
 * `loggerInstance` is a logger @obs handed out ({@link isShapedLogger}) and `logger` is set, the
 * `logger` option shapes it exactly as `obsFastifyOptions({ logger })` does (`shapeLogger`: level,
 * redact, serializers, transport, stream; one warning names what cannot be combined) and is dropped
 * from Fastify's own copy of the options. Any other pair (the app's own pino instance next to
 * `logger`) is left to Fastify and its error. Fastify is CommonJS and requires its files with `require()`, so
 * the require-in-the-middle hook of this instrumentation sees the file in CommonJS and ES module apps
 * alike. Registered at start-up, also with `OTEL_SDK_DISABLED` (it is about logging, not telemetry).
 */
import type { Instrumentation } from '@opentelemetry/instrumentation';
import { otelInstrumentation } from '../otel.js';
import { type AppLoggerOptions, isShapedLogger, shapeLogger } from './app-logger.js';

const { InstrumentationBase, InstrumentationNodeModuleDefinition, InstrumentationNodeModuleFile } = otelInstrumentation;

/** Fastify versions whose `lib/logger-factory.js` exports `createLogger(options)`. */
const VERSIONS = ['>=5.0.0 <6'];

/** The label of the warnings: the same as `obsFastifyOptions({ logger })`'s. */
const LABEL = '@obs/fastify: logger';

type CreateLogger = (options: Record<string, unknown>) => unknown;
interface LoggerFactory {
  createLogger?: CreateLogger;
}
const ORIGINAL = Symbol.for('@obs/core.fastify.createLogger');

/** Wrap `createLogger` so that the app's `logger` option shapes @obs's `loggerInstance` instead of clashing. */
function patch(factory: LoggerFactory & { [ORIGINAL]?: CreateLogger }): LoggerFactory {
  const original = factory?.createLogger;
  if (typeof original !== 'function' || factory[ORIGINAL]) return factory;
  factory[ORIGINAL] = original;
  factory.createLogger = function createLogger(this: unknown, options) {
    // `options` is Fastify's own shallow copy of the app's options (`processOptions`)
    if (options && options.logger != null && isShapedLogger(options.loggerInstance)) {
      options.loggerInstance = shapeLogger(options.loggerInstance, options.logger as boolean | AppLoggerOptions, LABEL);
      delete options.logger;
    }
    return original.call(this, options);
  };
  return factory;
}

function unpatch(factory: LoggerFactory & { [ORIGINAL]?: CreateLogger }): LoggerFactory {
  if (factory?.[ORIGINAL]) {
    factory.createLogger = factory[ORIGINAL];
    delete factory[ORIGINAL];
  }
  return factory;
}

class FastifyLoggerOptionInstrumentation extends InstrumentationBase {
  constructor() {
    super('@obs/fastify-logger-option', '1.0.0', {});
  }

  protected init() {
    return [
      new InstrumentationNodeModuleDefinition('fastify', VERSIONS, undefined, undefined, [
        new InstrumentationNodeModuleFile('fastify/lib/logger-factory.js', VERSIONS, patch, unpatch),
      ]),
    ];
  }
}

/** The instrumentation (register it before the app requires Fastify). */
export function fastifyLoggerOptionInstrumentation(): Instrumentation {
  return new FastifyLoggerOptionInstrumentation();
}
