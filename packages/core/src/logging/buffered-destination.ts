/**
 * The logger's stdout: lines are collected in memory and written with one `write(2)` at most every
 * {@link FLUSH_INTERVAL_MS} (an unref'd timer started by the first line into an empty buffer), or as
 * soon as {@link MAX_BUFFERED_CHARS} are waiting. A window longer than one event-loop turn matters at a
 * steady load, where each request completes in a turn of its own: per-turn writes were still one
 * syscall per request (docs/performance.md, "Log lines across turns"). Writes are synchronous (sonic-boom with `sync: true`, which retries `EAGAIN` and partial
 * writes), so no thread pool and no per-line `Buffer.byteLength` over a growing buffer.
 *
 * Nothing is lost when the process ends in any way that runs JavaScript: the buffer is written
 * synchronously in Node's `exit` event (`process.exit()`, an uncaught exception, the event loop
 * emptying), by `flushSync()` at shutdown (before @obs re-raises a signal), and lines logged after the
 * `exit` event (the app's own `exit` listeners) are written at once. Lost are only the lines of the
 * current window (at most {@link FLUSH_INTERVAL_MS} and {@link MAX_BUFFERED_CHARS}) when the process is killed by `SIGKILL`, the OOM
 * killer or a signal nobody handles (docs/configuration.md, "Logs").
 */
import type { DestinationStream } from 'pino';

/** Buffered characters that trigger a write before the window ends (a few KiB of log lines). */
export const MAX_BUFFERED_CHARS = 8192;

/** Longest time a line waits in memory before it is written, in milliseconds. */
export const FLUSH_INTERVAL_MS = 10;

/** A pino destination with a synchronous flush. */
export interface FlushableDestination extends DestinationStream {
  /** Write what is buffered, synchronously. Never throws. */
  flushSync(): void;
  /** pino's `logger.flush(cb)`: write what is buffered, then call `cb`. */
  flush(cb?: (err?: Error) => void): void;
}

/**
 * At most one write per {@link FLUSH_INTERVAL_MS} (or per {@link MAX_BUFFERED_CHARS}) to `sink`.
 * @param sink a synchronous writer: `pino.destination({ dest: 1, sync: true })` for stdout
 */
export function bufferedDestination(sink: { write(chunk: string): unknown }): FlushableDestination {
  let pending = '';
  let timer: NodeJS.Timeout | undefined;
  let exiting = false;
  const flushSync = (): void => {
    if (timer !== undefined) {
      clearTimeout(timer);
      timer = undefined;
    }
    if (pending === '') return;
    const out = pending;
    pending = '';
    try {
      sink.write(out);
    } catch {
      // stdout closed: nothing sensible left to do with the lines
    }
  };
  const endOfWindow = (): void => {
    timer = undefined;
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
      } else if (timer === undefined) {
        // unref'd: a window never keeps the process alive; the `exit` listener writes what is left
        timer = setTimeout(endOfWindow, FLUSH_INTERVAL_MS).unref();
      }
    },
    flushSync,
    flush(cb) {
      flushSync();
      cb?.();
    },
  };
}
