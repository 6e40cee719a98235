// @obs benchmark runner. `pnpm --filter @obs/bench bench [--quick] [--collector-down] [--only=<regex>] [--startup]`
// Runs every variant one after another (server and load generator in separate processes), prints
// tables with ratios to the bare app of the same run, and saves raw JSON under results/.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const APPS = join(ROOT, 'apps');
const RESULTS = join(ROOT, 'results');
const NODE = process.execPath;
const args = process.argv.slice(2);
const QUICK = args.includes('--quick');
const COLLECTOR_DOWN = args.includes('--collector-down');
const ONLY = args.find((a) => a.startsWith('--only='))?.slice(7);
// --startup: only start-up, first response and /metrics render (no load variants)
const STARTUP_ONLY = args.includes('--startup');
// --rounds=N: run each framework's variants round-robin N times and report medians. On a shared or
// virtualised machine the same variant can differ by 2x between two runs minutes apart; medians of
// interleaved rounds keep the ratios within a run comparable.
const ROUNDS = Math.max(1, Number(args.find((a) => a.startsWith('--rounds='))?.slice(9) ?? 1));
// --variant='<name>|<app.mjs>|<obs|otel|none|sink>[|K=V,K=V]' (repeatable): load only these ad-hoc variants,
// interleaved, the first one the baseline of the ratios. For ablations: the same app with one piece
// switched off by an environment variable, e.g.
//   --variant='obs|express-obs.mjs|obs' --variant='no routes|express-obs.mjs|obs|BENCH_NO_ROUTES=1'
// (`sink`: no preload, but an OTLP sink at OTEL_EXPORTER_OTLP_ENDPOINT, for apps that export themselves)
const CUSTOM_SPECS = args.filter((a) => a.startsWith('--variant=')).map((a) => a.slice(10));
// --rate=N: the measured load at N requests/s instead of as fast as possible. Server CPU per request
// is then comparable between variants at the same load (at saturation, a slower server also pays
// more per socket write: the load generator has to be woken for each response; see docs/performance.md).
const RATE = args.find((a) => a.startsWith('--rate='))?.slice(7);
const CONNECTIONS = 32;
const WARMUP = QUICK ? 1 : 3;
const DURATION = QUICK ? 3 : 10;
const DOWN_DURATION = QUICK ? 10 : 60;
const STARTUP_RUNS = QUICK ? 3 : 10;
const OBS_PRELOAD = ['--import', '@obs/register'];
const OTEL_PRELOAD = ['--import', '@opentelemetry/auto-instrumentations-node/register'];
const MiB = 1024 * 1024;
/** A TCP port free on 127.0.0.1 right now (the machine may run other servers: never guess one). */
async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

mkdirSync(join(RESULTS, 'logs'), { recursive: true });
const stamp = new Date().toISOString().replace(/[:.]/g, '-');

/** The parent's environment without any OTEL_/OBS_ variable, so each variant gets exactly its own. */
function baseEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(OTEL_|OBS_|NODE_OPTIONS)/.test(k)) env[k] = v;
  return { ...env, ...extra };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** CPU seconds (user + system) the process has used, from /proc/<pid>/stat. */
function cpuSeconds(pid) {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return Number.NaN;
  }
}

function readStatus(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)?.[1] ?? 0) * 1024;
    return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
  } catch {
    return { rss: 0, hwm: 0 };
  }
}

