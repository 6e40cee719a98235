/** Small building blocks: long values, attribute tables, selects, the uPlot chart. */
import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import { html, PREVIEW_CHARS, valueText } from './lib.js';

/**
 * A value as text; past {@link PREVIEW_CHARS} characters only the start is rendered, with a button
 * that shows up to 200 000 characters (a 1 MiB attribute never lands in the DOM at once).
 */
export function Value({ value }) {
  const text = valueText(value);
  const [limit, setLimit] = useState(PREVIEW_CHARS);
  if (text.length <= limit) return html`<span class="value">${text}</span>`;
  return html`<span class="value"
    >${text.slice(0, limit)}<span class="muted">… </span
    ><button class="link" onClick=${() => setLimit(limit * 100)}>
      show more (${(text.length / 1024).toFixed(0)} KiB)
    </button></span
  >`;
}

/** Key/value table of an attribute map. */
export function Attributes({ attributes, title }) {
  const entries = Object.entries(attributes ?? {});
  if (entries.length === 0) return null;
  return html`<div class="attrs">
    ${title ? html`<div class="attrs-title">${title}</div>` : null}
    <table>
      <tbody>
        ${entries.map(
          ([k, v]) => html`<tr key=${k}>
            <th>${k}</th>
            <td><${Value} value=${v} /></td>
          </tr>`,
        )}
      </tbody>
    </table>
  </div>`;
}

/** A labelled `<select>` with an "any" option. */
export function Select({ label, value, options, onChange, any = 'any', name }) {
  return html`<label class="field"
    >${label}
    <select name=${name} value=${value ?? ''} onChange=${(e) => onChange(e.currentTarget.value)}>
      ${any === null ? null : html`<option value="">${any}</option>`}
      ${options.map((o) =>
        typeof o === 'string'
          ? html`<option value=${o}>${o}</option>`
          : html`<option value=${o.value}>${o.label}</option>`,
      )}
    </select></label
  >`;
}

/** A labelled text input that reports on Enter and on blur. */
export function Input({ label, value, onChange, placeholder, name, width }) {
  const [text, setText] = useState(value ?? '');
  useEffect(() => setText(value ?? ''), [value]);
  const commit = () => text !== (value ?? '') && onChange(text);
  return html`<label class="field"
    >${label}
    <input
      name=${name}
      style=${width ? `width:${width}` : ''}
      value=${text}
      placeholder=${placeholder}
      onInput=${(e) => setText(e.currentTarget.value)}
      onKeyDown=${(e) => e.key === 'Enter' && commit()}
      onBlur=${commit}
  /></label>`;
}

const AXIS = { stroke: '#6b7280', grid: { stroke: '#eef0f4' }, ticks: { stroke: '#e5e7eb' } };

/**
 * A uPlot time-series chart. `series`: `[{ label, values, color, points? }]` aligned on `times`
 * (seconds). `onPoint(seriesIndex, dataIndex)` is called when a point of a `points` series is clicked.
 */
export function Chart({ title, times, series, unit = '', height = 180, onPoint, testId }) {
  const box = useRef(null);
  const plot = useRef(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return undefined;
    const opts = {
      width: Math.max(200, el.clientWidth),
      height,
      legend: { show: true, live: true },
      cursor: { drag: { x: false, y: false }, points: { size: 7 } },
      scales: { x: { time: true } },
      axes: [AXIS, { ...AXIS, size: 56, values: (_u, ticks) => ticks.map((t) => `${fmt(t)}${unit}`) }],
      series: [
        {},
        ...series.map((s) =>
          s.points
            ? {
                label: s.label,
                stroke: s.color,
                fill: s.color,
                paths: () => null,
                points: { show: true, size: 9, fill: s.color },
              }
            : {
                label: s.label,
                stroke: s.color,
                width: 1.6,
                spanGaps: true,
                points: { show: true, size: 4, fill: s.color },
              },
        ),
      ],
    };
    const u = new uPlot(opts, [times, ...series.map((s) => s.values)], el);
    plot.current = u;
    const onClick = () => {
      const idx = u.cursor.idx;
      if (idx === null || idx === undefined || !onPoint) return;
      series.forEach((s, i) => {
        if (s.points && s.values[idx] !== null && s.values[idx] !== undefined) onPoint(i, idx);
      });
    };
    u.over.addEventListener('click', onClick);
    const resize = new ResizeObserver(() => u.setSize({ width: Math.max(200, el.clientWidth), height }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      u.destroy();
    };
  }, [times, series, height, unit, onPoint]);
  return html`<div class="chart" data-testid=${testId}>
    <div class="chart-title">${title}</div>
    <div ref=${box}></div>
  </div>`;
}

function fmt(v) {
  if (v === null || v === undefined) return '';
  const a = Math.abs(v);
  if (a >= 1e6) return `${(v / 1e6).toFixed(1)}M`;
  if (a >= 1e3) return `${(v / 1e3).toFixed(1)}k`;
  if (a >= 10 || a === 0) return String(Math.round(v));
  return String(Number(v.toPrecision(2)));
}
