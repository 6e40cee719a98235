// Re-print the tables of a saved results/*.json (e.g. for docs/performance.md): node src/table.mjs <file>
import { readFileSync } from 'node:fs';

const r = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const fmt = (n, d = 0) => (n === undefined || n === null || Number.isNaN(n) ? '-' : n.toFixed(d));
const pct = (n) => (n === undefined || n === null ? '-' : `${(n * 100).toFixed(0)}%`);
const row = (cells) => `| ${cells.join(' | ')} |`;
if (r.load) {
  console.log(
    row([
      'variant',
      'req/s',
      'vs bare',
      'p50 ms',
      'p99 ms',
      'peak RSS MiB',
      'RSS vs bare',
      'server CPU µs/req',
      'CPU vs bare',
      'req/s per round',
      'load avg',
    ]),
  );
  console.log(row(Array(11).fill('---')));
  for (const x of r.load) {
    console.log(
      row([
        x.name,
        fmt(x.rps),
        pct(x.rpsRatio),
        fmt(x.p50),
        fmt(x.p99),
        fmt(x.peakRssMiB),
        x.rssRatio ? `${x.rssRatio.toFixed(2)}x` : '-',
        fmt(x.cpuUsPerReq),
        x.cpuRatio ? `${x.cpuRatio.toFixed(2)}x` : '-',
        x.rounds ? x.rounds.map((y) => fmt(y.rps)).join(', ') : '-',
        fmt(x.loadavg1, 1),
      ]),
    );
  }
}
if (r.startup) {
  console.log(row(['command', 'wall ms (median)', 'vs bare', 'max RSS MiB (median)', 'vs bare']));
  console.log(row(Array(5).fill('---')));
  const b = r.startup[0];
  for (const x of r.startup)
    console.log(
      row([
        x.name,
        fmt(x.wallMs),
        `+${fmt(x.wallMs - b.wallMs)}`,
        fmt(x.maxRssMiB, 1),
        `+${fmt(x.maxRssMiB - b.maxRssMiB, 1)}`,
      ]),
    );
}
if (r.firstResponse) {
  console.log(row(['app', 'spawn to first 200, ms (median)', 'vs bare', 'RSS then MiB', 'vs bare']));
  console.log(row(Array(5).fill('---')));
  const b = r.firstResponse[0];
  for (const x of r.firstResponse)
    console.log(
      row([
        x.name,
        fmt(x.firstResponseMs),
        `+${fmt(x.firstResponseMs - b.firstResponseMs)}`,
        fmt(x.rssMiB, 1),
        `+${fmt(x.rssMiB - b.rssMiB, 1)}`,
      ]),
    );
}
if (r.metrics) console.log(JSON.stringify(r.metrics));
if (r.collectorDown) {
  const up = Object.fromEntries(r.collectorDown.filter((x) => x.collector === 'ok').map((x) => [x.framework, x]));
  console.log(
    row([
      'variant',
      'collector',
      'req/s',
      'vs up',
      'RSS after warm-up MiB',
      'RSS end MiB',
      'growth MiB',
      'peak RSS MiB',
      'load avg',
    ]),
  );
  console.log(row(Array(9).fill('---')));
  for (const x of r.collectorDown) {
    console.log(
      row([
        x.name,
        x.collector,
        fmt(x.rps),
        pct(x.rps / up[x.framework].rps),
        fmt(x.warmRssMiB),
        fmt(x.endRssMiB),
        fmt(x.endRssMiB - x.warmRssMiB),
        fmt(x.peakRssMiB),
        fmt(x.loadavg1, 1),
      ]),
    );
  }
}
