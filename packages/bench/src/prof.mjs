// Profiling preload: `node --import ./src/prof.mjs ...`. The first SIGUSR2 starts the V8 CPU profiler,
// the second writes PROF_OUT (a .cpuprofile), so the profile covers exactly the measured load and
// not start-up or warm-up. Used by `profile.mjs`.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';

const session = new Session();
session.connect();
let running = false;
process.on('SIGUSR2', () => {
  if (!running) {
    running = true;
    session.post('Profiler.enable', () =>
      session.post('Profiler.setSamplingInterval', { interval: 200 }, () => session.post('Profiler.start')),
    );
    return;
  }
  session.post('Profiler.stop', (err, { profile }) => {
    if (!err) writeFileSync(process.env.PROF_OUT ?? 'bench.cpuprofile', JSON.stringify(profile));
    process.stdout.write('profile written\n');
  });
});
