/**
 * Hostile data: markup in attributes and log messages renders as text and runs nothing, a 1 MiB
 * attribute and a 10 000-span trace keep the page responsive, malformed OTLP is answered 400 and the
 * receiver keeps working.
 */
import { request } from 'node:http';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startViewer, type Viewer } from '../src/viewer.js';
import {
  type Browser,
  hex,
  type JsonSpan,
  logsBody,
  postJson,
  screenshotPath,
  startBrowser,
  tracesBody,
} from './helpers.js';

const POLL = { timeout: 15_000, interval: 100 };
const SCRIPT = '<script>window.__pwned = "script"</script>';
const IMG = '<img src=x onerror="window.__pwned = \'img\'">';

let viewer: Viewer;
let browser: Browser;

beforeAll(async () => {
  viewer = await startViewer({ otlpPort: 0, uiPort: 0 });
  browser = await startBrowser();
});

afterAll(async () => {
  await browser?.close();
  await viewer?.close();
});

async function pwned(): Promise<unknown> {
  return browser.page.evaluate('window.__pwned');
}

describe('hostile telemetry in the page', () => {
  it('renders HTML and <script> in span names, attributes and log messages as text', async () => {
    const traceId = hex(32);
    const spanId = hex(16);
    const now = Date.now();
    expect(
      await postJson(
        viewer.otlpUrl,
        'traces',
        tracesBody(`svc ${IMG}`, [
          {
            traceId,
            spanId,
            name: `GET ${SCRIPT}`,
            kind: 2,
            startMs: now,
            durationMs: 5,
            attributes: { 'http.route': `/x/${IMG}`, note: SCRIPT },
            status: { code: 2, message: IMG },
            events: [
              {
                name: 'exception',
                timeMs: now + 1,
                attributes: { 'exception.type': IMG, 'exception.message': SCRIPT },
              },
            ],
          },
        ]),
      ),
    ).toBe(200);
    expect(
      await postJson(
        viewer.otlpUrl,
        'logs',
        logsBody('svc', [
          {
            timeMs: now + 2,
            body: `hello ${SCRIPT} ${IMG}`,
            severityNumber: 17,
            traceId,
            spanId,
            attributes: { html: IMG },
          },
        ]),
      ),
    ).toBe(200);
    const { page } = browser;
    for (const view of [
      '#/traces',
      `#/trace/${traceId}`,
      '#/logs',
      `#/metrics?service=${encodeURIComponent(`svc ${IMG}`)}`,
    ]) {
      await page.goto(`${viewer.uiUrl}${view}`);
      await page.locator('main section').waitFor();
      if (view === '#/traces')
        await expect.poll(() => page.locator(`tr[data-trace-id="${traceId}"]`).textContent(), POLL).toContain(SCRIPT);
    }
    await page.goto(`${viewer.uiUrl}#/trace/${traceId}`);
    const details = page.getByTestId('span-details');
    await expect.poll(() => details.textContent(), POLL).toContain(SCRIPT);
    await expect.poll(() => details.textContent(), POLL).toContain(IMG);
    await expect.poll(() => page.getByTestId('trace-logs').textContent(), POLL).toContain(`hello ${SCRIPT} ${IMG}`);
    // Text, not elements: no <img> or <script> element came from the data anywhere on the page.
    expect(await page.locator('main img, main script').count()).toBe(0);
    await page.goto(`${viewer.uiUrl}#/logs`);
    await expect.poll(() => page.getByTestId('log-table').textContent(), POLL).toContain(`hello ${SCRIPT}`);
    expect(await page.locator('main img, main script').count()).toBe(0);
    expect(await pwned()).toBeUndefined();
    expect(browser.pageErrors).toEqual([]);
  });

  it('shows a 1 MiB attribute as a preview and stays responsive', async () => {
    const traceId = hex(32);
    const big = `${'0123456789abcdef'.repeat(65_536)}`; // 1 MiB
    expect(
      await postJson(
        viewer.otlpUrl,
        'traces',
        tracesBody('big', [
          {
            traceId,
            spanId: hex(16),
            name: 'big attribute',
            startMs: Date.now(),
            durationMs: 1,
            attributes: { payload: big },
          },
        ]),
      ),
    ).toBe(200);
    expect(
      await postJson(
        viewer.otlpUrl,
        'logs',
        logsBody('big', [{ timeMs: Date.now(), body: big, traceId, attributes: { payload: big } }]),
      ),
    ).toBe(200);
    const { page } = browser;
    await page.goto(`${viewer.uiUrl}#/trace/${traceId}`);
    const row = page.getByTestId('span-details').locator('tr', { hasText: 'payload' });
    await expect.poll(() => row.textContent(), POLL).toContain('show more (1024 KiB)');
    // The page holds the preview, not the megabyte: the span, its log line and the log's attribute.
    const textLength = await page.evaluate<number>('document.body.textContent.length');
    expect(textLength).toBeLessThan(100_000);
    await page.goto(`${viewer.uiUrl}#/logs?service=big`);
    await expect.poll(() => page.getByTestId('log-table').textContent(), POLL).toContain('show more (1024 KiB)');
    expect(await page.evaluate<number>('document.body.textContent.length')).toBeLessThan(100_000);
    expect(browser.pageErrors).toEqual([]);
  });

  it('keeps a 10 000-span trace scrollable: only the rows in view are in the page', async () => {
    const traceId = hex(32);
    const rootId = hex(16);
    const start = Date.now();
    const spans: JsonSpan[] = [
      { traceId, spanId: rootId, name: 'batch job', kind: 2, startMs: start, durationMs: 10_000 },
    ];
    for (let i = 1; i < 10_000; i++) {
      spans.push({
        traceId,
        spanId: hex(16),
        parentSpanId: rootId,
        name: `item ${String(i).padStart(5, '0')}`,
        startMs: start + i,
        durationMs: 0.5,
        attributes: { 'item.index': i },
      });
    }
    for (let i = 0; i < spans.length; i += 2000) {
      expect(await postJson(viewer.otlpUrl, 'traces', tracesBody('batch', spans.slice(i, i + 2000)))).toBe(200);
    }
    const { page } = browser;
    await page.goto(`${viewer.uiUrl}#/trace/${traceId}`);
    await page.locator('.wf-row[data-span-name="batch job"]').waitFor();
    await expect.poll(() => page.locator('.trace-head').textContent(), POLL).toContain('10000 spans');
    const rows = await page.locator('.wf-row').count();
    expect(rows).toBeGreaterThan(10);
    expect(rows).toBeLessThan(100);
    // Scrolled to the end, the last span is rendered; the page answers at once.
    await page.locator('.wf-body').evaluate((el) => {
      el.scrollTop = el.scrollHeight;
    });
    await page.locator('.wf-row[data-span-name="item 09999"]').waitFor();
    expect(await page.locator('.wf-row').count()).toBeLessThan(100);
    await page.locator('.wf-row[data-span-name="item 09999"]').click();
    await expect.poll(() => page.getByTestId('span-details').locator('h3').textContent(), POLL).toBe('item 09999');
    await page.screenshot({ path: screenshotPath('large-trace') });
    expect(browser.pageErrors).toEqual([]);
  });
});

