// Run under --import @obs/register: 10 counters x 1,000 label values = 10,000 series, then time
// getObs().metrics.render() (collect + Prometheus text). Prints one JSON line.
import { getObs } from '@obs/core';

const obs = getObs();
const SERIES = Number(process.env.SERIES ?? 10000);
const PER = 1000;
for (let m = 0; m < SERIES / PER; m++) {
  const c = obs.metrics.counter(`bench.series.m${m}`, { labels: ['shard'] });
  for (let i = 0; i < PER; i++) c.add(1, { shard: `s${i}` });
}
const times = [];
let bytes = 0;
let lines = 0;
for (let i = 0; i < 25; i++) {
  const t0 = performance.now();
  const { body } = await obs.metrics.render();
  times.push(performance.now() - t0);
  bytes = body.length;
  lines = body.split('\n').filter((l) => l.startsWith('bench_series_')).length;
}
const warm = times.slice(5).sort((a, b) => a - b);
process.stdout.write(
  `${JSON.stringify({ series: lines, bytes, firstMs: times[0], p50Ms: warm[Math.floor(warm.length / 2)], maxMs: warm.at(-1) })}\n`,
);
process.exit(0);
