/**
 * Offline validation of a dashboard against Grafana's dashboard schema as the foundation SDK ships it:
 * the SDK's types are generated from Grafana's schema (CUE kinds), so a TypeScript program that
 * assigns the dashboard JSON, panel by panel, to those types — with enums widened to their JSON
 * values and excess-property checks on — fails on any unknown key, missing required key or wrongly
 * typed value. The panel options and field config are checked against each panel plugin's own types.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const PACKAGE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Panel types the generator uses, with the SDK module holding their `Options` / `FieldConfig`. */
const PANEL_TYPES: Record<string, { module: string; fieldConfig: boolean }> = {
  timeseries: { module: 'timeseries', fieldConfig: true },
  stat: { module: 'stat', fieldConfig: false },
  heatmap: { module: 'heatmap', fieldConfig: true },
  'state-timeline': { module: 'statetimeline', fieldConfig: true },
};

const PRELUDE = `
import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import type * as prometheus from '@grafana/grafana-foundation-sdk/prometheus';
${Object.values(PANEL_TYPES)
  .map((p) => `import type * as ${p.module} from '@grafana/grafana-foundation-sdk/${p.module}';`)
  .join('\n')}

/** The JSON form of a type: string enums as their values, methods dropped. */
type Json<T> = T extends string
  ? \`\${T}\`
  : T extends number | boolean | null | undefined
    ? T
    : T extends readonly (infer U)[]
      ? Json<U>[]
      : T extends object
        ? { [K in keyof T as T[K] extends (...args: never[]) => unknown ? never : K]: Json<T[K]> }
        : T;
type Target = Json<Omit<prometheus.Dataquery, '_implementsDataqueryVariant'>>;
type FieldDefaults<F> = Json<Omit<dashboard.FieldConfig, 'custom'>> & { custom?: Json<F> };
type PanelOf<O, F> = Json<Omit<dashboard.Panel, 'options' | 'fieldConfig' | 'targets'>> & {
  options?: Json<O>;
  fieldConfig?: Json<Omit<dashboard.FieldConfigSource, 'defaults'>> & { defaults: FieldDefaults<F> };
  targets?: Target[];
};
type Row = Json<Omit<dashboard.RowPanel, 'panels'>> & { panels: never[] };
type Top = Json<Omit<dashboard.Dashboard, 'panels'>>;
`;

function literal(value: unknown): string {
  return JSON.stringify(value, null, 2);
}

/** The TypeScript source that type-checks `model`. */
export function checkSource(model: Record<string, unknown>): string {
  const { panels = [], ...top } = model as { panels?: Record<string, unknown>[] };
  const lines = [PRELUDE, `export const top: Top = ${literal(top)};`];
  panels.forEach((panel, i) => {
    const type = String(panel.type);
    if (type === 'row') {
      lines.push(`export const panel${i}: Row = ${literal(panel)};`);
      return;
    }
    const known = PANEL_TYPES[type];
    if (!known) {
      lines.push(`export const panel${i}: never = ${literal(type)}; // no schema for panel type ${type}`);
      return;
    }
    const fieldConfig = known.fieldConfig ? `${known.module}.FieldConfig` : 'Record<string, never>';
    lines.push(`export const panel${i}: PanelOf<${known.module}.Options, ${fieldConfig}> = ${literal(panel)};`);
  });
  return lines.join('\n');
}

/**
 * Type-checks a dashboard model against the foundation SDK's schema types.
 * @returns the compiler's messages; empty when the model conforms
 */
export function validateDashboard(model: Record<string, unknown>): string[] {
  const dir = join(PACKAGE_DIR, '.obs-tmp', `schema-${process.pid}-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'dashboard-check.ts');
  writeFileSync(file, checkSource(model));
  try {
    const program = ts.createProgram([file], {
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      types: [],
    });
    return ts.getPreEmitDiagnostics(program).map((d) => {
      const text = ts.flattenDiagnosticMessageText(d.messageText, '\n');
      if (!d.file || d.start === undefined) return text;
      const { line } = d.file.getLineAndCharacterOfPosition(d.start);
      return `line ${line + 1}: ${text}`;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
