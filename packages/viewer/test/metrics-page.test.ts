/**
 * The metrics page on hand-made OTLP metrics: an exemplar of http.server.request.duration opens its
 * trace, runtime metrics get their charts, and any metric can be charted by name.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startViewer, type Viewer } from '../src/viewer.js';
import { type Browser, hex, kv, postJson, startBrowser, tracesBody } from './helpers.js';

const POLL = { timeout: 15_000, interval: 100 };
const SERVICE = 'pay-svc';

let viewer: Viewer;
let browser: Browser;

const ns = (ms: number) => (BigInt(Math.round(ms)) * 1_000_000n).toString();

function metricsBody(traceId: string, spanId: string): string {
  const now = Date.now();
  const start = ns(now - 30_000);
  return JSON.stringify({
    resourceMetrics: [
      {
        resource: { attributes: kv({ 'service.name': SERVICE }) },
        scopeMetrics: [
          {
            scope: { name: 'viewer-test' },
            metrics: [
              {
                name: 'http.server.request.duration',
                unit: 's',
                histogram: {
                  aggregationTemporality: 2,
                  dataPoints: [
                    {
                      attributes: kv({
                        'http.route': '/pay',
                        'http.request.method': 'POST',
                        'http.response.status_code': 200,
                      }),
                      startTimeUnixNano: start,
                      timeUnixNano: ns(now - 2000),
                      count: '4',
                      sum: 0.2,
                      bucketCounts: ['1', '2', '1', '0'],
                      explicitBounds: [0.01, 0.1, 1],
                      exemplars: [{ timeUnixNano: ns(now - 2500), asDouble: 0.42, traceId, spanId }],
                    },
                  ],
                },
              },
              {
                name: 'nodejs.eventloop.utilization',
                unit: '1',
                gauge: { dataPoints: [{ attributes: [], timeUnixNano: ns(now - 2000), asDouble: 0.25 }] },
              },
              {
                name: 'queue.depth',
                unit: '{message}',
                gauge: {
                  dataPoints: [{ attributes: kv({ queue: 'orders' }), timeUnixNano: ns(now - 2000), asInt: '17' }],
                },
              },
            ],
          },
        ],
      },
    ],
  });
}

beforeAll(async () => {
  viewer = await startViewer({ otlpPort: 0, uiPort: 0 });
  browser = await startBrowser();
});

afterAll(async () => {
  await browser?.close();
  await viewer?.close();
});

describe('the metrics page', () => {
  it('links exemplars to their trace, charts runtime metrics and any metric by name', async () => {
    const traceId = hex(32);
    const spanId = hex(16);
    expect(
      await postJson(
        viewer.otlpUrl,
        'traces',
        tracesBody(SERVICE, [
          { traceId, spanId, name: 'POST /pay', kind: 2, startMs: Date.now() - 2500, durationMs: 420 },
        ]),
      ),
    ).toBe(200);
    expect(await postJson(viewer.otlpUrl, 'metrics', metricsBody(traceId, spanId))).toBe(200);
    const { page } = browser;
    await page.goto(`${viewer.uiUrl}#/metrics?service=${SERVICE}&route=/pay`);
    await expect.poll(() => page.locator('tr[data-route="/pay"] td').nth(1).textContent(), POLL).toBe('4');
    await page.getByTestId('metric-nodejs.eventloop.utilization').locator('canvas').waitFor();
    const exemplar = page.getByTestId('exemplars').getByRole('link', { name: `420 ms · trace ${traceId.slice(0, 8)}` });
    await exemplar.click();
    await expect.poll(() => page.getByTestId('trace-id').textContent(), POLL).toBe(traceId);

    await page.goto(`${viewer.uiUrl}#/metrics?service=${SERVICE}`);
    await page.locator('select[name="metric"]').selectOption('queue.depth');
    const chart = page.getByTestId('metric-queue.depth');
    await expect.poll(() => chart.textContent(), POLL).toContain('queue=orders');
    await chart.locator('canvas').waitFor();
    expect(browser.pageErrors).toEqual([]);
  });
});
