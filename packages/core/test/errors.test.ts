/**
 * Error reporting without Sentry: the configuration (`SENTRY_*`, `OBS_SENTRY_MIN_STATUS`), the
 * capture rule (which error of a request is reported), the logger's hook, the scrubber, the
 * `--unhandled-rejections` mode, and that no backend is a no-op that loads nothing.
 */
import { type Context, context, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Env, type ObsOptions, resolveConfig } from '../src/config/resolve.js';
import { captureDiagnostics } from '../src/diag.js';
import { NO_ERROR_REPORTER, startErrorReporting } from '../src/errors/reporter.js';
import {
  type Candidate,
  isErrorLike,
  noteLoggedError,
  RequestErrorTracker,
  type RequestOutcome,
  withRequestErrors,
} from '../src/errors/request.js';
import { createEventScrubber } from '../src/errors/scrub.js';
import { unhandledRejectionsMode } from '../src/errors/sentry.js';
import { memoryLogger } from './helpers.js';

function resolve(env: Env = {}, options: ObsOptions = {}) {
  const warnings: string[] = [];
  const restore = captureDiagnostics(warnings);
  try {
    return { sentry: resolveConfig(options, env).sentry, warnings };
  } finally {
    restore();
  }
}

const DSN = 'https://0123456789abcdef@o1.ingest.example.com/42';

