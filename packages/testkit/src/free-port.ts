/**
 * Ports for child processes to listen on. A port found free with a bind, closed, then handed to a
 * child can be taken before the child binds it: by any `listen(0)` on the machine (receivers, other
 * test files, another test run) or by another freePort() caller. Then the child fails with
 * EADDRINUSE, and a readiness probe may even be answered by the other process. freePort() rules both
 * out:
 * - its ports are below the kernel's ephemeral range (Linux: 32768-60999), which `listen(0)` and
 *   outgoing connections take from;
 * - a file in `os.tmpdir()/obs-test-ports` claims each port it hands out for ten minutes (created
 *   exclusively), so no other freePort() call, in any process on the machine, hands it out meanwhile.
 */
import { randomInt } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The range ports are drawn from: 20000-32767, below the ephemeral range. */
const FIRST = 20_000;
const COUNT = 12_768;
/** How long a handed-out port stays claimed. */
const CLAIM_MS = 10 * 60_000;
const CLAIMS = join(tmpdir(), 'obs-test-ports');

/** Claims `port` for this process: false when another claim younger than CLAIM_MS holds it. */
function claim(port: number): boolean {
  const file = join(CLAIMS, String(port));
  try {
    writeFileSync(file, String(process.pid), { flag: 'wx' });
    return true;
  } catch {
    try {
      if (Date.now() - statSync(file).mtimeMs < CLAIM_MS) return false;
      unlinkSync(file); // an old claim: only one of two callers creates it again (flag wx)
      writeFileSync(file, String(process.pid), { flag: 'wx' });
      return true;
    } catch {
      return false;
    }
  }
}

/** Whether a server can listen on 127.0.0.1:`port` now. */
async function canListen(port: number): Promise<boolean> {
  const server = createServer();
  server.listen(port, '127.0.0.1');
  const [event] = await Promise.race([once(server, 'listening').then(() => ['listening']), once(server, 'error')]);
  if (event !== 'listening') return false;
  server.close();
  await once(server, 'close');
  return true;
}

/**
 * A TCP port on 127.0.0.1 that nothing listens on and that stays this caller's for ten minutes.
 * @throws when 200 random ports of the range are all claimed or taken
 */
export async function freePort(): Promise<number> {
  mkdirSync(CLAIMS, { recursive: true });
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = FIRST + randomInt(COUNT);
    if (claim(port) && (await canListen(port))) return port;
  }
  throw new Error(`freePort: 200 ports of ${FIRST}-${FIRST + COUNT - 1} were claimed or taken`);
}
