/**
 * The @obs demo (`pnpm demo`). No outside services: it starts `obs dev`'s viewer (@obs/viewer: an
 * OTLP/HTTP receiver, an embedded store and a web UI) in this process, runs the Express reference
 * service against it as a child process, exactly like its `start` script
 * (`node --import @obs/register src/server.js`), sends it real traffic, and prints what @obs
 * produced: JSON log lines on stdout, the Prometheus scrape, the traces and log records that reached
 * the receiver, and the health probes. Then it stops the service with SIGTERM and checks that the
 * spans flushed at shutdown arrived.
 *
 * Run in a terminal (stdout a TTY, no CI variable), it then keeps the viewer up, with everything the
 * service sent, until Ctrl-C; otherwise it exits: 0 when everything checked out, 1 otherwise.
 *
 * Needs the packages built: `pnpm -r --filter './packages/*' run build`.
 */
import { randomBytes } from 'node:crypto';
import { subscribe } from 'node:diagnostics_channel';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';

const VALID_PASSWORD = 'correct horse battery staple';
const WRONG_PASSWORD = 'Tr0ub4dor&3';

const started = Date.now();
/** Problems found by the checks; any of them makes the exit code 1. */
const problems = [];
/** @type {import('@obs/testkit').Service | undefined} */
let service;
/**
 * Every child process this demo spawns (only the service), from the moment it is created: startService
 * hands the Service back only once it is ready, and an interrupt before that must still kill the child.
 * @type {Set<import('node:child_process').ChildProcess>}
 */
const children = new Set();
subscribe('child_process', ({ process: child }) => children.add(child));
/** @type {import('@obs/viewer').Viewer | undefined} */
let viewer;
/** What reached the viewer's OTLP receiver, decoded, in arrival order. */
const receiver = {
  /** @type {import('@obs/testkit').ReceivedSpan[]} */
  spans: [],
  /** @type {import('@obs/testkit').ReceivedLog[]} */
  logs: [],
};
/** Interactive: a person at a terminal, who gets the viewer kept up after the checks. */
const interactive = Boolean(process.stdout.isTTY) && !process.env.CI;

