// Profiling preload: `node --import ./src/prof.mjs ...` starts the V8 CPU profiler; SIGUSR2 writes
// PROF_OUT (a .cpuprofile) and keeps running. Used by `profile.mjs`.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';

const session = new Session();
session.connect();
session.post('Profiler.enable', () =>
  session.post('Profiler.setSamplingInterval', { interval: 200 }, () => session.post('Profiler.start')),
);
process.on('SIGUSR2', () => {
  session.post('Profiler.stop', (err, { profile }) => {
    if (!err) writeFileSync(process.env.PROF_OUT ?? 'bench.cpuprofile', JSON.stringify(profile));
    process.stdout.write('profile written\n');
  });
});