describe('configuration', () => {
  it('is off without SENTRY_DSN', () => {
    expect(resolve().sentry).toEqual({
      dsn: undefined,
      release: undefined,
      environment: undefined,
      minStatus: 500,
      tracesSampleRate: undefined,
    });
  });

  it('reads SENTRY_DSN, SENTRY_RELEASE, SENTRY_ENVIRONMENT, OBS_SENTRY_MIN_STATUS, SENTRY_TRACES_SAMPLE_RATE', () => {
    const { sentry, warnings } = resolve({
      SENTRY_DSN: ` ${DSN} `,
      SENTRY_RELEASE: 'shop@9',
      SENTRY_ENVIRONMENT: 'staging',
      OBS_SENTRY_MIN_STATUS: '400',
      SENTRY_TRACES_SAMPLE_RATE: '0.25',
      OTEL_RESOURCE_ATTRIBUTES: 'service.version=1.0.0,deployment.environment.name=prod',
    });
    expect(sentry).toEqual({
      dsn: DSN,
      release: 'shop@9',
      environment: 'staging',
      minStatus: 400,
      tracesSampleRate: 0.25,
    });
    expect(warnings).toEqual([]);
  });

  it('takes release and environment from the OpenTelemetry resource when the SENTRY_ variables are unset', () => {
    const env = {
      OTEL_SERVICE_NAME: 'checkout',
      OTEL_RESOURCE_ATTRIBUTES: 'service.version=1.4.2,deployment.environment.name=prod',
    };
    expect(resolve(env).sentry).toMatchObject({ release: 'checkout@1.4.2', environment: 'prod' });
    expect(
      resolve({ OTEL_RESOURCE_ATTRIBUTES: 'service.name=a,service.version=2,deployment.environment=old' }).sentry,
    ).toMatchObject({ release: 'a@2', environment: 'old' });
    expect(resolve({ OTEL_SERVICE_NAME: 'x' }).sentry).toMatchObject({ release: undefined, environment: undefined });
  });

  it('lets options override the variables', () => {
    const beforeSend = () => null;
    const { sentry } = resolve(
      { SENTRY_DSN: DSN, SENTRY_RELEASE: 'env-release', OBS_SENTRY_MIN_STATUS: '400' },
      { sentry: { dsn: 'http://abc@127.0.0.1:9/1', release: 'opt-release', minStatus: 503, beforeSend } },
    );
    expect(sentry).toMatchObject({ dsn: 'http://abc@127.0.0.1:9/1', release: 'opt-release', minStatus: 503 });
  });

  it.each([
    'not a url',
    'ftp://key@host/1',
    'https://host/1', // no key
    'https://key@host/', // no project
    'https://key@host/project', // project id not numeric
    'http://pub-lic@127.0.0.1:9/1', // Sentry's parser takes \w+ keys only
    'dsn https://key@o1.ingest.example.com/42', // something before the scheme
    'https://key@o1.ingest.example.com/project1', // the project id ends in a digit, but is not a number
    'https://key@o1.ingest.example.com/42abc', // the project id starts with one
  ])('rejects the DSN %j with one warning that does not print the key', (dsn) => {
    const { sentry, warnings } = resolve({ SENTRY_DSN: dsn });
    expect(sentry.dsn).toBeUndefined();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('SENTRY_DSN is not a Sentry DSN');
    expect(warnings[0]).not.toContain('pub-lic');
  });

  it('accepts DSNs with a port and a path prefix', () => {
    for (const dsn of ['http://abc@127.0.0.1:4000/1', 'https://k_1@sentry.example.com/prefix/sub/77']) {
      expect(resolve({ SENTRY_DSN: dsn }).sentry.dsn).toBe(dsn);
    }
  });

  it("accepts the DSN shapes Sentry's own parser takes: a secret (or an empty one) after the key, an IPv6 host", () => {
    for (const dsn of [
      'https://key:secret@o1.ingest.example.com/42',
      'https://key:@o1.ingest.example.com/42',
      'http://key@[::1]:9000/42',
      'http://key@[fe80::1%25eth0]/42',
    ]) {
      const { sentry, warnings } = resolve({ SENTRY_DSN: dsn });
      expect(sentry.dsn).toBe(dsn);
      expect(warnings).toEqual([]);
    }
  });

  it('names options.sentry.dsn, not SENTRY_DSN, when the bad DSN came from the options', () => {
    const { sentry, warnings } = resolve({}, { sentry: { dsn: 'https://host/1' } });
    expect(sentry.dsn).toBeUndefined();
    expect(warnings).toEqual([
      '@obs warn: options.sentry.dsn is not a Sentry DSN (https://PUBLIC_KEY@HOST/PROJECT_ID); errors are not reported to Sentry',
    ]);
  });

  it.each([
    ['0', 0],
    ['1', 1],
    ['0.5', 0.5],
  ])('takes SENTRY_TRACES_SAMPLE_RATE=%s (the bounds included)', (raw, rate) => {
    const { sentry, warnings } = resolve({ SENTRY_TRACES_SAMPLE_RATE: raw });
    expect(sentry.tracesSampleRate).toBe(rate);
    expect(warnings).toEqual([]);
  });

  it.each([
    ['OBS_SENTRY_MIN_STATUS', '399', 'minStatus', 500],
    ['OBS_SENTRY_MIN_STATUS', '600', 'minStatus', 500],
    ['OBS_SENTRY_MIN_STATUS', 'x', 'minStatus', 500],
    ['SENTRY_TRACES_SAMPLE_RATE', '2', 'tracesSampleRate', undefined],
    ['SENTRY_TRACES_SAMPLE_RATE', '1.01', 'tracesSampleRate', undefined],
    ['SENTRY_TRACES_SAMPLE_RATE', '-0.5', 'tracesSampleRate', undefined],
    ['SENTRY_TRACES_SAMPLE_RATE', 'all', 'tracesSampleRate', undefined],
  ])('warns about %s=%s and keeps the default', (name, raw, key, fallback) => {
    const { sentry, warnings } = resolve({ [name]: raw });
    expect((sentry as Record<string, unknown>)[key]).toBe(fallback);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(name);
  });
});

