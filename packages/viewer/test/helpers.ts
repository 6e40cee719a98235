/**
 * Test helpers: Debian's Chromium driven by playwright-core (never a downloaded browser), screenshots,
 * OTLP/JSON bodies, and waiting on the store.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';

/** Debian's chromium package. */
export const CHROMIUM = process.env.OBS_CHROMIUM ?? '/usr/bin/chromium';

/** A headless Chromium with a fresh profile; `close()` removes the profile. */
export interface Browser {
  context: BrowserContext;
  page: Page;
  /** Errors thrown in the page (uncaught), for the "no script ran / nothing broke" checks. */
  pageErrors: string[];
  close(): Promise<void>;
}

/** Starts Chromium headless, offline-friendly flags, a new `--user-data-dir`. */
export async function startBrowser(): Promise<Browser> {
  const userDataDir = mkdtempSync(join(tmpdir(), 'obs-viewer-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1440, height: 900 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(15_000);
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  return {
    context,
    page,
    pageErrors,
    async close() {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Where screenshots go: `docs/images` of the repository with `OBS_UPDATE_SCREENSHOTS=1` (to refresh
 * the ones the docs show), else `.obs-tmp/screenshots` (ignored by git).
 */
export function screenshotPath(name: string): string {
  const root = new URL('../../../', import.meta.url).pathname;
  const dir =
    process.env.OBS_UPDATE_SCREENSHOTS === '1' ? join(root, 'docs', 'images') : join(root, '.obs-tmp', 'screenshots');
  mkdirSync(dir, { recursive: true });
  return join(dir, `dev-viewer-${name}.png`);
}

/** Polls `fn` until it returns a truthy value (a throwing `fn` counts as "not yet"). */
export async function waitUntil<T>(
  fn: () => T | undefined | false | null,
  what: string,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** An OTLP/JSON `KeyValue` list from a plain object (strings, numbers, booleans). */
export function kv(attributes: Record<string, string | number | boolean>): unknown[] {
  return Object.entries(attributes).map(([key, v]) => ({
    key,
    value:
      typeof v === 'string'
        ? { stringValue: v }
        : typeof v === 'boolean'
          ? { boolValue: v }
          : Number.isInteger(v)
            ? { intValue: String(v) }
            : { doubleValue: v },
  }));
}

/** A span for {@link tracesBody}. */
export interface JsonSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind?: number;
  startMs: number;
  durationMs: number;
  attributes?: Record<string, string | number | boolean>;
  status?: { code: number; message?: string };
  events?: { name: string; timeMs: number; attributes?: Record<string, string | number | boolean> }[];
}

const ns = (ms: number) => (BigInt(Math.round(ms * 1000)) * 1000n).toString();

/** An OTLP/JSON `ExportTraceServiceRequest` of one service. */
export function tracesBody(service: string, spans: JsonSpan[]): string {
  return JSON.stringify({
    resourceSpans: [
      {
        resource: { attributes: kv({ 'service.name': service }) },
        scopeSpans: [
          {
            scope: { name: 'viewer-test' },
            spans: spans.map((s) => ({
              traceId: s.traceId,
              spanId: s.spanId,
              parentSpanId: s.parentSpanId ?? '',
              name: s.name,
              kind: s.kind ?? 1,
              startTimeUnixNano: ns(s.startMs),
              endTimeUnixNano: ns(s.startMs + s.durationMs),
              attributes: kv(s.attributes ?? {}),
              status: s.status ?? { code: 0 },
              events: (s.events ?? []).map((e) => ({
                name: e.name,
                timeUnixNano: ns(e.timeMs),
                attributes: kv(e.attributes ?? {}),
              })),
            })),
          },
        ],
      },
    ],
  });
}

/** An OTLP/JSON `ExportLogsServiceRequest` of one service. */
export function logsBody(
  service: string,
  logs: {
    timeMs: number;
    body: string;
    severityNumber?: number;
    traceId?: string;
    spanId?: string;
    attributes?: Record<string, string | number | boolean>;
  }[],
): string {
  return JSON.stringify({
    resourceLogs: [
      {
        resource: { attributes: kv({ 'service.name': service }) },
        scopeLogs: [
          {
            scope: { name: 'viewer-test' },
            logRecords: logs.map((l) => ({
              timeUnixNano: ns(l.timeMs),
              severityNumber: l.severityNumber ?? 9,
              body: { stringValue: l.body },
              attributes: kv(l.attributes ?? {}),
              traceId: l.traceId ?? '',
              spanId: l.spanId ?? '',
            })),
          },
        ],
      },
    ],
  });
}

/** POSTs an OTLP/JSON body to the receiver; resolves with the status. */
export async function postJson(otlpUrl: string, signal: 'traces' | 'logs' | 'metrics', body: string): Promise<number> {
  const res = await fetch(`${otlpUrl}/v1/${signal}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
  });
  await res.arrayBuffer();
  return res.status;
}

/** `n` random lowercase hex characters. */
export function hex(n: number): string {
  let s = '';
  while (s.length < n)
    s += Math.floor(Math.random() * 0x100000000)
      .toString(16)
      .padStart(8, '0');
  return s.slice(0, n);
}
