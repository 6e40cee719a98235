/**
 * The patch of Fastify 5's logger factory, in the test process, with the Fastify of packages/fastify
 * required afresh while the instrumentation is enabled (as under the preload): the app's own `logger`
 * option next to @obs's `loggerInstance` shapes that logger instead of making Fastify throw. The
 * adapter's end-to-end tests (packages/fastify/test/logger-option.test.ts) run in child processes.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { InstrumentationModuleDefinition } from '@opentelemetry/instrumentation';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { shapeLogger } from '../src/logging/app-logger.js';
import { fastifyLoggerOptionInstrumentation } from '../src/logging/fastify-logger-option.js';
import type { ObsLogger } from '../src/logging/logger.js';
import { memoryLogger } from './helpers.js';

type App = { log: ObsLogger; close(): Promise<unknown> };
type Fastify = (options: Record<string, unknown>) => App;

const fromFastifyPackage = createRequire(new URL('../../fastify/package.json', import.meta.url));
const FASTIFY_DIR = dirname(fromFastifyPackage.resolve('fastify/package.json'));

/** Fastify required afresh: the instrumentation's hook sees a first require of its files only. */
function requireFastify(): Fastify {
  for (const file of Object.keys(fromFastifyPackage.cache)) {
    if (file.startsWith(`${FASTIFY_DIR}/`)) delete fromFastifyPackage.cache[file];
  }
  return fromFastifyPackage('fastify') as Fastify;
}

const enabled: { disable(): void }[] = [];
const apps: App[] = [];
afterEach(async () => {
  for (const instrumentation of enabled.splice(0)) instrumentation.disable();
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

function patchedFastify(): Fastify {
  const instrumentation = fastifyLoggerOptionInstrumentation();
  instrumentation.enable();
  enabled.push(instrumentation);
  const fastify = requireFastify();
  return (options) => {
    const app = fastify(options);
    apps.push(app);
    return app;
  };
}

/** The logger `obsFastifyOptions()` hands out as `loggerInstance`. */
function obsLoggerInstance() {
  const { logger, lines } = memoryLogger({ level: 'info' });
  return { loggerInstance: shapeLogger(logger, undefined, '@obs/fastify: logger'), lines };
}

describe('fastifyLoggerOptionInstrumentation', () => {
  it('without it, Fastify refuses logger next to loggerInstance', () => {
    const { loggerInstance } = obsLoggerInstance();
    expect(() => requireFastify()({ loggerInstance, logger: { level: 'debug' } })).toThrow(
      expect.objectContaining({ code: 'FST_ERR_LOG_LOGGER_AND_LOGGER_INSTANCE_PROVIDED' }),
    );
  });

  it("shapes @obs's loggerInstance with the app's logger option, warning about what it leaves out", () => {
    const { loggerInstance, lines } = obsLoggerInstance();
    const app = patchedFastify()({ loggerInstance, logger: { level: 'debug', messageKey: 'm' } });
    app.log.debug('from the app');
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      [
        'warn',
        '@obs/fastify: logger messageKey cannot be combined with the @obs logger (it would change its JSON lines); left out. Applied: level, redact, serializers, transport, stream',
      ],
      ['debug', 'from the app'],
    ]);
  });

  it('logger: false silences the app lines', () => {
    const { loggerInstance, lines } = obsLoggerInstance();
    const app = patchedFastify()({ loggerInstance, logger: false });
    app.log.error('from the app');
    expect(lines).toEqual([]);
  });

  it("leaves any other pair to Fastify: the app's own logger instance next to logger is refused", () => {
    const { logger } = memoryLogger();
    expect(() => patchedFastify()({ loggerInstance: logger, logger: { level: 'debug' } })).toThrow(
      expect.objectContaining({ code: 'FST_ERR_LOG_LOGGER_AND_LOGGER_INSTANCE_PROVIDED' }),
    );
  });

  it('without a logger option (or with null), Fastify gets its options untouched', () => {
    const { loggerInstance, lines } = obsLoggerInstance();
    const fastify = patchedFastify();
    for (const app of [fastify({ loggerInstance }), fastify({ loggerInstance, logger: null })]) {
      app.log.info('as it is');
      expect(app.log.level).toBe('info');
    }
    expect(lines.map((l) => l.msg)).toEqual(['as it is', 'as it is']);
  });

  it('leaves a Fastify of another major version alone', () => {
    const dir = mkdtempSync(join(tmpdir(), 'obs-fastify-'));
    try {
      const pkg = join(dir, 'node_modules', 'fastify');
      mkdirSync(join(pkg, 'lib'), { recursive: true });
      writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'fastify', version: '6.0.0' }));
      writeFileSync(join(pkg, 'index.js'), "module.exports = require('./lib/logger-factory.js');\n");
      writeFileSync(join(pkg, 'lib', 'logger-factory.js'), 'exports.createLogger = (options) => options;\n');
      const instrumentation = fastifyLoggerOptionInstrumentation();
      instrumentation.enable();
      enabled.push(instrumentation);
      const factory = createRequire(join(dir, 'app.js'))('fastify') as { createLogger: Fastify };
      const { loggerInstance } = obsLoggerInstance();
      const options = factory.createLogger({ loggerInstance, logger: { level: 'debug' } });
      expect(options).toEqual({ loggerInstance, logger: { level: 'debug' } });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the patch of Fastify's createLogger", () => {
  function file(): InstrumentationModuleDefinition['files'][number] {
    const [fastify] = (
      fastifyLoggerOptionInstrumentation() as unknown as { getModuleDefinitions(): InstrumentationModuleDefinition[] }
    ).getModuleDefinitions();
    const [only] = fastify?.files ?? [];
    if (!only) throw new Error('no module file');
    return only;
  }

  it('wraps createLogger once, passes the options, receiver and result through, and unpatch restores it', () => {
    const { patch, unpatch } = file();
    const createLogger = vi.fn((_options: Record<string, unknown>) => 'created');
    const factory = { createLogger };
    patch(patch(factory));
    const options = { logger: { level: 'debug' }, loggerInstance: {} };
    expect(factory.createLogger(options)).toBe('created');
    expect(createLogger.mock.calls).toEqual([[options]]);
    expect(createLogger.mock.contexts).toEqual([factory]);
    expect(options.logger).toEqual({ level: 'debug' });
    unpatch(factory);
    expect(factory.createLogger).toBe(createLogger);
    unpatch(factory);
    expect(factory.createLogger).toBe(createLogger);
    patch(factory);
    expect(factory.createLogger).not.toBe(createLogger);
  });

  it('leaves a factory without createLogger as it is', () => {
    const { patch } = file();
    expect(patch({})).toEqual({});
    expect(patch(undefined)).toBeUndefined();
  });
});
