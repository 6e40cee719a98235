// CPU per log line of @obs's logger, in isolation: `node src/log-cpu.mjs` runs a child per mode and
// round, each writing completion-like lines through createLogger() to a file (stdout redirected),
// LINES_PER_TURN lines per event-loop turn, and prints the CPU (user + system) per line.
// Modes: `turn` (the default destination: one write(2) per event-loop turn or 8 KiB) and `sync`
// (OBS_LOG_SYNC=true: one write(2) per line). docs/performance.md records the numbers.
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const LINES = 200_000;
const LINES_PER_TURN = Number(process.env.LINES_PER_TURN ?? 8);

async function child(mode) {
  const { createLogger } = await import('@obs/core');
  const logger = createLogger({
    level: 'info',
    serviceName: 'bench',
    redactKeys: [],
    correlate: false,
    sync: mode === 'sync',
  });
  const line = (i) =>
    logger.info(
      {
        request_id: `req-${i}`,
        http: { method: 'GET', route: '/api/v1/users/:id', status_code: 200 },
        duration_ms: 1.25,
      },
      'request completed',
    );
  for (let i = 0; i < 20_000; i++) line(i); // warm-up
  await new Promise((r) => setImmediate(r));
  const c0 = process.cpuUsage();
  for (let i = 0; i < LINES; ) {
    for (let k = 0; k < LINES_PER_TURN; k++, i++) line(i);
    await new Promise((r) => setImmediate(r));
  }
  const cpu = process.cpuUsage(c0);
  process.stderr.write(
    `${JSON.stringify({ mode, usPerLine: (cpu.user + cpu.system) / LINES, userUs: cpu.user / LINES, systemUs: cpu.system / LINES })}\n`,
  );
}

if (process.argv[2]) {
  await child(process.argv[2]);
} else {
  const file = join(tmpdir(), `obs-log-cpu-${process.pid}.log`);
  const results = { turn: [], sync: [] };
  for (let round = 0; round < 5; round++) {
    for (const mode of ['turn', 'sync']) {
      const fd = openSync(file, 'w');
      const run = spawnSync(process.execPath, [process.argv[1], mode], {
        stdio: ['ignore', fd, 'pipe'],
        encoding: 'utf8',
      });
      closeSync(fd);
      const result = JSON.parse(run.stderr.trim().split('\n').at(-1));
      results[mode].push(result.usPerLine);
    }
  }
  rmSync(file, { force: true });
  const fmt = (xs) => xs.map((x) => x.toFixed(2)).join(', ');
  console.log(`${LINES} lines, ${LINES_PER_TURN} per event-loop turn, CPU µs per line (5 interleaved rounds)`);
  for (const [mode, xs] of Object.entries(results)) {
    const sorted = [...xs].sort((a, b) => a - b);
    console.log(`${mode.padEnd(5)} median ${sorted[2].toFixed(2)}  (${fmt(xs)})`);
  }
}
