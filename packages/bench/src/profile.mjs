// Profile one app under load: node src/profile.mjs <app.mjs> [obs|otel|none] [seconds] [requests/s]
// Without a rate, at saturation; with one (as the bench's --rate), at that fixed load.
// Writes results/<app>.cpuprofile and prints a summary.
import { spawn, spawnSync } from 'node:child_process';
import { openSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const [app, preload = 'obs', seconds = '8', rate] = process.argv.slice(2);
const port = 45000 + Math.floor(Math.random() * 1000);
const out = join(ROOT, 'results', `${app.replace('.mjs', '')}-${preload}.cpuprofile`);
const flags = {
  obs: ['--import', '@obs/register'],
  otel: ['--import', '@opentelemetry/auto-instrumentations-node/register'],
  none: [],
}[preload];
const sink = spawn(process.execPath, [join(ROOT, 'apps', 'sink.mjs')], { stdio: ['ignore', 'pipe', 'inherit'] });
const sinkPort = await new Promise((r) => sink.stdout.once('data', (d) => r(JSON.parse(String(d)).port)));
const env = {
  ...process.env,
  PORT: String(port),
  PROF_OUT: out,
  OTEL_SERVICE_NAME: 'bench',
  OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${sinkPort}`,
  OTEL_LOGS_EXPORTER: 'none',
};
const log = openSync(join(ROOT, 'results', 'logs', 'profile.log'), 'w');
const server = spawn(process.execPath, ['--import', './src/prof.mjs', ...flags, join(ROOT, 'apps', app)], {
  cwd: ROOT,
  env,
  stdio: ['ignore', log, log],
});
for (let i = 0; i < 200; i++) {
  try {
    if ((await fetch(`http://127.0.0.1:${port}/users/1`)).ok) break;
  } catch {}
  await new Promise((r) => setTimeout(r, 50));
}
const url = `http://127.0.0.1:${port}/users/42`;
spawnSync(process.execPath, [join(ROOT, 'src', 'load.mjs'), url, '32', '0', '2'], { stdio: 'ignore' }); // warm-up
server.kill('SIGUSR2'); // start profiling
await new Promise((r) => setTimeout(r, 200));
const load = spawnSync(
  process.execPath,
  [join(ROOT, 'src', 'load.mjs'), url, '32', '0', seconds, ...(rate ? [rate] : [])],
  {
    encoding: 'utf8',
  },
);
process.stdout.write(load.stdout);
server.kill('SIGUSR2'); // stop and write
await new Promise((r) => setTimeout(r, 3000));
server.kill('SIGKILL');
sink.kill('SIGKILL');
const { total } = JSON.parse(load.stdout);
spawnSync(process.execPath, [join(ROOT, 'src', 'breakdown.mjs'), `${out}=${total}`], { stdio: 'inherit' });
spawnSync(process.execPath, [join(ROOT, 'src', 'summarize.mjs'), out, '40'], { stdio: 'inherit' });
