import { Writable } from 'node:stream';
import { context, ROOT_CONTEXT, TraceFlags, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withRequestId } from '../src/context.js';
import { loadPino, loggerOptions } from '../src/logging/logger.js';
import { REDACTED } from '../src/logging/redact.js';
import { type LogLine, memoryLogger } from './helpers.js';

beforeAll(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
});
afterAll(() => {
  context.disable();
});

describe('logger (real pino with @obs options)', () => {
  it('writes one JSON line with ISO time, level label, service, pid and hostname', () => {
    const pino = loadPino();
    const raw: string[] = [];
    const destination = new Writable({
      write(chunk, _encoding, callback) {
        raw.push(String(chunk));
        callback();
      },
    });
    const logger = pino(loggerOptions({ level: 'info', serviceName: 'billing', redactKeys: [] }, pino), destination);
    logger.info({ order: 42 }, 'order placed');
    logger.debug('below the level');
    expect(raw).toHaveLength(1);
    expect(raw[0]?.endsWith('\n')).toBe(true);
    const line = JSON.parse(raw[0] as string) as LogLine;
    expect(line.level).toBe('info');
    expect(line.msg).toBe('order placed');
    expect(line.service).toBe('billing');
    expect(line.order).toBe(42);
    expect(line.pid).toBe(process.pid);
    expect(typeof line.hostname).toBe('string');
    expect(line.time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect(new Date(line.time as string).toISOString()).toBe(line.time);
    expect(line).not.toHaveProperty('trace_id');
    expect(line).not.toHaveProperty('request_id');
  });

  it('stamps each line with the current millisecond', async () => {
    const { logger, lines } = memoryLogger();
    const before = Date.now();
    logger.info('first');
    await new Promise((r) => setTimeout(r, 5));
    logger.info('second');
    const after = Date.now();
    const [first, second] = lines.map((l) => Date.parse(l.time as string));
    expect(first).toBeGreaterThanOrEqual(before);
    expect(second).toBeGreaterThanOrEqual((first as number) + 4);
    expect(second).toBeLessThanOrEqual(after);
  });

  it('uses level labels for every level', () => {
    const { logger, lines } = memoryLogger();
    logger.trace('t');
    logger.debug('d');
    logger.info('i');
    logger.warn('w');
    logger.error('e');
    logger.fatal('f');
    expect(lines.map((l) => l.level)).toEqual(['trace', 'debug', 'info', 'warn', 'error', 'fatal']);
  });

  it('redacts nested secrets in any letter case, including extra keys', () => {
    const { logger, lines, raw } = memoryLogger({ redactKeys: ['SSN'] });
    logger.info(
      {
        req: { headers: { Authorization: 'Bearer top-secret', 'X-API-KEY': 'key-secret', accept: 'json' } },
        users: [{ name: 'ann', Password: 'pw-secret', ssn: 'ssn-secret' }],
      },
      'request',
    );
    expect(raw.join('')).not.toMatch(/top-secret|key-secret|pw-secret|ssn-secret/);
    const line = lines[0] as { req: { headers: Record<string, string> }; users: Record<string, string>[] };
    expect(line.req.headers).toEqual({ Authorization: REDACTED, 'X-API-KEY': REDACTED, accept: 'json' });
    expect(line.users[0]).toEqual({ name: 'ann', Password: REDACTED, ssn: REDACTED });
  });

  // Known gap, not fixed: pino applies formatters.bindings to the root logger's bindings only (children get
  // an identity formatter), so secrets in child bindings are written as is. Flip to it() once fixed.
  it('redacts secrets in child bindings', () => {
    const { logger, lines, raw } = memoryLogger();
    logger.child({ auth: { token: 'child-secret' }, tenant: 't1' }).info('hello');
    expect(raw.join('')).not.toContain('child-secret');
    expect(lines[0]).toMatchObject({ auth: { token: REDACTED }, tenant: 't1' });
  });

  it('serializes an Error logged as err with its stack, redacting secrets in its enumerable properties', () => {
    const { logger, lines, raw } = memoryLogger();
    const err = Object.assign(new Error('upstream failed'), {
      code: 'E_UPSTREAM',
      config: { headers: { authorization: 'Bearer err-secret' }, url: '/pay' },
    });
    logger.error({ err }, 'call failed');
    logger.error(err);
    expect(raw.join('')).not.toContain('err-secret');
    expect(lines).toHaveLength(2);
    for (const line of lines) {
      const e = line.err as Record<string, unknown>;
      expect(line.level).toBe('error');
      expect(e.type).toBe('Error');
      expect(e.message).toBe('upstream failed');
      expect(e.code).toBe('E_UPSTREAM');
      expect(e.stack).toEqual(expect.stringContaining('Error: upstream failed\n    at '));
      expect(e.config).toEqual({ headers: { authorization: REDACTED }, url: '/pay' });
    }
    expect(lines[0]?.msg).toBe('call failed');
  });

  it('serializes frozen errors, and errors with a frozen cause, instead of throwing', () => {
    const { logger, lines, raw } = memoryLogger();
    const cause = Object.freeze(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
    const err = Object.freeze(
      Object.assign(new TypeError('frozen failure', { cause }), { token: 'frozen-secret', status: 502 }),
    );
    expect(() => logger.error({ err }, 'request failed')).not.toThrow();
    expect(() => logger.error({ error: Object.seal(new Error('sealed failure')) }, 'sealed')).not.toThrow();
    expect(raw.join('')).not.toContain('frozen-secret');
    expect(lines).toHaveLength(2);
    const e = lines[0]?.err as Record<string, unknown>;
    // pino's serializer appends the causes' messages, as for any error with a cause
    expect(e).toMatchObject({
      type: 'TypeError',
      message: 'frozen failure: socket hang up',
      status: 502,
      token: REDACTED,
    });
    expect(e.stack).toEqual(expect.stringContaining('TypeError: frozen failure\n    at '));
    expect(e.stack).toEqual(expect.stringContaining('caused by: Error: socket hang up\n    at '));
    expect(lines[1]?.error).toMatchObject({ message: 'sealed failure' });
    expect(Object.isFrozen(err)).toBe(true); // the app's error is left as it was
  });

  it('does not leak a secret through a circular structure', () => {
    const { logger, raw } = memoryLogger();
    const obj: Record<string, unknown> = { password: 'cyclic-secret' };
    obj.self = obj;
    logger.info({ obj }, 'cycle');
    expect(raw).toHaveLength(1);
    expect(raw[0]).not.toContain('cyclic-secret');
  });

  it('adds trace_id, span_id and trace_flags inside a span, and request_id inside a request', () => {
    const { logger, lines } = memoryLogger();
    const spanContext = {
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      traceFlags: TraceFlags.SAMPLED,
    };
    const ctx = withRequestId(trace.setSpanContext(ROOT_CONTEXT, spanContext), 'req-1');
    context.with(ctx, () => logger.info('inside'));
    logger.info('outside');
    expect(lines[0]).toMatchObject({
      trace_id: spanContext.traceId,
      span_id: spanContext.spanId,
      trace_flags: '01',
      request_id: 'req-1',
    });
    expect(lines[1]).not.toHaveProperty('trace_id');
    expect(lines[1]).not.toHaveProperty('request_id');
  });
});
