/**
 * Metrics: per service and route, request rate, error ratio and p50/p95/p99 over time from
 * `http.server.request.duration` (exemplar points open their trace), the runtime metrics, and any
 * metric by name. Charts are uPlot.
 */
import { useEffect, useMemo, useState } from 'preact/hooks';
import { Chart, Select } from './components.js';
import { api, formatDuration, html, setParams, useLiveTick } from './lib.js';

const RANGES = [
  { value: '1', label: 'last minute' },
  { value: '5', label: 'last 5 min' },
  { value: '15', label: 'last 15 min' },
  { value: '60', label: 'last hour' },
  { value: '360', label: 'last 6 hours' },
  { value: '1440', label: 'last 24 hours' },
];
const RUNTIME = /^(nodejs|v8js|process|jvm|go|dotnet|runtime)\./;

function window_(rangeMinutes) {
  const to = Date.now();
  const from = to - rangeMinutes * 60_000;
  return { from, to, step: Math.max(1000, Math.round((to - from) / 120 / 1000) * 1000) };
}

function MetricByName({ name, service, range, tick }) {
  const [chart, setChart] = useState(null);
  useEffect(() => {
    if (!name) return;
    api('/api/metrics/chart', { name, service, ...window_(range) }).then(setChart, () => setChart(null));
  }, [name, service, range, tick]);
  const series = useMemo(
    () =>
      chart ? chart.series.map((s, i) => ({ label: s.label, values: s.values, color: COLORS[i % COLORS.length] })) : [],
    [chart],
  );
  if (!chart) return null;
  return html`<${Chart}
    title=${`${chart.name} — ${chart.measure}${chart.unit ? ` (${chart.unit})` : ''}`}
    times=${chart.times}
    series=${series}
    testId=${`metric-${chart.name}`}
  />`;
}

const COLORS = [
  '#4f7cff',
  '#16a37f',
  '#e08a00',
  '#b35cf0',
  '#0ea5c6',
  '#d9467a',
  '#6b8e23',
  '#8b5cf6',
  '#64748b',
  '#ef4444',
  '#14b8a6',
  '#a16207',
];

