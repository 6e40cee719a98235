/**
 * `obs dashboard`: the JSON conforms to Grafana's dashboard schema as the foundation SDK ships it
 * (checked offline with the TypeScript compiler, see dashboard-schema.ts), is laid out on Grafana's
 * 24-column grid without overlaps, every query is valid PromQL (promtool) and reads only series the
 * SDK's definitions name.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { knownSeriesNames } from '../src/selectors.js';
import { validateDashboard } from './dashboard-schema.js';
import { obs, requireTool, run, substitute, tempDir } from './helpers.js';

interface Target {
  expr: string;
  refId: string;
  exemplar?: boolean;
  datasource?: { type?: string; uid?: string };
}
interface PanelJson {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
}
interface DashboardJson {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: PanelJson[];
  templating: { list: { name: string; type: string; query?: string }[] };
}

/** Grafana's reference to the dashboard's data-source variable. */
const DATASOURCE_UID = ['$', '{datasource}'].join('');

let tmp: ReturnType<typeof tempDir>;
let model: DashboardJson;

beforeAll(() => {
  tmp = tempDir();
  const res = obs('dashboard', '--job', 'shop', '--memory-limit', '512Mi');
  expect(res.code, res.stderr).toBe(0);
  model = JSON.parse(res.stdout) as DashboardJson;
});
afterAll(() => tmp?.remove());