/** Loopback OTLP endpoint in its own process; mode 'ok' (200) or 'hang' (never answers). */
async function startSink(mode) {
  const child = spawn(NODE, [join(APPS, 'sink.mjs')], {
    env: baseEnv({ MODE: mode }),
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  while (!out.includes('\n')) await sleep(20);
  const { port } = JSON.parse(out.split('\n')[0]);
  return {
    url: `http://127.0.0.1:${port}`,
    async stop() {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
      const last = out.trim().split('\n').at(-1);
      return last.includes('counts') ? JSON.parse(last) : {};
    },
  };
}

async function waitReady(url, child, timeoutMs = 30_000) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode} before listening`);
    try {
      const r = await fetch(url);
      await r.arrayBuffer();
      if (r.ok) return;
    } catch {}
    await sleep(50);
  }
  throw new Error(`server not ready at ${url}`);
}

async function startServer(v, port) {
  const logFile = join(RESULTS, 'logs', `${stamp}-${v.name.replace(/[^a-z0-9]+/gi, '_')}.log`);
  const out = openSync(logFile, 'w');
  const child = spawn(NODE, [...(v.flags ?? []), join(APPS, v.app)], {
    cwd: ROOT,
    env: baseEnv({ PORT: String(port), ...v.env }),
    stdio: ['ignore', out, out],
  });
  await waitReady(`http://127.0.0.1:${port}/users/1`, child);
  return { child, logFile };
}

async function stopServer(child) {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 3000); // the OTel preload ignores SIGTERM
  await exited;
  clearTimeout(t);
}