export function MetricsView({ params }) {
  const f = Object.fromEntries(params);
  const set = (patch) => setParams('metrics', { ...f, ...patch });
  const range = Number(f.range || 5);
  const tick = useLiveTick(true, 2000);
  const [services, setServices] = useState([]);
  const [names, setNames] = useState([]);
  const [routes, setRoutes] = useState(null);
  const service = f.service || services[0] || '';
  useEffect(() => {
    api('/api/services').then(setServices, () => {});
  }, [tick]);
  useEffect(() => {
    if (!service) return;
    api('/api/metrics/names', { service }).then(setNames, () => {});
    api('/api/metrics/http', { service, ...window_(range) }).then(setRoutes, () => setRoutes([]));
  }, [service, range, tick]);
  const route = (routes ?? []).find((r) => r.route === (f.route || '(all routes)')) ?? routes?.[0];
  const charts = useMemo(() => {
    if (!route) return null;
    const exemplar = route.times.map(() => null);
    const traceAt = new Map();
    for (const e of route.exemplars) {
      const i = Math.min(
        route.times.length - 1,
        Math.max(0, Math.round((e.time - route.times[0]) / ((route.times[1] ?? route.times[0] + 1) - route.times[0]))),
      );
      exemplar[i] = e.valueMs;
      traceAt.set(i, e.traceId);
    }
    return {
      rate: [{ label: 'req/s', values: route.rate, color: '#4f7cff' }],
      errors: [
        { label: 'error %', values: route.errorRatio.map((v) => (v === null ? null : v * 100)), color: '#dc2626' },
      ],
      latency: [
        { label: 'p50', values: route.p50, color: '#16a37f' },
        { label: 'p95', values: route.p95, color: '#e08a00' },
        { label: 'p99', values: route.p99, color: '#b35cf0' },
        ...(route.exemplars.length ? [{ label: 'exemplars', values: exemplar, color: '#111827', points: true }] : []),
      ],
      traceAt,
    };
  }, [route]);
  const runtime = names.filter((n) => RUNTIME.test(n.name)).slice(0, 8);
  return html`<section class="view">
    <form class="filters" onSubmit=${(e) => e.preventDefault()}>
      <${Select} label="Service" name="service" value=${service} options=${services} any=${null} onChange=${(v) => set({ service: v, route: '' })} />
      <${Select} label="Time" name="range" value=${String(range)} options=${RANGES} any=${null} onChange=${(v) => set({ range: v })} />
      <${Select}
        label="Any metric"
        name="metric"
        value=${f.metric}
        options=${names.map((n) => n.name)}
        any="choose…"
        onChange=${(v) => set({ metric: v })}
      />
    </form>
    ${f.metric ? html`<div class="panel"><${MetricByName} name=${f.metric} service=${service} range=${range} tick=${tick} /></div>` : null}
    <h3>HTTP server <span class="muted">http.server.request.duration</span></h3>
    ${
      routes === null
        ? html`<div class="muted pad">loading…</div>`
        : routes.length === 0
          ? html`<div class="empty">No http.server.request.duration points for ${service || 'any service'} in this range yet (they arrive every metric export interval).</div>`
          : html`<div class="metrics-grid">
            <table class="grid routes" data-testid="route-table">
              <thead>
                <tr><th>Route</th><th class="num">Requests</th><th class="num">Errors</th><th class="num">p95</th></tr>
              </thead>
              <tbody>
                ${routes.map((r) => {
                  const errors = r.errorRatio.reduce(
                    (a, v, i) => a + (v ?? 0) * r.rate[i] * ((r.times[1] ?? r.times[0] + 1) - r.times[0]),
                    0,
                  );
                  const p95 = r.p95.filter((v) => v !== null);
                  return html`<tr
                    key=${r.route}
                    class=${r === route ? 'selected' : ''}
                    data-route=${r.route}
                    onClick=${() => set({ route: r.route })}
                  >
                    <td>${r.route}</td>
                    <td class="num mono">${Math.round(r.requests)}</td>
                    <td class="num mono">${Math.round(errors)}</td>
                    <td class="num mono">${p95.length ? formatDuration(Math.max(...p95)) : '–'}</td>
                  </tr>`;
                })}
              </tbody>
            </table>
            ${
              charts
                ? html`<div class="charts">
                  <${Chart} title=${`Request rate — ${route.route}`} times=${route.times} series=${charts.rate} unit="/s" testId="chart-rate" />
                  <${Chart} title=${`Error ratio — ${route.route}`} times=${route.times} series=${charts.errors} unit="%" testId="chart-errors" />
                  <${Chart}
                    title=${`Latency p50 / p95 / p99 — ${route.route}${route.exemplars.length ? ' (click an exemplar to open its trace)' : ''}`}
                    times=${route.times}
                    series=${charts.latency}
                    unit="ms"
                    testId="chart-latency"
                    onPoint=${(_s, i) => {
                      const t = charts.traceAt.get(i);
                      if (t) location.hash = `#/trace/${t}`;
                    }}
                  />
                  ${
                    route.exemplars.length
                      ? html`<div class="exemplars" data-testid="exemplars">
                        Exemplars:
                        ${route.exemplars.slice(-20).map(
                          (e) => html`<a key=${e.traceId} class="chip mono" href=${`#/trace/${e.traceId}`}
                            >${formatDuration(e.valueMs)} · trace ${e.traceId.slice(0, 8)}</a
                          >`,
                        )}
                      </div>`
                      : null
                  }
                </div>`
                : null
            }
          </div>`
    }
    ${
      runtime.length
        ? html`<h3>Runtime</h3>
          <div class="runtime-grid">
            ${runtime.map((n) => html`<${MetricByName} key=${n.name} name=${n.name} service=${service} range=${range} tick=${tick} />`)}
          </div>`
        : null
    }
  </section>`;
}
