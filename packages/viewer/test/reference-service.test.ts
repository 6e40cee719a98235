/**
 * The viewer against real traffic: the Express reference service, started under the preload and
 * exporting traces, logs and metrics over OTLP to the viewer, with a known `traceparent` and
 * `X-Request-Id`; every check goes through the page in Debian's Chromium.
 */
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { type Service, startService } from '@obs/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routeSeries } from '../src/metric-series.js';
import { startViewer, type Viewer } from '../src/viewer.js';
import { type Browser, screenshotPath, startBrowser, waitUntil } from './helpers.js';

const expressDir = dirname(createRequire(import.meta.url).resolve('@obs/example-express/package.json'));
const SERVICE = 'shop-express';
const REQUEST_ID = 'viewer-req-0013';
const traceId = randomBytes(16).toString('hex');
const parentSpanId = randomBytes(8).toString('hex');

/** How long the page gets to show something. */
const POLL = { timeout: 15_000, interval: 100 };

let viewer: Viewer;
let service: Service;
let browser: Browser;

async function send(path: string, init: RequestInit = {}): Promise<number> {
  const res = await service.fetch(path, { ...init, signal: AbortSignal.timeout(5000) });
  await res.arrayBuffer();
  return res.status;
}

const order = (amount: number, headers: Record<string, string> = {}) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify({ amount }),
});

beforeAll(async () => {
  viewer = await startViewer({ otlpPort: 0, uiPort: 0 });
  service = await startService({
    cwd: expressDir,
    entry: 'src/server.js',
    env: {
      OTEL_SERVICE_NAME: SERVICE,
      OTEL_EXPORTER_OTLP_ENDPOINT: viewer.otlpUrl,
      OTEL_LOGS_EXPORTER: 'otlp',
      OTEL_METRICS_EXPORTER: 'otlp',
      OTEL_METRIC_EXPORT_INTERVAL: '500',
      OTEL_BSP_SCHEDULE_DELAY: '100',
      OTEL_BLRP_SCHEDULE_DELAY: '100',
    },
  });
  browser = await startBrowser();
  // The request under test: a declined payment, with our trace context and request id.
  expect(
    await send(
      '/api/v1/orders',
      order(13, { traceparent: `00-${traceId}-${parentSpanId}-01`, 'x-request-id': REQUEST_ID }),
    ),
  ).toBe(500);
  expect(await send('/api/v1/orders', order(42))).toBe(201);
  for (const id of [1, 2, 3]) expect(await send(`/api/v1/users/${id}`)).toBe(200);
  await waitUntil(() => viewer.store.getTrace(traceId).spans.length >= 2, 'the order trace');
  await waitUntil(
    () => viewer.store.searchLogs({ traceId }).some((l) => l.body === 'Failed to create order'),
    'the order trace log lines',
  );
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await service?.stop();
  await viewer?.close();
});

