import { EventEmitter, once } from 'node:events';
import fs, { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { context, ROOT_CONTEXT, TraceFlags, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { withRequestId } from '../src/context.js';
import { captureDiagnostics } from '../src/diag.js';
import {
  createLogger,
  flushLogger,
  type LogTransport,
  loadPino,
  loggerOptions,
  useLogStream,
  useLogTransport,
} from '../src/logging/logger.js';
import { REDACTED } from '../src/logging/redact.js';
import { type LogLine, memoryLogger, settlesAt } from './helpers.js';

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

describe('logger: arguments, destinations and transports', () => {
  it('redacts an object passed where the message goes, and takes no message from a plain object', () => {
    const { logger, lines, raw } = memoryLogger();
    logger.info({ order: 7 }, { password: 'msg-object-secret' } as unknown as string);
    logger.info({ message: 'password=plain-object-secret' });
    expect(raw.join('')).not.toMatch(/msg-object-secret|plain-object-secret/);
    expect(lines[0]).toMatchObject({ order: 7, msg: { password: REDACTED } });
    expect(lines[1]).not.toHaveProperty('msg');
    expect(lines[1]?.message).toBe(`password=${REDACTED}`);
  });

  it('keeps the message and its arguments of an Error logged with a message', () => {
    const { logger, lines, raw } = memoryLogger();
    logger.error(new Error('token=err-msg-secret'), 'charge %s failed after %d tries', 'ch_1', 3);
    expect(raw.join('')).not.toContain('err-msg-secret');
    expect(lines[0]?.msg).toBe('charge ch_1 failed after 3 tries');
    expect(lines[0]?.err).toMatchObject({ message: `token=${REDACTED}` });
  });

  it('serializes frozen errors nested in enumerable properties, five levels of them, then gives up without throwing', () => {
    const { logger, lines } = memoryLogger();
    const chain = (depth: number): Error => {
      let err = Object.freeze(new Error(`level ${depth - 1}`));
      for (let i = depth - 2; i >= 0; i--) err = Object.freeze(Object.assign(new Error(`level ${i}`), { inner: err }));
      return err;
    };
    logger.error({ err: chain(6) }, 'six levels');
    logger.error({ err: chain(7) }, 'seven levels');
    let e = lines[0]?.err as { message: string; inner?: unknown };
    for (let i = 0; i < 6; i++) {
      expect(e.message).toBe(`level ${i}`);
      e = e.inner as typeof e;
    }
    expect(lines[1]?.err).toEqual({ type: 'Error', message: '[error could not be serialized]' });
    expect(lines[1]?.msg).toBe('seven levels');
  });

  it('writes to stdout with one write(2) per line when sync, and once per turn by default', async () => {
    const written: string[] = [];
    const writeSync = fs.writeSync;
    const spy = vi.spyOn(fs, 'writeSync').mockImplementation(((
      fd: number,
      data: string | Uint8Array,
      ...rest: never[]
    ) => {
      if (fd !== 1) return (writeSync as (...a: unknown[]) => number)(fd, data, ...rest);
      written.push(String(data));
      return Buffer.byteLength(data as string);
    }) as typeof fs.writeSync);
    try {
      const sync = createLogger({
        level: 'info',
        serviceName: 'stdout-sync',
        redactKeys: [],
        sync: true,
      });
      sync.info('first');
      expect(written.map((w) => JSON.parse(w).msg)).toEqual(['first']);
      sync.info('second');
      expect(written.map((w) => JSON.parse(w).msg)).toEqual(['first', 'second']);
      written.length = 0;
      const buffered = createLogger({
        level: 'info',
        serviceName: 'stdout-buffered',
        redactKeys: [],
      });
      buffered.info('one');
      buffered.info('two');
      expect(written).toEqual([]);
      await flushLogger(buffered, 1000);
      expect(written).toHaveLength(1);
      expect(
        written[0]
          ?.trim()
          .split('\n')
          .map((l) => JSON.parse(l).msg),
      ).toEqual(['one', 'two']);
    } finally {
      spy.mockRestore();
    }
  });

  it('flushLogger writes out what an asynchronous destination holds, also behind pino.multistream', async () => {
    const pino = loadPino();
    const dir = mkdtempSync(join(tmpdir(), 'obs-flush-'));
    const setup = { level: 'info', serviceName: 'flush', redactKeys: [] };
    // minLength: lines wait in sonic-boom's buffer; without it the first write is in flight (`_writing`)
    const a = pino.destination({ dest: join(dir, 'a.log'), sync: false, minLength: 4096 });
    const b = pino.destination({ dest: join(dir, 'b.log'), sync: false });
    const c = pino.destination({ dest: join(dir, 'c.log'), sync: false, minLength: 4096 });
    await Promise.all([a, b, c].map((d) => once(d, 'ready')));
    const single = createLogger({ ...setup, destination: a });
    const multi = createLogger({ ...setup, destination: pino.multistream([{ stream: b }, { stream: c }]) });
    for (const logger of [single, multi]) {
      logger.info('line 1');
      logger.info('line 2');
    }
    expect((b as unknown as { _writing: boolean })._writing).toBe(true);
    await flushLogger(single, 5000);
    await flushLogger(multi, 5000);
    for (const file of ['a.log', 'b.log', 'c.log']) {
      const msgs = readFileSync(join(dir, file), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).msg);
      expect(msgs, file).toEqual(['line 1', 'line 2']);
    }
    for (const d of [a, b, c]) d.end();
    rmSync(dir, { recursive: true, force: true });
  });

  it('flushLogger gives a destination that never drains timeoutMs, then writes out what it can', async () => {
    vi.useFakeTimers();
    try {
      const flushed: string[] = [];
      const stuck = {
        _writing: true,
        once() {},
        write() {},
        flushSync() {
          flushed.push('stuck');
        },
      };
      const logger = createLogger({
        level: 'info',
        serviceName: 'stuck',
        redactKeys: [],
        destination: stuck,
      });
      expect(await settlesAt(flushLogger(logger, 250))).toBe(250);
      expect(flushed).toEqual(['stuck']);
      const idle = { write() {}, flushSync: () => flushed.push('idle'), once() {} };
      const other = createLogger({
        level: 'info',
        serviceName: 'idle',
        redactKeys: [],
        destination: idle,
      });
      expect(await settlesAt(flushLogger(other, 250))).toBe(0);
      expect(flushed).toEqual(['stuck', 'idle']);
    } finally {
      vi.useRealTimers();
    }
  });

  it('flushLogger waits for a destination to drain, not for the timeout', async () => {
    vi.useFakeTimers();
    try {
      const flushed: number[] = [];
      const busy = Object.assign(new EventEmitter(), {
        _writing: true,
        write() {},
        flushSync: () => flushed.push(Date.now()),
      });
      const logger = createLogger({
        level: 'info',
        serviceName: 'busy',
        redactKeys: [],
        destination: busy,
      });
      setTimeout(() => busy.emit('drain'), 100);
      const start = Date.now();
      expect(await settlesAt(flushLogger(logger, 1000))).toBe(100);
      expect(flushed).toEqual([start + 100]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('useLogStream sends the lines of the logger and of its children, made before or after, to the stream', () => {
    const { logger, lines } = memoryLogger();
    const before = logger.child({ part: 'before' });
    const sent: LogLine[] = [];
    useLogStream(logger, { write: (line: string) => sent.push(JSON.parse(line)) });
    logger.info('root');
    before.info('old child');
    logger.child({ part: 'after' }).info('new child');
    expect(lines).toEqual([]);
    expect(sent.map((l) => [l.msg, l.part])).toEqual([
      ['root', undefined],
      ['old child', 'before'],
      ['new child', 'after'],
    ]);
  });

  it('useLogTransport resolves a transport from the app directory, alone, in targets and in a pipeline', async () => {
    const app = mkdtempSync(join(tmpdir(), 'obs-app-'));
    const module = join(app, 'node_modules', 'obs-test-transport');
    mkdirSync(module, { recursive: true });
    writeFileSync(
      join(module, 'index.js'),
      "module.exports = (opts) => require('node:fs').createWriteStream(opts.destination);\n",
    );
    // an app with a pino of its own: `pino/...` targets are still the logger's pino's
    mkdirSync(join(app, 'node_modules', 'pino'), { recursive: true });
    writeFileSync(
      join(app, 'node_modules', 'pino', 'file.js'),
      "module.exports = (opts) => { const s = require('node:fs').createWriteStream(opts.destination); s.write('not pino\\n'); return s; };\n",
    );
    const cwd = vi.spyOn(process, 'cwd').mockReturnValue(app);
    try {
      const out = (name: string) => ({ target: 'obs-test-transport', options: { destination: join(app, name) } });
      const shapes = {
        pinoFile: { target: 'pino/file', options: { destination: join(app, 'pinoFile.log') } },
        // a file: URL cannot be resolved from the app directory: pino takes it as it is
        fileUrl: {
          target: pathToFileURL(join(module, 'index.js')).href,
          options: { destination: join(app, 'fileUrl.log') },
        },
        alone: out('alone.log'),
        targets: { targets: [out('targets.log')] },
        pipeline: { pipeline: [out('pipeline.log')] },
      };
      for (const [name, transport] of Object.entries(shapes)) {
        const { logger } = memoryLogger();
        expect(useLogTransport(logger, transport as LogTransport), name).toBe(true);
        logger.info({ token: 'app-transport-secret' }, name);
        const stream = (logger as unknown as Record<symbol, NodeJS.WritableStream & EventEmitter>)[
          loadPino().symbols.streamSym
        ] as EventEmitter & { end(): void };
        const closed = once(stream, 'close');
        stream.end();
        await closed;
        expect(JSON.parse(readFileSync(join(app, `${name}.log`), 'utf8'))).toMatchObject({
          msg: name,
          token: REDACTED,
        });
      }
    } finally {
      cwd.mockRestore();
      rmSync(app, { recursive: true, force: true });
    }
  });

  it('useLogTransport sends the lines to a pino transport; one that cannot be created costs a warning', async () => {
    const diagnostics: string[] = [];
    const restore = captureDiagnostics(diagnostics);
    const dir = mkdtempSync(join(tmpdir(), 'obs-transport-'));
    try {
      const { logger, lines } = memoryLogger();
      expect(useLogTransport(logger, { target: 'obs-no-such-transport-module' })).toBe(false);
      expect(diagnostics).toEqual([
        expect.stringMatching(/^.*the logger transport cannot be used \(.+\); log lines stay JSON on stdout$/),
      ]);
      logger.info('still here');
      expect(lines.map((l) => l.msg)).toEqual(['still here']);

      const file = join(dir, 'out.log');
      expect(
        useLogTransport(logger, { targets: [{ target: 'pino/file', options: { destination: file, mkdir: true } }] }),
      ).toBe(true);
      logger.info({ password: 'transport-secret' }, 'to the file');
      const stream = (logger as unknown as Record<symbol, EventEmitter & { end(): void }>)[
        loadPino().symbols.streamSym
      ] as EventEmitter & { end(): void };
      const closed = once(stream, 'close');
      stream.end();
      await closed;
      const written = readFileSync(file, 'utf8');
      expect(written).not.toContain('transport-secret');
      expect(JSON.parse(written.trim())).toMatchObject({ msg: 'to the file', password: REDACTED });
      expect(lines.map((l) => l.msg)).toEqual(['still here']);
    } finally {
      restore();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
