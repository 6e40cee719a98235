/**
 * The logger's buffered stdout in isolation (fake timers): the lines of one event-loop turn leave in
 * one write at the end of that turn, a full buffer does not wait, and `flushSync()` empties it at
 * once. The end-to-end guarantees (no line lost however the process ends) are in
 * ./logger-process.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { bufferedDestination, MAX_BUFFERED_CHARS } from '../src/logging/buffered-destination.js';

function sink() {
  const writes: string[] = [];
  return { writes, write: (chunk: string) => writes.push(chunk) };
}

describe('bufferedDestination', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setImmediate'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('writes the lines of one turn with one write, at the end of the turn', () => {
    const out = sink();
    const dest = bufferedDestination(out);
    for (let i = 0; i < 5; i++) dest.write(`line ${i}\n`);
    expect(out.writes).toEqual([]);
    vi.runOnlyPendingTimers();
    expect(out.writes).toEqual(['line 0\nline 1\nline 2\nline 3\nline 4\n']);
  });

  it('writes each turn of lines in a write of its own', () => {
    const out = sink();
    const dest = bufferedDestination(out);
    dest.write('a\n');
    vi.runOnlyPendingTimers();
    dest.write('b\n');
    expect(out.writes).toEqual(['a\n']);
    vi.runOnlyPendingTimers();
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

  it('flushSync() writes what waits, and the end of the turn writes nothing more', () => {
    const out = sink();
    const dest = bufferedDestination(out);
    dest.write('a\n');
    dest.flushSync();
    expect(out.writes).toEqual(['a\n']);
    vi.runOnlyPendingTimers();
    expect(out.writes).toEqual(['a\n']);
  });

  it('flushSync() with nothing buffered writes nothing', () => {
    const out = sink();
    const dest = bufferedDestination(out);
    dest.flushSync();
    dest.write('a\n');
    vi.runOnlyPendingTimers();
    dest.flushSync();
    expect(out.writes).toEqual(['a\n']);
  });

  it('flush(cb) writes what waits, then calls cb (if any)', () => {
    const out = sink();
    const dest = bufferedDestination(out);
    dest.write('a\n');
    const seen: string[][] = [];
    dest.flush(() => seen.push([...out.writes]));
    expect(seen).toEqual([['a\n']]);
    dest.write('b\n');
    dest.flush();
    expect(out.writes).toEqual(['a\n', 'b\n']);
  });

  it('a sink that throws (stdout closed) does not make logging throw, and its lines are dropped', () => {
    let fail = true;
    const written: string[] = [];
    const dest = bufferedDestination({
      write(chunk: string) {
        if (fail) throw new Error('EPIPE');
        written.push(chunk);
      },
    });
    dest.write('lost\n');
    expect(() => dest.flushSync()).not.toThrow();
    fail = false;
    dest.write('b\n');
    dest.flushSync();
    expect(written).toEqual(['b\n']);
  });

  it("writes what waits in the process's exit event, and every line after it at once", () => {
    const once = vi.spyOn(process, 'once');
    const out = sink();
    const dest = bufferedDestination(out);
    const onExit = once.mock.calls.find(([event]) => event === 'exit')?.[1] as () => void;
    once.mockRestore();
    process.removeListener('exit', onExit);
    dest.write('before\n');
    onExit();
    expect(out.writes).toEqual(['before\n']);
    dest.write('after 1\n');
    dest.write('after 2\n');
    expect(out.writes).toEqual(['before\n', 'after 1\n', 'after 2\n']);
  });
});