function runLoad(url, warmup, seconds) {
  return new Promise((resolve, reject) => {
    const child = spawn(
      NODE,
      [
        join(ROOT, 'src', 'load.mjs'),
        url,
        String(CONNECTIONS),
        String(warmup),
        String(seconds),
        ...(RATE ? [RATE] : []),
      ],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.on('exit', (code) =>
      code === 0 ? resolve(JSON.parse(out.trim())) : reject(new Error(`load exited ${code}`)),
    );
  });
}

/** One variant: optional sink, server, warm-up + measured load, RSS sampled every 250 ms. */
async function measure(v, { seconds = DURATION, sinkMode = 'ok', endpoint } = {}) {
  const sink = v.otlp && sinkMode !== 'refuse' ? await startSink(sinkMode) : undefined;
  const port = await freePort();
  const otlpUrl = endpoint ?? sink?.url ?? `http://127.0.0.1:${await freePort()}`; // 'refuse': nothing listens
  const env = { ...v.env };
  if (v.otlp) env.OTEL_EXPORTER_OTLP_ENDPOINT = otlpUrl;
  if (v.promPort) env.OTEL_EXPORTER_PROMETHEUS_PORT = String(await freePort());
  const { child, logFile } = await startServer({ ...v, env }, port);
  const samples = [];
  let sampling = false;
  const timer = setInterval(() => {
    if (sampling) samples.push({ t: Date.now(), rss: readStatus(child.pid).rss });
  }, 250);
  const startRss = readStatus(child.pid).rss;
  // Warm-up and measurement run in the load process back to back; sample RSS through both.
  sampling = true;
  const loadP = runLoad(`http://127.0.0.1:${port}/users/42`, WARMUP, seconds);
  const afterWarm = sleep(WARMUP * 1000).then(() => ({ rss: readStatus(child.pid).rss, cpu: cpuSeconds(child.pid) }));
  const load = await loadP;
  const endCpu = cpuSeconds(child.pid);
  const warm = await afterWarm;
  const warmRss = warm.rss;
  const endStatus = readStatus(child.pid);
  clearInterval(timer);
  await stopServer(child);
  const received = sink ? await sink.stop() : undefined;
  let logLines = 0;
  try {
    logLines = readFileSync(logFile, 'utf8').split('\n').length - 1;
  } catch {}
  return {
    name: v.name,
    framework: v.framework,
    ...load,
    startRssMiB: startRss / MiB,
    warmRssMiB: warmRss / MiB,
    endRssMiB: endStatus.rss / MiB,
    peakRssMiB: endStatus.hwm / MiB,
    // Server CPU per measured request (approximate: the warm-up boundary is taken by the clock).
    cpuUsPerReq: ((endCpu - warm.cpu) / load.total) * 1e6,
    serverCpuShare: (endCpu - warm.cpu) / seconds,
    loadavg1: loadavg()[0],
    // RSS every ~5 s from the start of the warm-up, to tell a plateau from a leak.
    rssCurveMiB: samples.filter((_, i) => i % 20 === 0).map((x) => Math.round(x.rss / MiB)),
    halfRssMiB: (samples[Math.floor(samples.length / 2)]?.rss ?? 0) / MiB,
    logLines,
    otlpRequests: received?.counts,
    otlpBytes: received?.bytes,
  };
}

const OBS_ENV = {
  OTEL_SERVICE_NAME: 'bench',
  OTEL_TRACES_EXPORTER: 'otlp',
  OTEL_TRACES_SAMPLER: 'parentbased_always_on',
  OTEL_METRICS_EXPORTER: 'prometheus',
  OTEL_LOGS_EXPORTER: 'none',
};
const OBS_10_ENV = { ...OBS_ENV, OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1' };
const OTEL_ENV = {
  OTEL_SERVICE_NAME: 'bench',
  OTEL_TRACES_EXPORTER: 'otlp',
  OTEL_METRICS_EXPORTER: 'prometheus',
  OTEL_LOGS_EXPORTER: 'none',
  OTEL_NODE_RESOURCE_DETECTORS: 'env,host,os,process',
};

function customVariant(spec) {
  const [name, app, preload = 'none', vars = ''] = spec.split('|');
  const base = { obs: OBS_ENV, otel: OTEL_ENV, none: {}, sink: {} }[preload];
  if (!name || !app || !base)
    throw new Error(`--variant='<name>|<app.mjs>|<obs|otel|none|sink>[|K=V,...]', got ${spec}`);
  const env = { ...base };
  // K=V pairs separated by commas; a comma not followed by `NAME=` belongs to the value (a=x,y,B=z)
  for (const kv of vars.split(/,(?=[A-Za-z_][A-Za-z0-9_]*=)/).filter(Boolean)) {
    const i = kv.indexOf('=');
    env[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return {
    name,
    framework: 'custom',
    app,
    flags: { obs: OBS_PRELOAD, otel: OTEL_PRELOAD, none: [], sink: [] }[preload],
    env,
    otlp: preload !== 'none',
    promPort: preload === 'otel',
  };
}

const CUSTOM = CUSTOM_SPECS.map(customVariant);

function variants(fw) {
  if (fw === 'custom') return CUSTOM.map((v, i) => ({ ...v, bare: i === 0 }));
  if (CUSTOM.length > 0) return [];
  const list = [
    { name: `${fw} bare`, framework: fw, app: `${fw}-bare.mjs`, bare: true },
    { name: `${fw} @obs 100%`, framework: fw, app: `${fw}-obs.mjs`, flags: OBS_PRELOAD, env: OBS_ENV, otlp: true },
    { name: `${fw} @obs 10%`, framework: fw, app: `${fw}-obs.mjs`, flags: OBS_PRELOAD, env: OBS_10_ENV, otlp: true },
    {
      name: `${fw} OTel zero-code`,
      framework: fw,
      app: `${fw}-bare.mjs`,
      flags: OTEL_PRELOAD,
      env: OTEL_ENV,
      otlp: true,
      promPort: true,
    },
  ];
  if (fw === 'express') list.push({ name: 'express prom-bundle+pino-http', framework: fw, app: 'express-prom.mjs' });
  return list;
}

const fmt = (n, d = 0) => (n === undefined || Number.isNaN(n) ? '-' : n.toFixed(d));
const pct = (n) => (n === undefined ? '-' : `${(n * 100).toFixed(0)}%`);
function table(headers, rows) {
  const w = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) => `| ${cells.map((c, i) => String(c).padEnd(w[i])).join(' | ')} |`;
  return [line(headers), `|${w.map((x) => '-'.repeat(x + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

function machine() {
  return {
    cpu: cpus()[0]?.model,
    cores: cpus().length,
    memGiB: +(totalmem() / 1024 ** 3).toFixed(1),
    node: process.version,
    kernel: readFileSync('/proc/version', 'utf8').split(' ')[2],
  };
}

/** The median run of a variant by req/s, with every round's req/s and CPU µs/req kept. */
function medianRun(runs) {
  const sorted = [...runs].sort((a, b) => a.rps - b.rps);
  const mid = sorted[Math.floor(sorted.length / 2)];
  const cpu = runs.map((r) => r.cpuUsPerReq).sort((a, b) => a - b);
  return {
    ...mid,
    cpuUsPerReq: cpu[Math.floor(cpu.length / 2)],
    peakRssMiB: Math.max(...runs.map((r) => r.peakRssMiB)),
    rounds: runs.map((r) => ({ rps: r.rps, cpuUsPerReq: r.cpuUsPerReq, peakRssMiB: r.peakRssMiB })),
  };
}

async function loadSuite() {
  const results = [];
  for (const fw of ['express', 'fastify', 'koa', 'nestjs', 'custom']) {
    const selected = variants(fw).filter((v) => !STARTUP_ONLY && (!ONLY || new RegExp(ONLY).test(v.name)));
    const runs = selected.map(() => []);
    for (let round = 0; round < ROUNDS; round++) {
      for (const [i, v] of selected.entries()) {
        process.stderr.write(`load${ROUNDS > 1 ? ` (round ${round + 1}/${ROUNDS})` : ''}: ${v.name} ...`);
        const r = await measure(v);
        process.stderr.write(` ${fmt(r.rps)} req/s, ${fmt(r.cpuUsPerReq)} µs/req, peak ${fmt(r.peakRssMiB)} MiB\n`);
        runs[i].push(r);
      }
    }
    let bare;
    for (const [i, v] of selected.entries()) {
      const r = medianRun(runs[i]);
      if (v.bare) bare = r;
      r.rpsRatio = bare ? r.rps / bare.rps : undefined;
      r.rssRatio = bare ? r.peakRssMiB / bare.peakRssMiB : undefined;
      r.cpuRatio = bare ? r.cpuUsPerReq / bare.cpuUsPerReq : undefined;
      results.push(r);
    }
  }
  return results;
}

function startupSuite() {
  const cases = [
    { name: 'bare node', flags: [] },
    { name: 'node --import @obs/register', flags: OBS_PRELOAD, env: { OTEL_SERVICE_NAME: 'bench' } },
    // A container's first start: nothing in Node's compile cache yet (@obs/register turns the cache on).
    {
      name: 'node --import @obs/register (empty compile cache)',
      flags: OBS_PRELOAD,
      env: { OTEL_SERVICE_NAME: 'bench', NODE_DISABLE_COMPILE_CACHE: '1' },
    },
    // Default detectors include the cloud ones, which wait for metadata endpoints offline (8.5 s here):
    // use the same local detectors as the load runs.
    { name: 'node --import OTel auto-instrumentations', flags: OTEL_PRELOAD, env: OTEL_ENV },
  ];
  const runs = cases.map(() => []);
  for (let i = 0; i < STARTUP_RUNS + 1; i++) {
    cases.forEach((c, j) => {
      const t0 = process.hrtime.bigint();
      const r = spawnSync('/usr/bin/time', ['-f', 'MAXRSS_KB=%M', NODE, ...c.flags, join(APPS, 'empty.mjs')], {
        cwd: ROOT,
        env: baseEnv(c.env),
        encoding: 'utf8',
        timeout: 30_000,
      });
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      const kb = Number(/MAXRSS_KB=(\d+)/.exec(r.stderr)?.[1] ?? Number.NaN);
      if (i > 0) runs[j].push({ ms, rssMiB: kb / 1024, status: r.status }); // first round warms the disk cache
    });
  }
  const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return cases.map((c, j) => ({
    name: c.name,
    runs: runs[j].length,
    wallMs: median(runs[j].map((r) => r.ms)),
    maxRssMiB: median(runs[j].map((r) => r.rssMiB)),
    exitCodes: [...new Set(runs[j].map((r) => r.status))],
  }));
}

/**
 * Time from spawn to the first 200 from the Express app (bare app without a preload, the @obs app
 * under the preload, the bare app under the OTel preload): what a readiness probe waits for, including
 * whatever the preload leaves for later (the OTLP exporter is created at the first export, 5 s on).
 */
async function firstResponseSuite() {
  const cases = [
    { name: 'express bare', app: 'express-bare.mjs', flags: [] },
    { name: 'express @obs', app: 'express-obs.mjs', flags: OBS_PRELOAD, env: OBS_ENV },
    { name: 'express OTel zero-code', app: 'express-bare.mjs', flags: OTEL_PRELOAD, env: OTEL_ENV },
  ];
  const runs = cases.map(() => []);
  for (let i = 0; i < STARTUP_RUNS + 1; i++) {
    for (const [j, c] of cases.entries()) {
      const port = await freePort();
      const t0 = performance.now();
      const child = spawn(NODE, [...c.flags, join(APPS, c.app)], {
        cwd: ROOT,
        env: baseEnv({
          PORT: String(port),
          OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${await freePort()}`,
          ...c.env,
        }),
        stdio: 'ignore',
      });
      for (;;) {
        try {
          const r = await fetch(`http://127.0.0.1:${port}/users/1`);
          await r.arrayBuffer();
          if (r.ok) break;
        } catch {}
        if (child.exitCode !== null || performance.now() - t0 > 30_000) break;
        await sleep(5);
      }
      const ms = performance.now() - t0;
      const { rss } = readStatus(child.pid);
      await stopServer(child);
      if (i > 0) runs[j].push({ ms, rssMiB: rss / MiB });
    }
  }
  const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return cases.map((c, j) => ({
    name: c.name,
    runs: runs[j].length,
    firstResponseMs: median(runs[j].map((r) => r.ms)),
    rssMiB: median(runs[j].map((r) => r.rssMiB)),
  }));
}