describe('obs dashboard', () => {
  it("conforms to the foundation SDK's dashboard and panel schemas", () => {
    expect(validateDashboard(model as unknown as Record<string, unknown>)).toEqual([]);
  });

  it('the schema check rejects unknown keys, bad enum values and missing fields', () => {
    const broken = structuredClone(model) as unknown as { panels: Record<string, unknown>[] } & Record<string, unknown>;
    const ts = broken.panels.find((p) => p.type === 'timeseries') as Record<string, Record<string, unknown>>;
    (ts.gridPos as Record<string, unknown>).depth = 1;
    (ts.options as Record<string, unknown>).legend = {
      displayMode: 'sideways',
      placement: 'bottom',
      showLegend: true,
      calcs: [],
    };
    delete (broken as Record<string, unknown>).schemaVersion;
    const errors = validateDashboard(broken);
    expect(errors.join('\n')).toMatch(/'"depth"' does not exist/);
    expect(errors.join('\n')).toMatch(/"sideways"/);
    expect(errors.join('\n')).toMatch(/schemaVersion/);
  });

  it('has the expected rows, unique ids and a gap-free 24-column layout', () => {
    const rows = model.panels.filter((p) => p.type === 'row').map((p) => p.title);
    expect(rows).toEqual([
      'Overview',
      'Requests per route (RED)',
      'Errors',
      'Latency',
      'Runtime',
      'Health checks and dependencies',
      'gRPC (opt-in instrumentation)',
      'SLOs',
    ]);
    const ids = model.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.every((id) => Number.isInteger(id) && id > 0)).toBe(true);
    const cells = new Set<string>();
    for (const p of model.panels) {
      const { x, y, w, h } = p.gridPos;
      expect(x >= 0 && w > 0 && x + w <= 24 && y >= 0 && h > 0, `${p.title} ${JSON.stringify(p.gridPos)}`).toBe(true);
      for (let i = x; i < x + w; i++) {
        for (let j = y; j < y + h; j++) {
          const cell = `${i},${j}`;
          expect(cells.has(cell), `${p.title} overlaps at ${cell}`).toBe(false);
          cells.add(cell);
        }
      }
    }
    expect(model.uid).toBe('obs-shop');
    expect(model.schemaVersion).toBeGreaterThanOrEqual(39);
  });

  it('every panel queries the templated Prometheus data source with unique refIds', () => {
    const vars = model.templating.list.map((v) => v.name);
    expect(vars).toEqual(['datasource', 'job', 'instance']);
    for (const p of model.panels.filter((x) => x.type !== 'row')) {
      expect(p.datasource, p.title).toEqual({ type: 'prometheus', uid: DATASOURCE_UID });
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      const refs = (p.targets ?? []).map((t) => t.refId);
      expect(new Set(refs).size, p.title).toBe(refs.length);
      for (const t of p.targets ?? []) {
        expect(t.datasource).toEqual(p.datasource);
        for (const [, v] of t.expr.matchAll(/\$([a-zA-Z_]+)/g)) {
          expect(vars.includes(v as string) || v === '__rate_interval', `$${v} in ${p.title}`).toBe(true);
        }
      }
    }
  });

  it('every query is valid PromQL and reads only series the SDK definitions name', () => {
    requireTool('promtool');
    const known = knownSeriesNames();
    const rules = model.panels.flatMap((p) =>
      (p.targets ?? []).map((t) => ({ record: `panel_${p.id}_${t.refId}`, expr: substitute(t.expr, 'shop') })),
    );
    for (const { expr } of rules) {
      for (const [, name] of expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\{/g)) {
        expect(known.has(name as string), `${name} in ${expr}`).toBe(true);
      }
    }
    const file = join(tmp.dir, 'panels.rules.yml');
    writeFileSync(file, stringify({ groups: [{ name: 'panels', rules }] }));
    const res = run('promtool', ['check', 'rules', file]);
    expect(res.code, `${res.stdout}${res.stderr}`).toBe(0);
  });

  it('shows outgoing calls by server and turns exemplars on for the latency queries that read buckets', () => {
    const panel = (title: string) => model.panels.find((p) => p.title === title) as PanelJson;
    expect(panel('Outgoing calls by server and status').targets?.[0]?.expr).toBe(
      'sum by (server_address, http_response_status_code) (rate(http_client_request_duration_count{job=~"$job",instance=~"$instance"}[$__rate_interval]))',
    );
    expect(panel('Failed outgoing calls by server').targets?.[0]?.expr).toContain('http_response_status_code=~"5..|"');
    const withExemplars = model.panels.flatMap((p) =>
      (p.targets ?? []).filter((t) => t.exemplar).map((t) => [p.title, t.expr.match(/(\w+)_bucket/)?.[1]]),
    );
    expect(withExemplars).toEqual([
      ['p95 latency by route', 'http_server_request_duration'],
      ['Latency percentiles', 'http_server_request_duration'],
      ['Outgoing call p95 by server', 'http_client_request_duration'],
      ['Served gRPC call p95 by method', 'rpc_server_call_duration'],
      ['Outgoing gRPC call p95 by server', 'rpc_client_call_duration'],
    ]);
  });

  it('shows the gRPC calls (opt-in instrumentation) by method, by server and by server-side failure', () => {
    const panel = (title: string) => model.panels.find((p) => p.title === title) as PanelJson;
    expect(panel('Served gRPC calls by method and status').targets?.[0]?.expr).toBe(
      'sum by (rpc_method, rpc_status_code) (rate(rpc_server_call_duration_count{job=~"$job",instance=~"$instance"}[$__rate_interval]))',
    );
    expect(panel('Failed outgoing gRPC calls by server').targets?.[0]?.expr).toContain(
      'rpc_status_code=~"UNKNOWN|DEADLINE_EXCEEDED|UNIMPLEMENTED|INTERNAL|UNAVAILABLE|DATA_LOSS"',
    );
  });

  it('follows the selection and SLO options', () => {
    const res = obs(
      'dashboard',
      '--service',
      'shop-api',
      '--selector',
      'namespace=prod',
      '--availability-objective',
      '99.5%',
      '--slo-period',
      '28d',
      '--title',
      'Shop',
      '--uid',
      'shop-obs',
    );
    expect(res.code, res.stderr).toBe(0);
    const d = JSON.parse(res.stdout) as DashboardJson;
    expect(d.title).toBe('Shop');
    expect(d.uid).toBe('shop-obs');
    const exprs = d.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
    expect(
      exprs.every((e) => !e.includes('{') || (e.includes('service="shop-api"') && e.includes('namespace="prod"'))),
    ).toBe(true);
    expect(exprs.join('\n')).toContain('[28d]');
    expect(exprs.join('\n')).toContain('/ 0.005');
    expect(validateDashboard(d as unknown as Record<string, unknown>)).toEqual([]);
  });
});
