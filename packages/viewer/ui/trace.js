/**
 * One trace: a waterfall across services (virtualised: only the rows in view are in the DOM, so a
 * 10 000-span trace scrolls like a 10-span one), the selected span's details (attributes, events and
 * exceptions, links, resource) and the trace's log lines.
 */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { Attributes, Value } from './components.js';
import {
  api,
  formatDuration,
  formatTime,
  href,
  html,
  KINDS,
  levelOf,
  STATUS,
  serviceColor,
  useLiveTick,
} from './lib.js';

const ROW = 26;
const VIEW_ROWS = 22;
const OVERSCAN = 10;

/** Spans in tree order (children by start time) with their depth; orphans (parent not here) are roots. */
export function treeOrder(spans) {
  const ids = new Set(spans.map((s) => s.spanId));
  const children = new Map();
  const roots = [];
  for (const s of spans) {
    if (s.parentSpanId && s.parentSpanId !== s.spanId && ids.has(s.parentSpanId)) {
      const list = children.get(s.parentSpanId);
      if (list) list.push(s);
      else children.set(s.parentSpanId, [s]);
    } else roots.push(s);
  }
  const out = [];
  const seen = new Set();
  const stack = roots.reverse().map((s) => [s, 0]);
  while (stack.length) {
    const [s, depth] = stack.pop();
    if (seen.has(s.spanId)) continue;
    seen.add(s.spanId);
    out.push({ span: s, depth });
    const kids = children.get(s.spanId) ?? [];
    for (let i = kids.length - 1; i >= 0; i--) stack.push([kids[i], depth + 1]);
  }
  for (const s of spans) if (!seen.has(s.spanId)) out.push({ span: s, depth: 0 });
  return out;
}

function Waterfall({ rows, startUs, totalUs, selected, onSelect }) {
  const box = useRef(null);
  const [top, setTop] = useState(0);
  const first = Math.max(0, Math.floor(top / ROW) - OVERSCAN);
  const last = Math.min(rows.length, Math.ceil((top + VIEW_ROWS * ROW) / ROW) + OVERSCAN);
  const visible = rows.slice(first, last);
  return html`<div class="waterfall" data-testid="waterfall">
    <div class="wf-head">
      <div class="wf-name">Span</div>
      <div class="wf-timeline">
        ${[0, 0.25, 0.5, 0.75, 1].map(
          (f) =>
            html`<span class="tick" style=${`left:${f * 100}%`}>${f === 0 ? '0' : formatDuration((totalUs * f) / 1000)}</span>`,
        )}
      </div>
    </div>
    <div
      class="wf-body"
      ref=${box}
      style=${`height:${Math.min(rows.length, VIEW_ROWS) * ROW + 2}px`}
      onScroll=${(e) => setTop(e.currentTarget.scrollTop)}
    >
      <div style=${`height:${rows.length * ROW}px;position:relative`}>
        ${visible.map(({ span: s, depth }, i) => {
          const left = totalUs > 0 ? ((s.startUs - startUs) / totalUs) * 100 : 0;
          const width = totalUs > 0 ? Math.max(0.2, (s.durationUs / totalUs) * 100) : 100;
          const error = s.statusCode === 2;
          return html`<div
            key=${s.spanId}
            class=${`wf-row${selected === s.spanId ? ' selected' : ''}${error ? ' error' : ''}`}
            style=${`top:${(first + i) * ROW}px`}
            data-span-name=${s.name}
            data-status=${STATUS[s.statusCode] ?? s.statusCode}
            onClick=${() => onSelect(s.spanId)}
          >
            <div class="wf-name" style=${`padding-left:${8 + Math.min(depth, 40) * 14}px`} title=${s.name}>
              <span class="dot" style=${`background:${serviceColor(s.service)}`}></span>
              <span class="wf-label">${s.name}</span>
              <span class="kind">${KINDS[s.kind]?.toLowerCase() ?? s.kind}</span>
              ${error ? html`<span class="badge error">ERROR</span>` : null}
              ${s.events.some((e) => e.name === 'exception') ? html`<span class="badge warn" title="exception">!</span>` : null}
            </div>
            <div class="wf-timeline">
              <div
                class="bar"
                style=${`left:${left}%;width:${width}%;background:${error ? '#dc2626' : serviceColor(s.service)}`}
              ></div>
              <span class="bar-label" style=${left + width > 85 ? `right:${100 - left}%` : `left:${left + width}%`}>${formatDuration(s.durationUs / 1000)}</span>
            </div>
          </div>`;
        })}
      </div>
    </div>
  </div>`;
}