describe('without a backend', () => {
  it('loads nothing without a DSN, and every method is a no-op', async () => {
    const loaded: string[] = [];
    const config = resolveConfig({}, {});
    const reporter = startErrorReporting(config, {
      load: (id) => {
        loaded.push(id);
        throw new Error('must not load');
      },
    });
    expect(reporter).toBe(NO_ERROR_REPORTER);
    expect(loaded).toEqual([]);
    expect(reporter.backend).toBeUndefined();
    expect(reporter.track()).toBeUndefined();
    expect(reporter.captureException(new Error('x'))).toBeUndefined();
    expect(await reporter.flush()).toBe(true);
  });

  it('warns once and goes on when @sentry/node is not installed', () => {
    const warnings: string[] = [];
    const restore = captureDiagnostics(warnings);
    try {
      const config = resolveConfig({ sentry: { dsn: DSN } }, {});
      const missing = (id: string) => {
        throw Object.assign(new Error(`Cannot find module '${id}'`), { code: 'MODULE_NOT_FOUND' });
      };
      expect(startErrorReporting(config, { load: missing })).toBe(NO_ERROR_REPORTER);
      expect(startErrorReporting(config, { load: missing })).toBe(NO_ERROR_REPORTER);
    } finally {
      restore();
    }
    expect(warnings).toEqual([
      '@obs warn: SENTRY_DSN is set but @sentry/node is not installed; errors are not reported (install @sentry/node 11.x)',
    ]);
  });

  it('refuses other major versions of @sentry/node (they set up an OpenTelemetry SDK of their own)', () => {
    const warnings: string[] = [];
    const restore = captureDiagnostics(warnings);
    const loaded: string[] = [];
    try {
      const config = resolveConfig({ sentry: { dsn: DSN } }, {});
      const v10 = (id: string) => {
        loaded.push(id);
        if (id === '@sentry/node/package.json') return { version: '10.30.0' };
        throw new Error('the SDK itself must not be loaded');
      };
      expect(startErrorReporting(config, { load: v10 })).toBe(NO_ERROR_REPORTER);
    } finally {
      restore();
    }
    expect(loaded).toEqual(['@sentry/node/package.json']);
    expect(warnings).toEqual([
      "@obs warn: @sentry/node 10.30.0 is installed; @obs works with 11.x; @sentry/node 10 sets up an OpenTelemetry SDK of its own, which would take over @obs's tracing: upgrade to @sentry/node 11 (npm install @sentry/node@11); errors are not reported to Sentry",
    ]);
  });
});

describe('the capture rule', () => {
  const ctxA = ROOT_CONTEXT.setValue(Symbol('a'), 'a');
  const ctxB = ROOT_CONTEXT.setValue(Symbol('b'), 'b');
  const outcome = (statusCode: number | undefined, extra: Partial<RequestOutcome> = {}): RequestOutcome => ({
    method: 'GET',
    route: '/r',
    path: '/r',
    requestId: 'id',
    statusCode,
    serverError: undefined,
    context: ROOT_CONTEXT,
    ...extra,
  });
  const run = (minStatus: number, steps: (t: RequestErrorTracker) => void, end: RequestOutcome) => {
    const reports: { candidate: Candidate; status: number }[] = [];
    const tracker = new RequestErrorTracker(minStatus, (candidate, _o, status) => reports.push({ candidate, status }));
    steps(tracker);
    tracker.complete(end);
    tracker.complete(end); // idempotent
    return reports;
  };
  const recorded = new Error('recorded');
  const logged = new Error('logged');
  const logged2 = new Error('logged later');
  const noted = new Error('noted');

  it('reports the recorded error of a 5xx, once, even when errors were logged too', () => {
    const reports = run(
      500,
      (t) => {
        t.logged(logged, ctxB);
        t.recorded(recorded, ctxA);
        t.recorded(new Error('second'), ctxB);
        t.logged(logged2);
      },
      outcome(500),
    );
    expect(reports).toHaveLength(1);
    expect(reports[0]?.candidate).toEqual({ error: recorded, context: ctxA, source: 'recorded' });
    expect(reports[0]?.status).toBe(500);
  });

  it('reports the first error logged at error while handling a 5xx that recorded none', () => {
    const reports = run(
      500,
      (t) => {
        t.logged(logged, ctxB);
        t.logged(logged2, ctxA);
      },
      outcome(503),
    );
    expect(reports.map((r) => [r.candidate.error, r.candidate.source, r.status])).toEqual([[logged, 'logged', 503]]);
  });

  it('reports nothing for a 5xx without any error, nor for a 2xx/4xx whose handler logged an error', () => {
    expect(run(500, () => {}, outcome(500))).toEqual([]);
    expect(run(500, (t) => t.logged(logged), outcome(200))).toEqual([]);
    expect(run(500, (t) => t.logged(logged), outcome(404))).toEqual([]);
    expect(run(500, (t) => t.noted(noted), outcome(400))).toEqual([]);
  });

  it('reports 4xx errors only when the minimum status asks for them, the noted error first', () => {
    const reports = run(
      400,
      (t) => {
        t.logged(logged);
        t.noted(noted);
      },
      outcome(422),
    );
    expect(reports.map((r) => [r.candidate.error, r.candidate.source, r.status])).toEqual([[noted, 'noted', 422]]);
    expect(run(400, () => {}, outcome(401))).toEqual([]);
    // and a higher minimum silences 500s
    expect(run(503, (t) => t.recorded(recorded), outcome(500))).toEqual([]);
  });

  it('reports a recorded failure when the client went away before the answer, as a 500', () => {
    const reports = run(500, (t) => t.recorded(recorded), outcome(undefined));
    expect(reports.map((r) => r.status)).toEqual([500]);
    expect(run(500, (t) => t.logged(logged), outcome(undefined))).toEqual([]);
  });

  it('reports the error a response was destroyed with', () => {
    const broken = new Error('stream failed');
    const reports = run(500, (t) => t.logged(logged), outcome(200, { serverError: broken, context: ctxA }));
    expect(reports.map((r) => [r.candidate.error, r.candidate.source, r.candidate.context])).toEqual([
      [broken, 'server', ctxA],
    ]);
  });
});

