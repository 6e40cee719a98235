// Load generator, run as its own process so the server under test keeps its own core.
// Usage: node load.mjs <url> <connections> <warmupSeconds> <seconds> [requestsPerSecond]
// Without a rate, as fast as the server answers; with one, that many requests per second overall.
// Prints one JSON line: requests/s, latency percentiles (ms), errors, non-2xx.
import autocannon from 'autocannon';

const [url, connections, warmup, duration, rate] = process.argv.slice(2);
const run = (seconds) =>
  autocannon({
    url,
    connections: Number(connections),
    duration: Number(seconds),
    pipelining: 1,
    ...(rate ? { overallRate: Number(rate) } : {}),
  });

if (Number(warmup) > 0) await run(warmup);
const r = await run(duration);
process.stdout.write(
  `${JSON.stringify({
    rps: r.requests.average,
    total: r.requests.total,
    p50: r.latency.p50,
    p99: r.latency.p99,
    errors: r.errors + r.timeouts,
    non2xx: r.non2xx,
    seconds: Number(duration),
  })}\n`,
);