function metricsSuite() {
  const r = spawnSync(NODE, [...OBS_PRELOAD, join(APPS, 'metrics-render.mjs')], {
    cwd: ROOT,
    env: baseEnv({ OTEL_SERVICE_NAME: 'bench', OTEL_TRACES_EXPORTER: 'none' }),
    encoding: 'utf8',
    timeout: 120_000,
  });
  const line = r.stdout.trim().split('\n').at(-1);
  try {
    return JSON.parse(line);
  } catch {
    return { error: `${r.stdout}\n${r.stderr}` };
  }
}

async function collectorDownSuite() {
  const out = [];
  for (const fw of ['express', 'fastify']) {
    const v = variants(fw)[1]; // @obs, all pillars, 100% sampling
    if (ONLY && !new RegExp(ONLY).test(v.name)) continue;
    for (const mode of ['ok', 'refuse', 'hang']) {
      process.stderr.write(`collector ${mode}: ${v.name} (${DOWN_DURATION} s) ...`);
      const r = await measure(v, { seconds: DOWN_DURATION, sinkMode: mode });
      r.collector = mode;
      process.stderr.write(` ${fmt(r.rps)} req/s, RSS ${fmt(r.warmRssMiB)} -> ${fmt(r.endRssMiB)} MiB\n`);
      out.push(r);
    }
  }
  return out;
}