describe("the logger's hook", () => {
  beforeAll(() => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  });
  afterAll(() => {
    context.disable();
  });

  const track = () => {
    const seen: { error: unknown; ctx: Context }[] = [];
    const tracker = {
      recorded() {},
      noted() {},
      logged(error: unknown, ctx?: Context) {
        seen.push({ error, ctx: ctx as Context });
      },
      complete() {},
    };
    return { tracker, seen };
  };

  it('hands Errors logged at error or fatal inside a request to its tracker, with the context they were logged in', () => {
    const { logger } = memoryLogger();
    const { tracker, seen } = track();
    const span = trace.wrapSpanContext({ traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceFlags: 1 });
    const ctx = trace.setSpan(withRequestErrors(ROOT_CONTEXT, tracker), span);
    const e1 = new Error('one');
    const e2 = new TypeError('two');
    context.with(ctx, () => {
      logger.info({ err: new Error('info') }, 'not an error line');
      logger.warn({ err: new Error('warn') }, 'not an error line');
      logger.error({ err: e1 }, 'failed');
      logger.error('no error object');
      logger.error({ err: 'a string' }, 'no error object');
      logger.fatal(e2);
      logger.child({ component: 'x' }).error({ error: e1 }, 'under `error`');
    });
    logger.error({ err: new Error('outside') }, 'outside any request');
    expect(seen.map((s) => s.error)).toEqual([e1, e2, e1]);
    expect(trace.getSpanContext(seen[0]?.ctx as Context)?.spanId).toBe('b'.repeat(16));
  });

  it('ignores what is not an Error, and looks only at err and error', () => {
    const { tracker, seen } = track();
    const ctx = withRequestErrors(ROOT_CONTEXT, tracker);
    noteLoggedError(null, ctx);
    noteLoggedError({ cause: new Error('x') }, ctx);
    noteLoggedError({ err: { message: 'no stack' } }, ctx);
    const like = { message: 'error-like', stack: 'Error: error-like\n    at x' };
    noteLoggedError({ err: like }, ctx);
    expect(seen.map((s) => s.error)).toEqual([like]);
    expect(isErrorLike(new Error('x'))).toBe(true);
  });
});