describe('the viewer with the Express reference service', () => {
  it('lists the trace in the trace list', async () => {
    const { page } = browser;
    await page.goto(`${viewer.uiUrl}#/traces`);
    const row = page.locator(`tr[data-trace-id="${traceId}"]`);
    await row.getByRole('link', { name: 'POST /api/v1/orders' }).waitFor({ state: 'visible' });
    await row.locator('.badge.error').waitFor({ state: 'visible' });
    await expect.poll(() => row.textContent(), POLL).toContain(SERVICE);
    await page.screenshot({ path: screenshotPath('traces') });
  });

  it("shows the waterfall: POST /api/v1/orders with process_payment in ERROR, and the trace's log lines", async () => {
    const { page } = browser;
    await page.goto(`${viewer.uiUrl}#/trace/${traceId}`);
    const root = page.locator('.wf-row[data-span-name="POST /api/v1/orders"]');
    const payment = page.locator('.wf-row[data-span-name="process_payment"]');
    await root.waitFor({ state: 'visible' });
    await expect.poll(() => payment.getAttribute('data-status'), POLL).toBe('ERROR');
    await expect.poll(() => payment.locator('.badge.error').textContent(), POLL).toBe('ERROR');
    await payment.click();
    const details = page.getByTestId('span-details');
    await expect.poll(() => details.locator('h3').textContent(), POLL).toBe('process_payment');
    await expect.poll(() => details.locator('tr', { hasText: 'payment.amount' }).textContent(), POLL).toContain('13');
    await expect.poll(() => details.locator('.event.exception').textContent(), POLL).toContain('PaymentDeclinedError');
    const logs = page.getByTestId('trace-logs');
    await expect.poll(() => logs.textContent(), POLL).toContain('Failed to create order');
    await expect.poll(() => logs.textContent(), POLL).toContain('request completed');
    await expect.poll(() => logs.textContent(), POLL).toContain(REQUEST_ID);
    await page.screenshot({ path: screenshotPath('trace'), fullPage: true });
  });

  it('finds the trace by its request id', async () => {
    const { page } = browser;
    await page.goto(`${viewer.uiUrl}#/traces`);
    const lookup = page.locator('input[name="lookup"]');
    await lookup.fill(REQUEST_ID);
    await lookup.press('Enter');
    await expect.poll(() => page.locator('tr[data-trace-id]').count(), POLL).toBe(1);
    await page.locator(`tr[data-trace-id="${traceId}"]`).waitFor({ state: 'visible' });
    await page.locator(`tr[data-trace-id="${traceId}"] a`).click();
    await expect.poll(() => page.getByTestId('trace-id').textContent(), POLL).toBe(traceId);
  });

  it('searches logs by text and level, each line linking to its trace', async () => {
    const { page } = browser;
    await page.goto(`${viewer.uiUrl}#/logs?level=17&text=${encodeURIComponent('Failed to create')}`);
    const table = page.getByTestId('log-table');
    await expect.poll(() => table.locator('tr').count(), POLL).toBe(1);
    await expect.poll(() => table.textContent(), POLL).toContain('Failed to create order');
    await page.screenshot({ path: screenshotPath('logs') });
    await table.getByRole('link', { name: `trace ${traceId.slice(0, 8)}` }).click();
    await expect.poll(() => page.getByTestId('trace-id').textContent(), POLL).toBe(traceId);
  });

  it("charts the route's requests from http.server.request.duration", async () => {
    // Every request sent has reached the store as histogram counts (exports run every 500 ms).
    await waitUntil(() => {
      const points = viewer.store.points('http.server.request.duration', { service: SERVICE });
      const series = routeSeries(points, Date.now() - 5 * 60_000, Date.now() + 1000, 1000);
      return (
        series.find((s) => s.route === '/api/v1/orders')?.requests === 2 &&
        series.find((s) => s.route === '/api/v1/users/:id')?.requests === 3
      );
    }, 'the request counts in the metric points');
    const { page } = browser;
    await page.goto(
      `${viewer.uiUrl}#/metrics?service=${SERVICE}&range=1&route=${encodeURIComponent('/api/v1/orders')}`,
    );
    const row = page.locator('tr[data-route="/api/v1/orders"]');
    await expect.poll(() => row.locator('td').nth(1).textContent(), POLL).toBe('2');
    await expect.poll(() => row.locator('td').nth(2).textContent(), POLL).toBe('1');
    await expect.poll(() => page.locator('tr[data-route="/api/v1/users/:id"] td').nth(1).textContent(), POLL).toBe('3');
    for (const chart of ['chart-rate', 'chart-errors', 'chart-latency']) {
      await page.getByTestId(chart).locator('canvas').waitFor({ state: 'visible' });
    }
    await expect.poll(() => page.getByTestId('chart-rate').textContent(), POLL).toContain('/api/v1/orders');
    await page.screenshot({ path: screenshotPath('metrics'), fullPage: true });
  });

  it('updates the trace list live while traffic flows', async () => {
    const { page } = browser;
    await page.goto(`${viewer.uiUrl}#/traces`);
    await page.locator(`tr[data-trace-id="${traceId}"]`).waitFor({ state: 'visible' });
    const liveTrace = randomBytes(16).toString('hex');
    expect(await send('/api/v1/users/7', { headers: { traceparent: `00-${liveTrace}-${parentSpanId}-01` } })).toBe(200);
    await page.locator(`tr[data-trace-id="${liveTrace}"]`).waitFor({ state: 'visible', timeout: 15_000 });
    expect(browser.pageErrors).toEqual([]);
  });
});