function SpanDetails({ span, traceStartUs }) {
  if (!span) return html`<div class="muted pad">Select a span to see its attributes, events and links.</div>`;
  return html`<div class="details" data-testid="span-details">
    <h3>${span.name}</h3>
    <div class="kv-line">
      <span><b>service</b> ${span.service}</span>
      <span><b>kind</b> ${KINDS[span.kind] ?? span.kind}</span>
      <span><b>status</b> <span class=${span.statusCode === 2 ? 'badge error' : 'badge ok'}>${STATUS[span.statusCode]}</span>
        ${span.statusMessage ? html` <${Value} value=${span.statusMessage} />` : null}</span>
      <span><b>duration</b> ${formatDuration(span.durationUs / 1000)}</span>
      <span><b>starts at</b> +${formatDuration((span.startUs - traceStartUs) / 1000)}</span>
      <span class="mono"><b>span</b> ${span.spanId}</span>
      ${span.parentSpanId ? html`<span class="mono"><b>parent</b> ${span.parentSpanId}</span>` : null}
      <span><b>scope</b> ${span.scope}</span>
    </div>
    <${Attributes} title="Attributes" attributes=${span.attributes} />
    ${
      span.events.length
        ? html`<div class="attrs-title">Events</div>
          ${span.events.map(
            (e, i) => html`<div key=${i} class=${`event${e.name === 'exception' ? ' exception' : ''}`}>
              <div><b>${e.name}</b> <span class="muted">+${formatDuration((e.timeUs - traceStartUs) / 1000)}</span></div>
              ${
                e.name === 'exception'
                  ? html`<div class="exc">
                      <b>${valueOr(e.attributes['exception.type'], 'Error')}</b>: <${Value} value=${valueOr(e.attributes['exception.message'], '')} />
                    </div>
                    ${
                      e.attributes['exception.stacktrace']
                        ? html`<pre class="stack"><${Value} value=${e.attributes['exception.stacktrace']} /></pre>`
                        : null
                    }`
                  : html`<${Attributes} attributes=${e.attributes} />`
              }
            </div>`,
          )}`
        : null
    }
    ${
      span.links.length
        ? html`<div class="attrs-title">Links</div>
          ${span.links.map(
            (l, i) => html`<div key=${i} class="link-row">
              <a class="mono" href=${href('trace', l.traceId)}>${l.traceId}</a> <span class="mono muted">${l.spanId}</span>
              <${Attributes} attributes=${l.attributes} />
            </div>`,
          )}`
        : null
    }
    <${Attributes} title="Resource" attributes=${span.resource} />
  </div>`;
}

function valueOr(v, fallback) {
  return v === undefined || v === null ? fallback : v;
}

/** Log lines, shared by the trace view and the logs view. */
export function LogTable({ logs, showTrace = true, onSpan, testId = 'log-table' }) {
  if (logs.length === 0) return html`<div class="empty">No log records.</div>`;
  return html`<table class="grid logs" data-testid=${testId}>
    <tbody>
      ${logs.map((l) => {
        const level = levelOf(l);
        return html`<tr key=${l.id} class=${`log-${level}`}>
          <td class="mono nowrap">${formatTime(l.timeUs / 1000)}</td>
          <td><span class=${`badge lvl-${level}`}>${level.toUpperCase()}</span></td>
          <td class="nowrap"><span class="dot" style=${`background:${serviceColor(l.service)}`}></span>${l.service}</td>
          <td class="msg">
            <${Value} value=${l.body} />
            ${attrsPreview(l.attributes)}
          </td>
          <td class="nowrap">
            ${l.spanId && onSpan ? html`<button class="link mono" onClick=${() => onSpan(l.spanId)}>span</button>` : null}
            ${showTrace && l.traceId ? html`<a class="mono" href=${href('trace', l.traceId)}>trace ${l.traceId.slice(0, 8)}</a>` : null}
          </td>
        </tr>`;
      })}
    </tbody>
  </table>`;
}