/** Polls `fn` until it is truthy; rejects after `timeoutMs`. */
async function waitFor(fn, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Starts the viewer: on the standard ports (4318, 4319) when run interactively and they are free,
 * else on free ports.
 */
async function startDemoViewer(startViewer) {
  const options = {
    onExport: (data) => {
      if (data.signal === 'traces') receiver.spans.push(...data.spans);
      if (data.signal === 'logs') receiver.logs.push(...data.logs);
    },
  };
  if (interactive) {
    try {
      return await startViewer(options);
    } catch (err) {
      if (err.code !== 'EADDRINUSE') throw err;
    }
  }
  return startViewer({ ...options, otlpPort: 0, uiPort: 0 });
}

/** Print a section heading. */
function heading(title) {
  console.log(`\n== ${title} ${'='.repeat(Math.max(3, 76 - title.length))}`);
}

/** Record a check: print it, remember it when it failed. */
function check(ok, label, detail = '') {
  console.log(`  ${ok ? 'ok  ' : 'FAIL'} ${label}${detail ? `: ${detail}` : ''}`);
  if (!ok) problems.push(label);
}

/** A random W3C `traceparent` (sampled), with its ids. */
function newTraceparent() {
  const traceId = randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  return { traceId, spanId, header: `00-${traceId}-${spanId}-01` };
}

/** The traffic to send: [method, path, expected status, label, fetch init]. */
function traffic(traceparent) {
  const json = (body) => ({ headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const login = (password) => json({ email: 'ada@example.com', password });
  const traced = { headers: { traceparent: traceparent.header, 'x-request-id': 'demo-req-0001' } };
  const malformed = { headers: { 'content-type': 'application/json' }, body: '{"amount": 4' };
  return [
    ['GET', '/api/v1/users/1', 200, 'user, with traceparent and X-Request-Id', traced],
    ['GET', '/api/v1/users/2', 200, 'user'],
    ['GET', '/api/v1/users/3', 200, 'user'],
    ['POST', '/api/v1/auth/login', 401, 'login, wrong password', login(WRONG_PASSWORD)],
    ['POST', '/api/v1/auth/login', 200, 'login', login(VALID_PASSWORD)],
    ['GET', '/api/v1/users/5000', 404, 'unknown user'],
    ['GET', '/api/v1/nowhere', 404, 'unknown path'],
    ['POST', '/api/v1/orders', 201, 'order', json({ amount: 42 })],
    ['POST', '/api/v1/orders', 500, 'order, payment declined', json({ amount: 13 })],
    ['GET', '/api/v1/boom', 500, 'handler throws'],
    ['POST', '/api/v1/orders', 400, 'malformed JSON body', malformed],
    ['GET', '/api/v1/slow?ms=150', 200, 'slow'],
  ];
}

/** JSON.stringify that copes with the receiver's bigint timestamps. */
function stringify(value) {
  return JSON.stringify(value, (_key, v) => (typeof v === 'bigint' ? v.toString() : v));
}

/** One log line, compact: level, message, the interesting fields, request and trace ids. */
function compact(line) {
  const fields =
    line.msg === 'request completed'
      ? `${line['http.request.method']} ${line['url.path']} -> ${line['http.response.status_code']} (${line.duration_ms} ms, route ${line['http.route'] ?? '-'})`
      : line.err
        ? `err: ${line.err.message}`
        : line.email !== undefined
          ? `email=${line.email}`
          : '';
  return `  ${line.level.padEnd(5)} ${line.msg.padEnd(18)} ${fields}\n        request_id=${line.request_id} trace_id=${line.trace_id}`;
}

async function main() {
  const testkit = await import('@obs/testkit').catch((err) => {
    throw new Error(
      `cannot load @obs/testkit (${err.message}); build first: pnpm -r --filter './packages/*' run build`,
    );
  });
  const { freePort, spanTree, startService } = testkit;
  const { startViewer } = await import('@obs/viewer');
  const expressDir = dirname(createRequire(import.meta.url).resolve('@obs/example-express/package.json'));

  heading('Start');
  viewer = await startDemoViewer(startViewer);
  console.log(`  OTLP receiver   ${viewer.otlpUrl}   (obs dev's viewer, loopback only)`);
  console.log(`  viewer          ${viewer.uiUrl}`);
  const port = await freePort();
  const spawned = Date.now();
  // Spawns `node --import @obs/register src/server.js` and waits for GET /health/ready to answer 200;
  // throws (with the service's stderr) when the service exits first or is not ready in time.
  service = await startService({
    cwd: expressDir,
    entry: 'src/server.js',
    port,
    readyTimeoutMs: 10_000,
    env: {
      OTEL_SERVICE_NAME: 'demo-express',
      OTEL_EXPORTER_OTLP_ENDPOINT: viewer.otlpUrl,
      OTEL_BSP_SCHEDULE_DELAY: '200',
      OTEL_LOGS_EXPORTER: 'otlp',
      // Also push metrics, so the viewer charts the routes (the /metrics route stays as it is).
      OTEL_METRICS_EXPORTER: 'otlp',
      OTEL_METRIC_EXPORT_INTERVAL: '1000',
    },
  });
  const readyMs = Date.now() - spawned;
  console.log(`  service         node --import @obs/register src/server.js  (pid ${service.child.pid}, port ${port})`);
  console.log(`  ready after     ${readyMs} ms`);

  heading('Traffic');
  const traceparent = newTraceparent();
  const requests = traffic(traceparent);
  let token;
  let echoedRequestId;
  for (const [method, path, expected, label, init = {}] of requests) {
    const res = await fetch(service.baseUrl + path, { method, ...init, signal: AbortSignal.timeout(5000) });
    const body = await res.json().catch(() => undefined);
    if (body?.token) token = body.token;
    if (init.headers?.['x-request-id']) echoedRequestId = res.headers.get('x-request-id');
    const mark = res.status === expected ? '   ' : ` !! expected ${expected}`;
    console.log(`  ${res.status}${mark} ${method.padEnd(4)} ${path.padEnd(24)} ${label}`);
    if (res.status !== expected) problems.push(`${method} ${path} answered ${res.status}, expected ${expected}`);
  }

  heading('Health');
  for (const path of ['/health/live', '/health/ready', '/health/started']) {
    const res = await fetch(service.baseUrl + path);
    console.log(`  GET ${path.padEnd(15)} ${res.status} ${await res.text()}`);
  }

  heading('/metrics, http_route="/api/v1/users/:id"');
  const scrape = await (await fetch(`${service.baseUrl}/metrics`)).text();
  const routeLines = scrape
    .split('\n')
    .filter((l) => l.startsWith('http_server_request_duration_') && l.includes('http_route="/api/v1/users/:id"'));
  for (const line of routeLines.filter((l) => !l.includes('_bucket{'))) console.log(`  ${line}`);
  const buckets = routeLines.filter((l) => l.includes('_bucket{'));
  console.log(`  (+ ${buckets.length} _bucket lines, e.g.)\n  ${buckets[0] ?? '(none)'}`);
  const orders = scrape.split('\n').find((l) => l.startsWith('shop_orders_created_total'));
  console.log(`  app metric: ${orders ?? '(shop_orders_created_total missing)'}`);
  check(routeLines.length > 0, 'http.server.request.duration has the route template');

  heading('Shutdown');
  // A request whose span is still queued (OTEL_BSP_SCHEDULE_DELAY=200) when SIGTERM arrives.
  const last = newTraceparent();
  const lastRes = await fetch(`${service.baseUrl}/api/v1/users/7`, {
    headers: { traceparent: last.header },
    signal: AbortSignal.timeout(5000),
  });
  console.log(`  ${lastRes.status}    GET  /api/v1/users/7          sent right before SIGTERM`);
  if (lastRes.status !== 200) problems.push(`GET /api/v1/users/7 answered ${lastRes.status}, expected 200`);
  const before = { spans: receiver.spans.length, logs: receiver.logs.length };
  // Resolves once the child has closed its stdout and stderr, so the output below is complete.
  const exit = await service.stop('SIGTERM', 10_000);
  console.log(
    `  SIGTERM -> exited in ${Math.round(exit.elapsedMs)} ms (${exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`})`,
  );
  check(exit.signal === 'SIGTERM' || exit.code === 0, 'the service ended cleanly on SIGTERM');
  // The exporters' last requests complete before the child exits; the wait only covers a slow receiver.
  const expectedServerSpans = requests.length + 1;
  const serverSpans = () => receiver.spans.filter((s) => s.kind === 2);
  await waitFor(() => serverSpans().length >= expectedServerSpans, 3000).catch(() => {});
  console.log(`  spans:       ${before.spans} received before SIGTERM, ${receiver.spans.length} after exit`);
  console.log(`  log records: ${before.logs} received before SIGTERM, ${receiver.logs.length} after exit`);
  check(
    receiver.spans.some((s) => s.traceId === last.traceId),
    'the span still queued at SIGTERM arrived',
  );
  check(
    serverSpans().length === expectedServerSpans,
    'one server span per request',
    `${serverSpans().length}/${expectedServerSpans}`,
  );

  heading('Log lines (service stdout, JSON)');
  const lines = service
    .stdout()
    .split('\n')
    .flatMap((l) => {
      try {
        return [JSON.parse(l)];
      } catch {
        return [];
      }
    });
  const shown = lines.filter((l) => /^(Login |request (completed|failed)$|Failed to)/.test(l.msg));
  console.log('  two lines as written:');
  for (const line of lines.filter((l) => l.msg === 'Login successful' || l.request_id === 'demo-req-0001')) {
    console.log(`  ${JSON.stringify(line)}`);
  }
  console.log(`  ${shown.length} of ${lines.length} lines, compact:`);
  for (const line of shown) console.log(compact(line));

  heading(`Traces received over OTLP (${receiver.spans.length} spans)`);
  console.log(spanTree(receiver.spans).replace(/^/gm, '  '));

  heading('Log records received over OTLP');
  const correlated = receiver.logs.filter((l) => l.traceId).length;
  console.log(`  ${receiver.logs.length} log records, ${correlated} of them with a trace id`);
  check(
    receiver.logs.length === lines.length,
    'every stdout line also arrived over OTLP',
    `${receiver.logs.length}/${lines.length}`,
  );

  heading('Checks');
  const traced = receiver.spans.find((s) => s.traceId === traceparent.traceId);
  check(
    traced?.parentSpanId === traceparent.spanId,
    'incoming traceparent continued',
    traced ? traced.name : 'no span',
  );
  check(echoedRequestId === 'demo-req-0001', 'X-Request-Id echoed', String(echoedRequestId));
  check(
    lines.some((l) => l.request_id === 'demo-req-0001' && l.trace_id === traceparent.traceId),
    'log line carries the incoming request id and trace id',
  );
  check(Boolean(token), 'login issued a token');
  const haystack = [service.stdout(), service.stderr(), stringify(receiver.logs), stringify(receiver.spans)];
  const secrets = [VALID_PASSWORD, WRONG_PASSWORD, token].filter(Boolean);
  const leaked = secrets.filter((s) => haystack.some((h) => h.includes(s)));
  check(leaked.length === 0, 'secrets in logs', leaked.length === 0 ? 'none' : `${leaked.length} found`);
  const stderr = service.stderr().trim();
  if (stderr) console.log(`  service stderr:\n${stderr.replace(/^/gm, '    ')}`);

  heading('Viewer');
  console.log(`  traces, logs and metrics of this run: ${viewer.uiUrl}`);
  console.log(`  the declined order:                   ${viewer.uiUrl}#/traces?status=error`);
  console.log(`  the request with X-Request-Id:        ${viewer.uiUrl}#/traces?lookup=demo-req-0001`);
}

/** Kill the child if it is still running (every exit path, also while startService is still waiting). */
function killChild() {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}
process.on('exit', killChild);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    console.error(`\ndemo interrupted (${signal})`);
    killChild();
    process.exit(1);
  });
}

try {
  await main();
} catch (err) {
  // startService's errors already carry the service's stderr; later failures print it here.
  problems.push(err instanceof Error ? err.message : String(err));
  const stderr = service?.stderr().trim();
  if (stderr) console.error(`\nservice stderr:\n${stderr}`);
} finally {
  killChild();
}

if (problems.length > 0) {
  console.error(`\ndemo FAILED:\n${problems.map((p) => `  - ${p.trimEnd().replace(/\n/g, '\n    ')}`).join('\n')}`);
} else {
  console.log(`\ndemo ok in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
if (interactive && viewer) {
  console.log(`\nThe viewer stays up at ${viewer.uiUrl} (OTLP on ${viewer.otlpUrl}); Ctrl-C stops it.`);
  await new Promise((resolve) => {
    process.removeAllListeners('SIGINT');
    process.once('SIGINT', resolve);
  });
}
await viewer?.close();
process.exitCode = problems.length > 0 ? 1 : 0;
