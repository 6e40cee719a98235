/**
 * One redaction rule for every output (issue 15, item 12): under the preload, the CLIENT spans of
 * http.get and of fetch (undici) and the SERVER spans they reach are exported with the secret query
 * parameters redacted, matched as logs and Sentry match them (any letter case: `Password=`,
 * `private_key=`), and the log line with a bearer token in its text is redacted too.
 */
import { fileURLToPath } from 'node:url';
import { type OtlpReceiver, runNode, startOtlpReceiver } from '@obs/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const FIXTURES = fileURLToPath(new URL('./fixtures', import.meta.url));
const SECRET = ['query', 's3cr3t'].join('-');

describe('outgoing request spans under the preload', () => {
  let receiver: OtlpReceiver;
  beforeAll(async () => {
    receiver = await startOtlpReceiver();
  });
  afterAll(() => receiver.close());

  it('carry no secret from the query string, for http.get and for fetch', async () => {
    const run = await runNode(['--import', '@obs/register', 'outgoing-secrets.mjs'], {
      cwd: FIXTURES,
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_SERVICE_NAME: 'redaction', TEST_SECRET: SECRET },
    });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    // two CLIENT spans (http.get, fetch) and the two SERVER spans they reached
    const spans = await receiver.waitFor(() => receiver.spans.length >= 5 && receiver.spans);
    const redacted = 'access_token=[Redacted]&Password=[Redacted]&private_key=[Redacted]&page=2';
    for (const path of ['/via-http', '/via-fetch']) {
      const client = spans.find((s) => s.kind === 3 && String(s.attributes['url.full']).includes(path));
      expect(client?.attributes['url.full'], path).toBe(
        `${String(client?.attributes['url.full']).split('?')[0]}?${redacted}`,
      );
      const server = spans.find((s) => s.kind === 2 && s.attributes['url.path'] === path);
      expect(server?.attributes['url.query'], path).toBe(redacted);
    }
    expect(JSON.stringify(receiver.spans, (_k, v) => (typeof v === 'bigint' ? String(v) : v))).not.toContain(SECRET);
    expect(run.stdout).toContain('upstream said: Authorization: [Redacted] [Redacted]');
    expect(run.stdout).not.toContain(SECRET);
  });
});
