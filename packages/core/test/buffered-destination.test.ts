/**
 * The logger's buffered stdout in isolation (fake timers): lines logged in separate event-loop turns
 * within one window leave in one write, the window's end writes them, a full buffer does not wait,
 * and `flushSync()` empties it at once. The end-to-end guarantees (no line lost however the process
 * ends) are in ./logger-process.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { bufferedDestination, FLUSH_INTERVAL_MS, MAX_BUFFERED_CHARS } from '../src/logging/buffered-destination.js';

function sink() {
  const writes: string[] = [];
  return { writes, write: (chunk: string) => writes.push(chunk) };
}

describe('bufferedDestination', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('writes the lines of several turns inside one window with one write, when the window ends', () => {
    const out = sink();
    const dest = bufferedDestination(out);
    for (let i = 0; i < 5; i++) {
      dest.write(`line ${i}\n`);
      vi.advanceTimersByTime(1); // a later turn, still inside the window
    }
    expect(out.writes).toEqual([]);
    vi.advanceTimersByTime(FLUSH_INTERVAL_MS);
    expect(out.writes).toEqual(['line 0\nline 1\nline 2\nline 3\nline 4\n']);
  });

  it('starts a new window with the next line after a write', () => {
    const out = sink();
    const dest = bufferedDestination(out);
    dest.write('a\n');
    vi.advanceTimersByTime(FLUSH_INTERVAL_MS);
    dest.write('b\n');
    expect(out.writes).toEqual(['a\n']);
    vi.advanceTimersByTime(FLUSH_INTERVAL_MS);
    expect(out.writes).toEqual(['a\n', 'b\n']);
  });

  it('writes at once when a full buffer of lines waits', () => {
    const out = sink();
    const dest = bufferedDestination(out);
    const line = `${'x'.repeat(1023)}\n`;
    for (let i = 0; i < MAX_BUFFERED_CHARS / line.length; i++) dest.write(line);
    expect(out.writes).toHaveLength(1);
    expect(out.writes[0]).toHaveLength(MAX_BUFFERED_CHARS);
  });

  it('flushSync() writes what waits, and the window that was open writes nothing more', () => {
    const out = sink();
    const dest = bufferedDestination(out);
    dest.write('a\n');
    dest.flushSync();
    expect(out.writes).toEqual(['a\n']);
    vi.advanceTimersByTime(FLUSH_INTERVAL_MS);
    expect(out.writes).toEqual(['a\n']);
    expect(vi.getTimerCount()).toBe(0);
  });
});
