/**
 * ObsLoggerService in-process: how Nest's `(message, ...optionalParams)` calls become @obs lines.
 * And the module options' defaults and normalisation.
 */
import { Writable } from 'node:stream';
import { createLogger } from '@obs/core';
import { describe, expect, it } from 'vitest';
import { ObsLoggerService } from '../src/logger.js';
import { resolveOptions } from '../src/options.js';

function capture(level = 'trace') {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      for (const raw of String(chunk).split('\n')) if (raw) lines.push(JSON.parse(raw));
      done();
    },
  });
  const logger = createLogger({ level, serviceName: 'svc', redactKeys: [], destination });
  const flush = () => new Promise((r) => setImmediate(r));
  return { logger, lines, flush };
}

describe('ObsLoggerService', () => {
  it('maps the Nest levels to pino levels', async () => {
    const { logger, lines, flush } = capture();
    const nest = new ObsLoggerService(undefined, logger);
    nest.log('l');
    nest.error('e');
    nest.warn('w');
    nest.debug('d');
    nest.verbose('v');
    nest.fatal('f');
    await flush();
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      ['info', 'l'],
      ['error', 'e'],
      ['warn', 'w'],
      ['debug', 'd'],
      ['trace', 'v'],
      ['fatal', 'f'],
    ]);
  });

  it('reads the context, fields and stack as Nest does, from the calls Nest Logger instances make', async () => {
    const { logger, lines, flush } = capture();
    const nest = new ObsLoggerService('DefaultCtx', logger);
    nest.log('no context given'); // Logger without a context
    nest.log('Login attempt', { email: 'a@b.c' }, 'AuthController'); // new Logger('AuthController').log(msg, {...})
    nest.error('failed', undefined, 'Orders'); // new Logger('Orders').error('failed')
    const stack = new Error('deep').stack as string;
    nest.error('failed with stack', stack, 'Orders'); // new Logger('Orders').error(msg, err.stack)
    nest.error('two-argument stack', stack); // Logger.error(msg, stack) with no context
    nest.warn({ msg: 'object', count: 2, password: 'hunter2' });
    nest.log('with extras', 1, true, 'Ctx');
    await flush();
    expect(lines[0]).toMatchObject({ msg: 'no context given', context: 'DefaultCtx' });
    expect(lines[1]).toMatchObject({ msg: 'Login attempt', context: 'AuthController', email: 'a@b.c' });
    expect(lines[2]).toMatchObject({ msg: 'failed', context: 'Orders', level: 'error' });
    expect(lines[2]?.err).toBeUndefined();
    expect(lines[3]).toMatchObject({ msg: 'failed with stack', context: 'Orders', err: { stack } });
    expect(lines[4]).toMatchObject({ msg: 'two-argument stack', context: 'DefaultCtx', err: { stack } });
    expect(lines[5]).toMatchObject({ msg: 'object', count: 2, password: '[Redacted]', level: 'warn' });
    expect(lines[6]).toMatchObject({ msg: 'with extras', context: 'Ctx', args: [1, true] });
  });

  it('logs an Error message as err with its stack', async () => {
    const { logger, lines, flush } = capture();
    new ObsLoggerService(undefined, logger).error(new TypeError('bad type'), 'Ctx');
    await flush();
    expect(lines[0]).toMatchObject({
      level: 'error',
      msg: 'bad type',
      context: 'Ctx',
      err: { type: 'TypeError', message: 'bad type', stack: expect.stringContaining('TypeError: bad type') },
    });
  });

  it('honours setLogLevels() and the pino level', async () => {
    const { logger, lines, flush } = capture('info');
    const nest = new ObsLoggerService(undefined, logger);
    nest.debug('below the pino level');
    nest.setLogLevels(['error', 'warn']);
    nest.log('filtered out by Nest levels');
    nest.warn('kept');
    await flush();
    expect(lines.map((l) => l.msg)).toEqual(['kept']);
  });
});

describe('ObservabilityModule options', () => {
  it('defaults and normalises the paths', () => {
    expect(resolveOptions()).toEqual({
      livePath: '/health/live',
      readyPath: '/health/ready',
      startedPath: '/health/started',
      metricsPath: '/metrics',
    });
    expect(
      resolveOptions({ livePath: 'probes//live/', readyPath: ' /r ', startedPath: 's/', metricsPath: false }),
    ).toEqual({
      livePath: '/probes/live',
      readyPath: '/r',
      startedPath: '/s',
      metricsPath: false,
    });
  });

  it('rejects empty paths', () => {
    expect(() => resolveOptions({ livePath: '' })).toThrow(/livePath/);
    expect(() => resolveOptions({ metricsPath: '/' })).toThrow(/metricsPath/);
  });
});
