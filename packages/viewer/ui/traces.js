/** The trace list: filters, lookup by trace id or request id, live refresh. */
import { useEffect, useState } from 'preact/hooks';
import { Input, Select } from './components.js';
import { api, formatDuration, formatTime, href, html, serviceColor, setParams, useLiveTick } from './lib.js';

/** Time ranges offered, minutes (0: all). */
const RANGES = [
  { value: '5', label: 'last 5 min' },
  { value: '15', label: 'last 15 min' },
  { value: '60', label: 'last hour' },
  { value: '360', label: 'last 6 hours' },
  { value: '1440', label: 'last 24 hours' },
];

/** What a lookup text is: a 32-hex trace id, else a request id. */
function lookupParams(text) {
  const t = (text ?? '').trim();
  if (!t) return {};
  return /^[0-9a-f]{32}$/i.test(t) ? { traceId: t } : { requestId: t };
}

export function TracesView({ params }) {
  const f = Object.fromEntries(params);
  const set = (patch) => setParams('traces', { ...f, ...patch });
  const [services, setServices] = useState([]);
  const [routes, setRoutes] = useState([]);
  const [rows, setRows] = useState(null);
  const [error, setError] = useState(null);
  const [paused, setPaused] = useState(false);
  const tick = useLiveTick(!paused);

  useEffect(() => {
    api('/api/services').then(setServices, () => {});
    api('/api/routes', { service: f.service }).then(setRoutes, () => {});
  }, [tick, f.service]);

  const key = params.toString();
  useEffect(() => {
    const minutes = Number(f.range || 0);
    api('/api/traces', {
      service: f.service,
      route: f.route,
      status: f.status,
      minDurationMs: f.minDurationMs,
      attribute: f.attribute,
      from: minutes ? Date.now() - minutes * 60_000 : undefined,
      limit: 200,
      ...lookupParams(f.lookup),
    }).then(
      (r) => {
        setRows(r);
        setError(null);
      },
      (e) => setError(String(e)),
    );
  }, [key, tick]);

  return html`<section class="view">
    <form class="filters" onSubmit=${(e) => e.preventDefault()}>
      <${Input}
        label="Trace id or request id"
        name="lookup"
        value=${f.lookup}
        placeholder="4bf92f35… or X-Request-Id"
        width="22em"
        onChange=${(v) => set({ lookup: v })}
      />
      <${Select} label="Service" name="service" value=${f.service} options=${services} onChange=${(v) => set({ service: v, route: '' })} />
      <${Select} label="Route" name="route" value=${f.route} options=${routes} onChange=${(v) => set({ route: v })} />
      <${Select}
        label="Status"
        name="status"
        value=${f.status}
        options=${[{ value: 'error', label: 'error' }, { value: 'ok', label: 'no error' }]}
        onChange=${(v) => set({ status: v })}
      />
      <${Input} label="Min duration (ms)" name="minDurationMs" value=${f.minDurationMs} width="6em" onChange=${(v) => set({ minDurationMs: v })} />
      <${Input}
        label="Attribute"
        name="attribute"
        value=${f.attribute}
        placeholder="key=value"
        onChange=${(v) => set({ attribute: v })}
      />
      <${Select} label="Time" name="range" value=${f.range} options=${RANGES} any="all" onChange=${(v) => set({ range: v })} />
      <label class="field toggle"><input type="checkbox" checked=${!paused} onChange=${() => setPaused(!paused)} /> live</label>
    </form>
    ${error ? html`<div class="error-box">${error}</div>` : null}
    ${
      rows === null
        ? html`<div class="muted pad">loading…</div>`
        : rows.length === 0
          ? html`<div class="empty">No traces match. Point an OpenTelemetry SDK at the OTLP endpoint and send some requests.</div>`
          : html`<table class="grid traces" data-testid="trace-list">
            <thead>
              <tr>
                <th>Service</th>
                <th>Root</th>
                <th>Start</th>
                <th class="num">Duration</th>
                <th>Status</th>
                <th class="num">Spans</th>
              </tr>
            </thead>
            <tbody>
              ${rows.map(
                (t) => html`<tr key=${t.traceId} class=${t.errorCount ? 'row-error' : ''} data-trace-id=${t.traceId}>
                  <td>
                    <span class="dot" style=${`background:${serviceColor(t.service)}`}></span>${t.service}${
                      t.services.length > 1 ? html` <span class="muted">+${t.services.length - 1}</span>` : null
                    }
                  </td>
                  <td><a href=${href('trace', t.traceId)}>${t.name}</a></td>
                  <td class="mono">${formatTime(t.startMs)}</td>
                  <td class="num mono">${formatDuration(t.durationMs)}</td>
                  <td>
                    ${
                      t.errorCount
                        ? html`<span class="badge error">ERROR ${t.errorCount > 1 ? `×${t.errorCount}` : ''}</span>`
                        : html`<span class="badge ok">OK</span>`
                    }
                    ${t.httpStatus ? html` <span class="muted mono">${t.httpStatus}</span>` : null}
                  </td>
                  <td class="num mono">${t.spanCount}</td>
                </tr>`,
              )}
            </tbody>
          </table>`
    }
  </section>`;
}