const report = { machine: machine(), quick: QUICK, date: new Date().toISOString(), connections: CONNECTIONS };
const print = (s) => process.stdout.write(`${s}\n`);
if (COLLECTOR_DOWN) {
  report.collectorDown = await collectorDownSuite();
  const up = Object.fromEntries(report.collectorDown.filter((r) => r.collector === 'ok').map((r) => [r.framework, r]));
  print(`\nCollector down (@obs 100% sampling, ${DOWN_DURATION} s after ${WARMUP} s warm-up, -c ${CONNECTIONS})`);
  print(
    table(
      [
        'variant',
        'collector',
        'req/s',
        'vs up',
        'RSS after warm-up MiB',
        'RSS half-way MiB',
        'RSS end MiB',
        'growth MiB',
        'peak MiB',
      ],
      report.collectorDown.map((r) => [
        r.name,
        r.collector,
        fmt(r.rps),
        pct(r.rps / up[r.framework].rps),
        fmt(r.warmRssMiB),
        fmt(r.halfRssMiB),
        fmt(r.endRssMiB),
        fmt(r.endRssMiB - r.warmRssMiB),
        fmt(r.peakRssMiB),
      ]),
    ),
  );
} else {
  report.load = await loadSuite();
  print(
    `\nLoad (autocannon -c ${CONNECTIONS}${RATE ? `, ${RATE} req/s` : ''}, ${DURATION} s after ${WARMUP} s warm-up, GET /users/:id` +
      `${ROUNDS > 1 ? `; median of ${ROUNDS} interleaved rounds, peak RSS the highest` : ''})`,
  );
  print(
    table(
      [
        'variant',
        'req/s',
        'vs bare',
        'p50 ms',
        'p99 ms',
        'peak RSS MiB',
        'RSS vs bare',
        'server CPU µs/req',
        'CPU vs bare',
        'errors',
        'log lines',
        'OTLP posts',
      ],
      report.load.map((r) => [
        r.name,
        fmt(r.rps),
        pct(r.rpsRatio),
        fmt(r.p50, 1),
        fmt(r.p99, 1),
        fmt(r.peakRssMiB),
        r.rssRatio === undefined ? '-' : `${r.rssRatio.toFixed(2)}x`,
        fmt(r.cpuUsPerReq),
        r.cpuRatio === undefined ? '-' : `${r.cpuRatio.toFixed(2)}x`,
        r.errors + r.non2xx,
        r.logLines,
        r.otlpRequests ? Object.values(r.otlpRequests).reduce((a, b) => a + b, 0) : '-',
      ]),
    ),
  );
  if (!ONLY && CUSTOM.length === 0) {
    process.stderr.write('start-up ...\n');
    report.startup = startupSuite();
    const b = report.startup[0];
    print(`\nStart-up of an empty script (median of ${STARTUP_RUNS})`);
    print(
      table(
        ['command', 'wall ms', 'vs bare', 'max RSS MiB', 'vs bare', 'exit'],
        report.startup.map((r) => [
          r.name,
          fmt(r.wallMs),
          `+${fmt(r.wallMs - b.wallMs)} ms`,
          fmt(r.maxRssMiB, 1),
          `+${fmt(r.maxRssMiB - b.maxRssMiB, 1)} MiB`,
          r.exitCodes.join(','),
        ]),
      ),
    );
    process.stderr.write('first response ...\n');
    report.firstResponse = await firstResponseSuite();
    const fb = report.firstResponse[0];
    print(`\nSpawn to first 200 response, Express app (median of ${STARTUP_RUNS}, polled every 5 ms)`);
    print(
      table(
        ['app', 'ms', 'vs bare', 'RSS MiB then', 'vs bare'],
        report.firstResponse.map((r) => [
          r.name,
          fmt(r.firstResponseMs),
          `+${fmt(r.firstResponseMs - fb.firstResponseMs)} ms`,
          fmt(r.rssMiB, 1),
          `+${fmt(r.rssMiB - fb.rssMiB, 1)} MiB`,
        ]),
      ),
    );
    process.stderr.write('/metrics render ...\n');
    report.metrics = metricsSuite();
    const m = report.metrics;
    print(
      `\n/metrics render with ${m.series} series (${fmt((m.bytes ?? 0) / 1024)} KiB): first ${fmt(m.firstMs, 1)} ms, ` +
        `median ${fmt(m.p50Ms, 1)} ms, max ${fmt(m.maxMs, 1)} ms`,
    );
  }
}
const file = join(RESULTS, `${stamp}${QUICK ? '-quick' : ''}${COLLECTOR_DOWN ? '-collector-down' : ''}.json`);
writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
print(`\nmachine: ${JSON.stringify(report.machine)}\nraw results: ${file}`);