/** Fields every @obs line repeats, shown elsewhere in the row (time, service, trace link). */
const HIDDEN_LOG_ATTRIBUTES = new Set(['trace_id', 'span_id', 'trace_flags', 'time', 'service']);

function attrsPreview(attributes) {
  const entries = Object.entries(attributes).filter(([k]) => !HIDDEN_LOG_ATTRIBUTES.has(k));
  if (entries.length === 0) return null;
  return html`<div class="log-attrs">
    ${entries
      .slice(0, 12)
      .map(([k, v]) => html`<span key=${k} class="chip"><b>${k}</b>=<${Value} value=${v} /></span>`)}
    ${entries.length > 12 ? html`<span class="muted">+${entries.length - 12} more</span>` : null}
  </div>`;
}

export function TraceView({ traceId }) {
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  const [selected, setSelected] = useState(null);
  const tick = useLiveTick(true, 2000);
  useEffect(() => {
    api(`/api/traces/${encodeURIComponent(traceId)}`).then(
      (d) => {
        setData(d);
        setError(null);
      },
      (e) => setError(String(e)),
    );
  }, [traceId, tick]);
  const rows = useMemo(() => (data ? treeOrder(data.spans) : []), [data]);
  useEffect(() => {
    if (selected === null && rows.length) setSelected(rows[0].span.spanId);
  }, [rows]);
  if (error) return html`<div class="error-box">${error}</div>`;
  if (!data) return html`<div class="muted pad">loading…</div>`;
  if (data.spans.length === 0) return html`<div class="empty">Trace ${traceId} is not (yet) in the store.</div>`;
  let startUs = Number.POSITIVE_INFINITY;
  let endUs = 0;
  for (const s of data.spans) {
    startUs = Math.min(startUs, s.startUs);
    endUs = Math.max(endUs, s.startUs + s.durationUs);
  }
  const services = [...new Set(data.spans.map((s) => s.service))];
  const errors = data.spans.filter((s) => s.statusCode === 2).length;
  const span = data.spans.find((s) => s.spanId === selected);
  return html`<section class="view">
    <div class="trace-head">
      <a href="#/traces">← traces</a>
      <h2>${rows[0]?.span.name}</h2>
      <span class="mono muted" data-testid="trace-id">${traceId}</span>
      <span><b>${formatDuration((endUs - startUs) / 1000)}</b></span>
      <span>${data.spanCount} spans${data.spanCount > data.spans.length ? ` (first ${data.spans.length} shown)` : ''}</span>
      <span>${services.map((s) => html`<span key=${s} class="chip"><span class="dot" style=${`background:${serviceColor(s)}`}></span>${s}</span>`)}</span>
      ${errors ? html`<span class="badge error">${errors} error${errors > 1 ? 's' : ''}</span>` : null}
      <span class="muted">${formatTime(startUs / 1000)}</span>
    </div>
    <${Waterfall} rows=${rows} startUs=${startUs} totalUs=${endUs - startUs} selected=${selected} onSelect=${setSelected} />
    <div class="split">
      <div class="panel"><${SpanDetails} span=${span} traceStartUs=${startUs} /></div>
      <div class="panel">
        <h3>Logs of this trace <span class="muted">(${data.logs.length})</span></h3>
        <${LogTable} logs=${data.logs} showTrace=${false} onSpan=${setSelected} testId="trace-logs" />
      </div>
    </div>
  </section>`;
}