describe('malformed OTLP', () => {
  const post = async (path: string, body: string | Buffer, headers: Record<string, string>) => {
    const res = await fetch(`${viewer.otlpUrl}${path}`, { method: 'POST', headers, body });
    return { status: res.status, text: await res.text() };
  };
  const proto = { 'content-type': 'application/x-protobuf' };
  const json = { 'content-type': 'application/json' };

  it.each([
    ['protobuf garbage', '/v1/traces', Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]), proto],
    ['truncated protobuf', '/v1/logs', Buffer.from([0x0a, 0x40, 0x01]), proto],
    ['invalid JSON', '/v1/traces', '{"resourceSpans": [', json],
    ['JSON that is not an object', '/v1/metrics', '[1, 2]', json],
    ['a list field that is a number', '/v1/traces', '{"resourceSpans": 5}', json],
    ['a span without ids', '/v1/traces', '{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"x"}]}]}]}', json],
    ['a bad int64', '/v1/logs', '{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":"soon"}]}]}]}', json],
    [
      'a bad trace id',
      '/v1/traces',
      '{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"<script>","spanId":"00f067aa0ba902b7"}]}]}]}',
      json,
    ],
    ['gzip that is not gzip', '/v1/traces', 'not gzip', { ...json, 'content-encoding': 'gzip' }],
  ])('answers %s with 400 and stores nothing', async (_name, path, body, headers) => {
    const before = viewer.store.stats();
    const res = await post(path, body, headers);
    expect(res.status).toBe(400);
    const after = viewer.store.stats();
    expect([after.spans, after.logs, after.points]).toEqual([before.spans, before.logs, before.points]);
  });

  it('refuses UI and API requests for another host name (DNS rebinding)', async () => {
    const get = (host: string) =>
      new Promise<number>((resolve, reject) => {
        const req = request(`${viewer.uiUrl}api/traces`, { headers: { host } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
    const port = new URL(viewer.uiUrl).port;
    expect(await get(`evil.example:${port}`)).toBe(403);
    expect(await get(`127.0.0.1:${port}`)).toBe(200);
    expect(await get(`localhost:${port}`)).toBe(200);
    expect(await get(`[::1]:${port}`)).toBe(200);
  });

  it('answers 415 to other content types, 405 to GET, 404 elsewhere, and keeps receiving', async () => {
    expect((await post('/v1/traces', 'x', { 'content-type': 'text/plain' })).status).toBe(415);
    expect((await fetch(`${viewer.otlpUrl}/v1/traces`)).status).toBe(405);
    expect((await post('/v2/traces', '{}', json)).status).toBe(404);
    const badBefore = viewer.rejected.badRequests;
    expect((await post('/v1/traces', '{', json)).status).toBe(400);
    expect(viewer.rejected.badRequests).toBe(badBefore + 1);
    const traceId = hex(32);
    const body = gzipSync(
      tracesBody('after', [{ traceId, spanId: hex(16), name: 'still here', startMs: Date.now(), durationMs: 1 }]),
    );
    expect((await post('/v1/traces', body, { ...json, 'content-encoding': 'gzip' })).status).toBe(200);
    expect(viewer.store.getTrace(traceId).spans.map((s) => s.name)).toEqual(['still here']);
  });
});
