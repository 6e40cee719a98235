/**
 * The logger's stdout: lines are collected in memory and written with one `write(2)` per event-loop
 * turn (at the end of the turn, in a `setImmediate`), or as soon as {@link MAX_BUFFERED_CHARS} are
 * waiting. Writes are synchronous (sonic-boom with `sync: true`, which retries `EAGAIN` and partial
 * writes), so no thread pool and no per-line `Buffer.byteLength` over a growing buffer.
 *
 * Nothing is lost when the process ends in any way that runs JavaScript: the buffer is written
 * synchronously in Node's `exit` event (`process.exit()`, an uncaught exception, the event loop
 * emptying), by `flushSync()` at shutdown (before @obs re-raises a signal), and lines logged after the
 * `exit` event (the app's own `exit` listeners) are written at once. Lost are only the lines of the
 * current turn (at most {@link MAX_BUFFERED_CHARS}) when the process is killed by `SIGKILL`, the OOM
 * killer or a signal nobody handles (docs/configuration.md, "Logs").
 */
import type { DestinationStream } from 'pino';

/** Buffered characters that trigger a write before the end of the turn (a few KiB of log lines). */
export const MAX_BUFFERED_CHARS = 8192;

/** A pino destination with a synchronous flush. */
export interface FlushableDestination extends DestinationStream {
  /** Write what is buffered, synchronously. Never throws. */
  flushSync(): void;
  /** pino's `logger.flush(cb)`: write what is buffered, then call `cb`. */
  flush(cb?: (err?: Error) => void): void;
}

/**
 * One write per event-loop turn to `sink`.
 * @param sink a synchronous writer: `pino.destination({ dest: 1, sync: true })` for stdout
 */
export function bufferedDestination(sink: { write(chunk: string): unknown }): FlushableDestination {
  let pending = '';
  let scheduled = false;
  let exiting = false;
  const flushSync = (): void => {
    if (pending === '') return;
    const out = pending;
    pending = '';
    try {
      sink.write(out);
    } catch {
      // stdout closed: nothing sensible left to do with the lines
    }
  };
  const endOfTurn = (): void => {
    scheduled = false;
    flushSync();
  };
  process.once('exit', () => {
    exiting = true;
    flushSync();
  });
  return {
    write(line: string) {
      pending += line;
      if (exiting || pending.length >= MAX_BUFFERED_CHARS) {
        flushSync();
      } else if (!scheduled) {
        scheduled = true;
        setImmediate(endOfTurn);
      }
    },
    flushSync,
    flush(cb) {
      flushSync();
      cb?.();
    },
  };
}
