/**
 * `shapeLogger`: an app's own framework logger options (Fastify's `logger`, nestjs-pino's and
 * koa-pino-logger's pino options) applied to the @obs logger, in the test process. The adapters'
 * end-to-end tests (packages/fastify, nestjs, koa) run in child processes that load `dist/`.
 */
import { describe, expect, it } from 'vitest';
import { captureDiagnostics } from '../src/diag.js';
import { isShapedLogger, shapeLogger } from '../src/logging/app-logger.js';
import { REDACTED } from '../src/logging/redact.js';
import { type LogLine, memoryLogger } from './helpers.js';

const LABEL = '@obs/test: logger';

describe('shapeLogger', () => {
  it('returns the @obs logger itself for undefined, true and options with nothing to apply', () => {
    const { logger, lines } = memoryLogger();
    expect(shapeLogger(logger, undefined, LABEL)).toBe(logger);
    expect(shapeLogger(logger, true, LABEL)).toBe(logger);
    expect(shapeLogger(logger, {}, LABEL)).toBe(logger);
    expect(lines).toEqual([]);
  });

  it('false: the app lines are off, the @obs logger keeps logging', () => {
    const { logger, lines } = memoryLogger();
    const app = shapeLogger(logger, false, LABEL);
    app.error('from the app');
    logger.info('from @obs');
    expect(lines.map((l) => l.msg)).toEqual(['from @obs']);
  });

  it('marks what it returns as shaped, and nothing else', () => {
    const { logger } = memoryLogger();
    expect(isShapedLogger(logger)).toBe(false);
    expect(isShapedLogger(shapeLogger(logger, { level: 'warn' }, LABEL))).toBe(true);
    expect(isShapedLogger(shapeLogger(logger, false, LABEL))).toBe(true);
    expect(isShapedLogger(null)).toBe(false);
    expect(isShapedLogger(undefined)).toBe(false);
    expect(isShapedLogger('logger')).toBe(false);
  });

  it('level: a child at that level; the @obs logger keeps its own', () => {
    const { logger, lines } = memoryLogger({ level: 'info' });
    const app = shapeLogger(logger, { level: 'debug' }, LABEL);
    app.debug('app debug');
    logger.debug('obs debug');
    expect(app.level).toBe('debug');
    expect(logger.level).toBe('info');
    expect(lines.map((l) => l.msg)).toEqual(['app debug']);
  });

  it('a level that is not a string is not applied', () => {
    const { logger, lines } = memoryLogger({ level: 'info' });
    expect(shapeLogger(logger, { level: 20 as unknown as string }, LABEL)).toBe(logger);
    expect(lines).toEqual([]);
  });

  it('redact: pino paths on top of the key redaction', () => {
    const { logger, lines } = memoryLogger();
    const app = shapeLogger(logger, { redact: ['req.headers["x-session"]'] }, LABEL);
    app.info({ req: { headers: { 'x-session': 's-1', accept: 'json' } } }, 'request');
    expect((lines[0] as { req: unknown }).req).toEqual({ headers: { 'x-session': '[Redacted]', accept: 'json' } });
  });

  it('serializers: applied to the lines of the logger returned', () => {
    const { logger, lines } = memoryLogger();
    const app = shapeLogger(logger, { serializers: { user: (u: { id: number }) => ({ id: u.id }) } }, LABEL);
    app.info({ user: { id: 7, name: 'ann' } }, 'who');
    expect(lines[0]?.user).toEqual({ id: 7 });
  });

  it('stream: every line of the @obs logger and its children goes to it', () => {
    const { logger, lines } = memoryLogger();
    const sent: LogLine[] = [];
    const app = shapeLogger(logger, { stream: { write: (l: string) => sent.push(JSON.parse(l)) } }, LABEL);
    expect(app).toBe(logger);
    logger.child({ password: 'hunter2' }).info('to the stream');
    expect(lines).toEqual([]);
    expect(sent).toMatchObject([{ msg: 'to the stream', password: REDACTED }]);
  });

  it('a stream without write() is not used', () => {
    const { logger, lines } = memoryLogger();
    shapeLogger(logger, { stream: {} as { write(l: string): unknown } }, LABEL);
    logger.info('still here');
    expect(lines.map((l) => l.msg)).toEqual(['still here']);
  });

  it('transport: handed to useLogTransport (a missing target costs one warning), before a stream', () => {
    const { logger, lines } = memoryLogger();
    const diagnostics: string[] = [];
    const restore = captureDiagnostics(diagnostics);
    const sent: string[] = [];
    try {
      shapeLogger(
        logger,
        { transport: { target: 'obs-no-such-transport-module' }, stream: { write: (l: string) => sent.push(l) } },
        LABEL,
      );
    } finally {
      restore();
    }
    expect(diagnostics.join('\n')).toContain('the logger transport cannot be used');
    logger.info('stays');
    expect(sent).toEqual([]);
    expect(lines.map((l) => l.msg)).toEqual(['stays']);
  });

  it('names the options it cannot combine in one warning, at level warn', () => {
    const { logger, lines } = memoryLogger();
    const app = shapeLogger(logger, { level: 'debug', formatters: {}, messageKey: 'm', stream: undefined }, LABEL);
    expect(app.level).toBe('debug');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 'warn',
      'obs.logger_options_ignored': ['formatters', 'messageKey'],
      msg: `${LABEL} formatters, messageKey cannot be combined with the @obs logger (it would change its JSON lines); left out. Applied: level, redact, serializers, transport, stream`,
    });
  });

  it('a logger instance: one warning, and the @obs logger as it is', () => {
    const { logger, lines } = memoryLogger();
    const other = memoryLogger().logger;
    expect(shapeLogger(logger, other as unknown as Record<string, unknown>, LABEL)).toBe(logger);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'warn', 'obs.logger_options_ignored': ['(a logger instance)'] });
  });

  it('a value that is neither a boolean nor options: one warning, and the @obs logger', () => {
    for (const bad of [null, 'debug', 3]) {
      const { logger, lines } = memoryLogger();
      expect(shapeLogger(logger, bad as unknown as boolean, LABEL)).toBe(logger);
      expect(lines).toMatchObject([
        { level: 'warn', msg: `${LABEL} must be true, false or pino options; using the @obs logger as it is` },
      ]);
    }
  });

  it('options pino refuses (an unknown level): one warning with the error, and the @obs logger', () => {
    const { logger, lines } = memoryLogger();
    expect(shapeLogger(logger, { level: 'loud' }, LABEL)).toBe(logger);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 'warn',
      msg: `${LABEL} cannot be applied; using the @obs logger as it is`,
    });
    expect(lines[0]?.err).toMatchObject({ message: expect.stringContaining('loud') });
  });
});
