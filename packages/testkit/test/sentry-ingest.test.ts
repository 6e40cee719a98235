import { gzipSync } from 'node:zlib';
import { createEnvelope, serializeEnvelope } from '@sentry/core';
import { afterEach, describe, expect, it } from 'vitest';
import { type SentryIngest, startSentryIngest } from '../src/index.js';

const ingests: SentryIngest[] = [];

async function ingest(opts?: Parameters<typeof startSentryIngest>[0]): Promise<SentryIngest> {
  const i = await startSentryIngest(opts);
  ingests.push(i);
  return i;
}

afterEach(async () => {
  await Promise.all(ingests.splice(0).map((i) => i.close()));
});

/** An envelope as the SDK serialises it: header line, then item header and payload lines. */
function envelope(items: [string, Record<string, unknown>][]): string | Uint8Array {
  const env = createEnvelope(
    { event_id: 'abc', sent_at: new Date(0).toISOString() },
    items.map(([type, payload]) => [{ type }, payload]) as never,
  );
  return serializeEnvelope(env as never);
}

const post = (i: SentryIngest, path: string, body: string | Uint8Array, headers: Record<string, string> = {}) =>
  fetch(`${i.url}${path}`, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/x-sentry-envelope', ...headers },
  });

describe('startSentryIngest', () => {
  it('gives a DSN that @sentry/core accepts, pointing at its envelope endpoint', async () => {
    const i = await ingest();
    expect(i.dsn()).toMatch(new RegExp(`^http://\\w+@127\\.0\\.0\\.1:${i.port}/1$`));
    expect(i.dsn('k3y', '42')).toBe(`http://k3y@127.0.0.1:${i.port}/42`);
  });

  it('parses envelopes (plain and gzipped) into items, and keeps the decoded text', async () => {
    const i = await ingest();
    const event = { event_id: 'e1', exception: { values: [{ type: 'Error', value: 'boom' }] }, tags: { a: 'b' } };
    const res = await post(i, '/api/1/envelope/?sentry_key=k&sentry_version=7', envelope([['event', event]]));
    expect(res.status).toBe(200);
    const big = { event_id: 'e2', extra: { blob: 'x'.repeat(40 * 1024) } };
    const raw = envelope([
      ['event', big],
      ['client_report', { discarded_events: [] }],
    ]);
    await post(i, '/api/1/envelope/', gzipSync(raw), { 'content-encoding': 'gzip' });
    expect(i.envelopes.map((e) => [e.path, e.items.map((item) => item.header.type)])).toEqual([
      ['/api/1/envelope/', ['event']],
      ['/api/1/envelope/', ['event', 'client_report']],
    ]);
    expect(i.envelopes[0]?.query).toMatchObject({ sentry_key: 'k', sentry_version: '7' });
    expect(i.envelopes[0]?.header).toMatchObject({ event_id: 'abc' });
    expect(i.events().map((e) => e.event_id)).toEqual(['e1', 'e2']);
    expect(i.items('client_report')).toHaveLength(1);
    expect(i.text()).toContain('"value":"boom"');
    expect(i.text()).toContain('x'.repeat(1000)); // decompressed
    expect(await i.waitForEvents((e) => e.tags?.a === 'b')).toHaveLength(1);
  });

  it('rejects what is not an envelope POST, and times out waiting for events that never come', async () => {
    const i = await ingest();
    expect((await fetch(`${i.url}/api/1/envelope/`)).status).toBe(404);
    expect((await post(i, '/api/1/store/', '{}')).status).toBe(404);
    expect((await post(i, '/api/1/envelope/', '{not json')).status).toBe(400);
    expect(i.rejected.map((r) => r.path)).toEqual(['/api/1/envelope/', '/api/1/store/', '/api/1/envelope/']);
    await expect(i.waitForEvents(() => true, 1, 100)).rejects.toThrow('expected 1 matching Sentry event(s)');
    i.clear();
    expect(i.rejected).toEqual([]);
  });

  it('can hang: it records the envelope and never answers', async () => {
    const i = await ingest({ hang: true });
    const pending = post(i, '/api/1/envelope/', envelope([['event', { event_id: 'h' }]])).catch((e: unknown) => e);
    const outcome = await Promise.race([pending, new Promise((r) => setTimeout(() => r('no answer'), 200))]);
    expect(outcome).toBe('no answer');
    expect(i.events().map((e) => e.event_id)).toEqual(['h']);
  });
});