describe('the scrubber', () => {
  const scrub = createEventScrubber(['pin']);

  it('redacts sensitive keys anywhere, as the logger does, including OBS_REDACT_KEYS', () => {
    const event = {
      message: 'redacts inside messages too: token=abc',
      request: {
        headers: { Authorization: 'Bearer a', 'X-Api-Key': 'k', Cookie: 'c=1', Accept: 'text/html', PIN: '1234' },
        cookies: { session: 's' },
      },
      extra: { user: { password: 'p', name: 'ada' }, list: [{ clientSecret: 'cs' }] },
      contexts: { db: { db_password: 'dbp', host: 'db' } },
      breadcrumbs: [{ category: 'console', data: { arguments: [{ accessToken: 't' }] } }],
    };
    const out = scrub(event);
    expect(out).toEqual({
      message: 'redacts inside messages too: token=[Redacted]',
      request: {
        headers: {
          Authorization: '[Redacted]',
          'X-Api-Key': '[Redacted]',
          Cookie: '[Redacted]',
          Accept: 'text/html',
          PIN: '[Redacted]',
        },
        cookies: '[Redacted]',
      },
      extra: { user: { password: '[Redacted]', name: 'ada' }, list: [{ clientSecret: '[Redacted]' }] },
      contexts: { db: { db_password: '[Redacted]', host: 'db' } },
      breadcrumbs: [{ category: 'console', data: { arguments: [{ accessToken: '[Redacted]' }] } }],
    });
    expect(event.request.headers.Authorization).toBe('Bearer a'); // the original is not mutated
  });

  it('scrubs query strings and URLs wherever they are (request, breadcrumbs, spans, referer)', () => {
    const out = scrub({
      request: {
        url: 'https://shop.example/login?user=ada&token=abc&pin=1&page=2#access_token=frag',
        query_string: 'token=abc&page=2',
        headers: { Referer: 'https://a.example/?api_key=k1&x=1' },
      },
      breadcrumbs: [
        { category: 'http', data: { url: 'http://svc/x?client_secret=s&q=1', 'http.query': '?password=p&q=1' } },
        { category: 'fetch', data: { url: 'http://svc/no-query' } },
      ],
      spans: [{ data: { 'url.full': 'http://svc/?id_token=i', 'url.query': 'refresh_token=r' } }],
      extra: {
        query_string: [
          ['token', 'abc'],
          ['page', '2'],
        ],
      },
    }) as Record<string, unknown>;
    expect(out).toEqual({
      request: {
        url: 'https://shop.example/login?user=ada&token=[Redacted]&pin=[Redacted]&page=2#access_token=[Redacted]',
        query_string: 'token=[Redacted]&page=2',
        headers: { Referer: 'https://a.example/?api_key=[Redacted]&x=1' },
      },
      breadcrumbs: [
        {
          category: 'http',
          data: { url: 'http://svc/x?client_secret=[Redacted]&q=1', 'http.query': '?password=[Redacted]&q=1' },
        },
        { category: 'fetch', data: { url: 'http://svc/no-query' } },
      ],
      spans: [{ data: { 'url.full': 'http://svc/?id_token=[Redacted]', 'url.query': 'refresh_token=[Redacted]' } }],
      extra: {
        query_string: [
          ['token', '[Redacted]'],
          ['page', '2'],
        ],
      },
    });
  });

  it('redacts request bodies as JSON or forms, and replaces a body it cannot read', () => {
    const body = (data: unknown) => (scrub({ request: { data } }) as { request: { data: unknown } }).request.data;
    expect(body('{"amount":13,"password":"p","nested":{"pin":1}}')).toBe(
      '{"amount":13,"password":"[Redacted]","nested":{"pin":"[Redacted]"}}',
    );
    expect(body('user=ada&password=p%20q&x=')).toBe('user=ada&password=[Redacted]&x=');
    expect(body({ secret: 's', ok: 1 })).toEqual({ secret: '[Redacted]', ok: 1 });
    expect(body('{"password":"truncated...')).toBe('[Redacted]');
    expect(body('free text with a password in it')).toBe('[Redacted]');
    expect(body('42')).toBe('42');
    expect(body('')).toBe('');
  });
});

describe('--unhandled-rejections', () => {
  it('is Node default `throw` unless the command line or NODE_OPTIONS says otherwise', () => {
    expect(unhandledRejectionsMode([], undefined)).toBe('throw');
    expect(unhandledRejectionsMode(['--unhandled-rejections=warn'], undefined)).toBe('warn');
    expect(unhandledRejectionsMode(['--unhandled-rejections', 'strict'], undefined)).toBe('strict');
    expect(unhandledRejectionsMode([], '--max-old-space-size=100 --unhandled-rejections=none')).toBe('none');
    expect(unhandledRejectionsMode(['--unhandled-rejections=warn'], '--unhandled-rejections=strict')).toBe('strict');
  });
});
