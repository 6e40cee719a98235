/** The viewer's single-page UI: header with the views, hash routing, live-connection state. */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, html, parseHash, useLiveConnected, useLiveTick } from './lib.js';
import { LogsView } from './logs.js';
import { MetricsView } from './metrics.js';
import { TraceView } from './trace.js';
import { TracesView } from './traces.js';

function Stats() {
  const tick = useLiveTick(true, 2000);
  const [stats, setStats] = useState(null);
  useEffect(() => {
    api('/api/stats').then(setStats, () => {});
  }, [tick]);
  if (!stats) return null;
  const dropped = stats.dropped.spans + stats.dropped.logs + stats.dropped.points;
  return html`<span class="stats" title="what the store holds">
    ${stats.traces} traces · ${stats.spans} spans · ${stats.logs} logs · ${stats.points} points · ${(stats.bytes / 1048576).toFixed(1)} MiB
    ${dropped ? html` · <span class="warn-text" title="deleted by the age and size bounds">${dropped} dropped</span>` : null}
    ${stats.rejected.badRequests ? html` · <span class="warn-text">${stats.rejected.badRequests} bad requests</span>` : null}
  </span>`;
}

function App() {
  const [route, setRoute] = useState(parseHash());
  useEffect(() => {
    const on = () => setRoute(parseHash());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  const connected = useLiveConnected();
  const [view = 'traces', id] = route.path;
  const tab = (name, label) =>
    html`<a class=${view === name || (name === 'traces' && view === 'trace') ? 'tab active' : 'tab'} href=${`#/${name}`}>${label}</a>`;
  let body;
  if (view === 'trace' && id) body = html`<${TraceView} key=${id} traceId=${id} />`;
  else if (view === 'logs') body = html`<${LogsView} params=${route.params} />`;
  else if (view === 'metrics') body = html`<${MetricsView} params=${route.params} />`;
  else body = html`<${TracesView} params=${route.params} />`;
  return html`<header>
      <span class="brand">obs<b>dev</b></span>
      <nav>${tab('traces', 'Traces')}${tab('logs', 'Logs')}${tab('metrics', 'Metrics')}</nav>
      <span class="spacer"></span>
      <${Stats} />
      <span class=${connected ? 'live on' : 'live'} title="live updates">${connected ? 'live' : 'offline'}</span>
    </header>
    <main>${body}</main>`;
}

render(html`<${App} />`, document.getElementById('app'));
