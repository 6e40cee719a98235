// Where a request's CPU time goes: self time of a .cpuprofile grouped into components, in µs per
// request, side by side for several profiles (e.g. bare vs @obs vs OTel zero-code).
// Usage: node src/breakdown.mjs <file.cpuprofile>=<requests> [...]   (profile.mjs prints it for one)
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

/** Component of one sampled frame, by package (from the file path) or by Node/V8 category. */
function component(url, fn) {
  if (fn === '(garbage collector)') return 'V8 garbage collection';
  if (fn === '(idle)') return null; // waiting for I/O: not CPU time
  if (fn === '(program)' || fn === '(root)') return 'Node.js and V8 internals';
  if (/async_context_frame|async_local_storage|async_hooks/.test(url)) return 'context propagation';
  if (!url || url.startsWith('node:')) return 'Node.js HTTP, sockets and other built-ins';
  const m = /node_modules\/\.pnpm\/[^/]+\/node_modules\/((@[^/]+\/)?[^/]+)/.exec(url);
  const pkg = m ? m[1] : (/packages\/([^/]+)\//.exec(url)?.[1] ?? '');
  if (!m) return pkg === 'bench' ? 'framework and app' : '@obs (request observer, adapters, log formatting)';
  if (
    pkg === '@opentelemetry/instrumentation-pino' ||
    /^(pino|sonic-boom|pino-std-serializers|quick-format-unescaped|@pinojs\/redact|safe-stable-stringify|on-exit-leak-free|atomic-sleep)$/.test(
      pkg,
    )
  )
    return 'logging (pino)';
  if (pkg === '@opentelemetry/context-async-hooks') return 'context propagation';
  if (/^@opentelemetry\/(otlp-|exporter-)/.test(pkg)) return 'span export (OTLP serialisation)';
  if (pkg === '@opentelemetry/sdk-metrics') return 'metrics (sdk-metrics)';
  if (/^@opentelemetry\/instrumentation|^@fastify\/otel$|in-the-middle$|^shimmer$/.test(pkg))
    return 'OpenTelemetry instrumentations (http, framework)';
  if (pkg.startsWith('@opentelemetry/')) return 'spans (sdk-trace, core, api)';
  return 'framework and app';
}

const inputs = process.argv.slice(2).map((a) => {
  const i = a.lastIndexOf('=');
  return { file: a.slice(0, i), requests: Number(a.slice(i + 1)) };
});
const columns = inputs.map(({ file, requests }) => {
  const p = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(p.nodes.map((n) => [n.id, n.callFrame]));
  const sums = new Map();
  for (let i = 0; i < p.samples.length; i++) {
    const cf = byId.get(p.samples[i]);
    const c = component(cf.url, cf.functionName);
    if (c) sums.set(c, (sums.get(c) ?? 0) + (p.timeDeltas[i] ?? 0));
  }
  return { name: basename(file, '.cpuprofile'), perReq: new Map([...sums].map(([k, v]) => [k, v / requests])) };
});
const names = [...new Set(columns.flatMap((c) => [...c.perReq.keys()]))].sort(
  (a, b) => (columns.at(-1).perReq.get(b) ?? 0) - (columns.at(-1).perReq.get(a) ?? 0),
);
const total = (c) => [...c.perReq.values()].reduce((a, b) => a + b, 0);
const row = (cells) => `| ${cells.join(' | ')} |`;
console.log('CPU µs per request by component (profiler self time; the profiler itself adds some)');
console.log(row(['component', ...columns.map((c) => c.name)]));
console.log(row(['---', ...columns.map(() => '---:')]));
for (const n of names) console.log(row([n, ...columns.map((c) => (c.perReq.get(n) ?? 0).toFixed(1))]));
console.log(row(['**total**', ...columns.map((c) => `**${total(c).toFixed(1)}**`)]));
