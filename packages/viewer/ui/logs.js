/** Logs: live tail and search by level, service, text and attribute; each line links to its trace. */
import { useEffect, useState } from 'preact/hooks';
import { Input, Select } from './components.js';
import { api, html, setParams, useLiveTick } from './lib.js';
import { LogTable } from './trace.js';

const LEVELS = [
  { value: '5', label: 'debug+' },
  { value: '9', label: 'info+' },
  { value: '13', label: 'warn+' },
  { value: '17', label: 'error+' },
];

export function LogsView({ params }) {
  const f = Object.fromEntries(params);
  const set = (patch) => setParams('logs', { ...f, ...patch });
  const [services, setServices] = useState([]);
  const [logs, setLogs] = useState(null);
  const [error, setError] = useState(null);
  const [paused, setPaused] = useState(false);
  const tick = useLiveTick(!paused);
  useEffect(() => {
    api('/api/services').then(setServices, () => {});
  }, [tick]);
  const key = params.toString();
  useEffect(() => {
    api('/api/logs', {
      service: f.service,
      minSeverity: f.level,
      text: f.text,
      attribute: f.attribute,
      traceId: f.traceId,
      limit: 500,
    }).then(
      (r) => {
        setLogs(r);
        setError(null);
      },
      (e) => setError(String(e)),
    );
  }, [key, tick]);
  return html`<section class="view">
    <form class="filters" onSubmit=${(e) => e.preventDefault()}>
      <${Input} label="Search text" name="text" value=${f.text} placeholder="words in the message" width="18em" onChange=${(v) => set({ text: v })} />
      <${Select} label="Level" name="level" value=${f.level} options=${LEVELS} onChange=${(v) => set({ level: v })} />
      <${Select} label="Service" name="service" value=${f.service} options=${services} onChange=${(v) => set({ service: v })} />
      <${Input} label="Attribute" name="attribute" value=${f.attribute} placeholder="request_id=abc" onChange=${(v) => set({ attribute: v })} />
      <label class="field toggle"><input type="checkbox" checked=${!paused} onChange=${() => setPaused(!paused)} /> live tail</label>
    </form>
    ${error ? html`<div class="error-box">${error}</div>` : null}
    ${logs === null ? html`<div class="muted pad">loading…</div>` : html`<${LogTable} logs=${logs} />`}
  </section>`;
}
