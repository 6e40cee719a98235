// Cost of redacting secret shapes inside strings (OBS_REDACT_STRINGS) on the logging path: µs per
// line through the real @obs logger (pino, @obs options, a destination that drops the bytes), with
// string redaction on and off, for lines a service writes. Isolated: one process, no server, no
// telemetry. The machine may be shared: off and on are timed in turns and the fastest round counts.
// Run: pnpm --filter @obs/core build && pnpm --filter @obs/bench exec node src/redact-strings.mjs
import { createLogger, createTextRedaction } from '@obs/core';

const ITERATIONS = Number(process.env.ITERATIONS ?? 100_000);
const PASSES = 7;
const sink = { write() {} };
const logger = (redactStrings) =>
  createLogger({
    level: 'info',
    serviceName: 'bench',
    redactKeys: [],
    correlate: false,
    redactStrings,
    destination: sink,
  });

const stackError = new Error('connect ECONNREFUSED 127.0.0.1:5432');
const LINES = {
  'completion line (clean strings)': (log) =>
    log.info(
      {
        'http.request.method': 'GET',
        'http.route': '/api/v1/users/:id',
        'url.path': '/api/v1/users/42',
        'http.response.status_code': 200,
        duration_ms: 1.234,
      },
      'request completed',
    ),
  'message with ":" and "=" (scanned, nothing found)': (log) =>
    log.info({ user: 'ann' }, 'cache miss: users/42 (ttl=60)'),
  'message with a secret pair': (log) => log.warn('Login failed for {"email": "a@b.c", "password": "hunter2"}'),
  'error with a stack (~1 KiB)': (log) => log.error({ err: stackError }, 'query failed'),
};

/** µs per call of `fn()`, one timed round. */
function round(fn) {
  const start = process.hrtime.bigint();
  for (let i = 0; i < ITERATIONS; i++) fn();
  return Number(process.hrtime.bigint() - start) / 1000 / ITERATIONS;
}

/** The fastest of PASSES rounds of each function, timed in turns. */
function compare(...fns) {
  for (const fn of fns) for (let i = 0; i < 20_000; i++) fn(); // warm-up
  const best = fns.map(() => Number.POSITIVE_INFINITY);
  for (let p = 0; p < PASSES; p++) {
    for (const [i, fn] of fns.entries()) best[i] = Math.min(best[i], round(fn));
  }
  return best;
}

const on = logger(true);
const off = logger(false);
console.log(`node ${process.version}, ${ITERATIONS} lines per round, fastest of ${PASSES} rounds`);
console.log('| line | strings off (µs/line) | strings on (µs/line) | difference (µs) |');
console.log('|---|---|---|---|');
for (const [label, write] of Object.entries(LINES)) {
  const [a, b] = compare(
    () => write(off),
    () => write(on),
  );
  console.log(`| ${label} | ${a.toFixed(2)} | ${b.toFixed(2)} | ${(b - a >= 0 ? '+' : '') + (b - a).toFixed(2)} |`);
}

const { redactString } = createTextRedaction();
for (const [label, text] of [
  ['clean 17-character message', 'request completed'],
  ['60-character message with ":" and "="', 'cache miss: users/42 (ttl=60) while loading the profile page'],
  ['~1 KiB stack', stackError.stack],
]) {
  const [ns] = compare(() => redactString(text));
  console.log(`redactString, ${label}: ${(ns * 1000).toFixed(0)} ns`);
}
