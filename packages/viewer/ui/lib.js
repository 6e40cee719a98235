/**
 * Shared UI pieces: the htm binding for Preact, the JSON API client, the live-update hook, hash
 * routing and formatting. Everything renders through Preact, which sets text as text: telemetry is
 * never parsed as HTML.
 */
import htm from 'htm';
import { h } from 'preact';
import { useEffect, useState } from 'preact/hooks';

/** Tagged-template JSX for Preact. */
export const html = htm.bind(h);

/** GET a JSON API path with query parameters (empty values left out). */
export async function api(path, params = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const res = await fetch(`${path}${q.size ? `?${q}` : ''}`);
  if (!res.ok) throw new Error(`${res.status} ${await res.text()}`);
  return res.json();
}

const liveListeners = new Set();
let liveSource;
/** Connection state of the event stream, for the header. */
export const liveState = { connected: false, listeners: new Set() };

function ensureLive() {
  if (liveSource) return;
  liveSource = new EventSource('/api/live');
  liveSource.onopen = () => {
    liveState.connected = true;
    for (const l of liveState.listeners) l(true);
  };
  liveSource.onerror = () => {
    liveState.connected = false;
    for (const l of liveState.listeners) l(false);
  };
  liveSource.onmessage = (e) => {
    const counts = JSON.parse(e.data);
    for (const l of liveListeners) l(counts);
  };
}

/**
 * A counter that increases when new telemetry arrives (server-sent events), at most every `minMs`;
 * `enabled` false freezes it (paused views).
 */
export function useLiveTick(enabled = true, minMs = 1000) {
  const [tick, setTick] = useState(0);
  useEffect(() => {
    if (!enabled) return undefined;
    ensureLive();
    let last = 0;
    let timer;
    const listener = () => {
      const wait = Math.max(0, last + minMs - Date.now());
      if (timer) return;
      timer = setTimeout(() => {
        timer = undefined;
        last = Date.now();
        setTick((t) => t + 1);
      }, wait);
    };
    liveListeners.add(listener);
    return () => {
      liveListeners.delete(listener);
      clearTimeout(timer);
    };
  }, [enabled, minMs]);
  return tick;
}

/** Whether the event stream is connected. */
export function useLiveConnected() {
  const [connected, setConnected] = useState(liveState.connected);
  useEffect(() => {
    ensureLive();
    liveState.listeners.add(setConnected);
    return () => liveState.listeners.delete(setConnected);
  }, []);
  return connected;
}

/** The current hash route: `{ path: ['trace', id], params: URLSearchParams }`. */
export function parseHash(hash = location.hash) {
  const [path = '', query = ''] = hash.replace(/^#\/?/, '').split('?');
  return { path: path.split('/').filter(Boolean).map(decodeURIComponent), params: new URLSearchParams(query) };
}

/** A hash link: `href('trace', id)`, `href('traces', {}, { requestId })`. */
export function href(view, id, params = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  return `#/${view}${id ? `/${encodeURIComponent(id)}` : ''}${q.size ? `?${q}` : ''}`;
}

/** Navigates to a view with these query parameters (filters live in the address, so links keep them). */
export function setParams(view, params) {
  location.hash = href(view, undefined, params);
}

/** A duration in milliseconds, e.g. `812 µs`, `12.3 ms`, `1.24 s`. */
export function formatDuration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return '–';
  if (ms < 1) return `${Math.round(ms * 1000)} µs`;
  if (ms < 100) return `${ms.toFixed(1)} ms`;
  if (ms < 10_000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

/** A time of day with milliseconds, local time. */
export function formatTime(ms) {
  const d = new Date(ms);
  const pad = (n, w = 2) => String(n).padStart(w, '0');
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** Span kinds by OTLP number. */
export const KINDS = ['UNSPECIFIED', 'INTERNAL', 'SERVER', 'CLIENT', 'PRODUCER', 'CONSUMER'];
/** Span status names by OTLP code. */
export const STATUS = ['UNSET', 'OK', 'ERROR'];

/** Log level name of an OTLP severity number (or the text as sent). */
export function levelOf(log) {
  const n = log.severityNumber ?? 0;
  if (n >= 21) return 'fatal';
  if (n >= 17) return 'error';
  if (n >= 13) return 'warn';
  if (n >= 9) return 'info';
  if (n >= 5) return 'debug';
  if (n >= 1) return 'trace';
  return (log.severityText ?? 'log').toLowerCase();
}

/** Characters of a value shown before "show all". */
export const PREVIEW_CHARS = 2000;

/** A value as display text (strings as they are, the rest as JSON). */
export function valueText(v) {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** A stable colour per service name. */
export function serviceColor(name) {
  let hash = 0;
  for (let i = 0; i < name.length; i++) hash = (hash * 31 + name.charCodeAt(i)) | 0;
  const palette = ['#4f7cff', '#16a37f', '#b35cf0', '#e08a00', '#0ea5c6', '#d9467a', '#6b8e23', '#8b5cf6'];
  return palette[Math.abs(hash) % palette.length];
}
