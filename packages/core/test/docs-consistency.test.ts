/**
 * The documentation against the code it describes (issue 17, "docs match the code"):
 * - every environment variable the resolver reads is in docs/configuration.md, found by resolving
 *   through an environment that records each name asked for (so a variable added to
 *   src/config/resolve.ts without a row fails here);
 * - its instrumentation table has a row per bundled instrumentation that names every ES module
 *   `@obs/register` hooks for it (`ESM_HOOKED_MODULES`);
 * - every relative link between the pages (README.md, docs/*.md, packages/* /README.md) names a file
 *   that exists and, with `#anchor`, a heading of that page (GitHub's heading ids, or an explicit `<a id>`).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { type Env, INSTRUMENTATION_NAMES, resolveConfig } from '../src/config/resolve.js';
import { captureDiagnostics } from '../src/diag.js';
import { ESM_HOOKED_MODULES } from '../src/tracing/instrumentations.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');

/** The names `resolveConfig` reads from `env` when it starts from `env` (and options left empty). */
function variablesRead(env: Env): Set<string> {
  const names = new Set<string>();
  const recording = new Proxy(env, {
    get(target, key) {
      if (typeof key === 'string') names.add(key);
      return Reflect.get(target, key);
    },
  });
  const restore = captureDiagnostics([]);
  try {
    resolveConfig({}, recording);
  } finally {
    restore();
  }
  return names;
}

describe('docs/configuration.md', () => {
  it('lists every variable the resolver reads', () => {
    const doc = read('docs/configuration.md');
    // `OTEL_TRACES_SAMPLER_ARG` is read only for a ratio sampler.
    const names = new Set([...variablesRead({}), ...variablesRead({ OTEL_TRACES_SAMPLER: 'traceidratio' })]);
    expect(names.size).toBeGreaterThan(60);
    // The page writes the per-signal variables once, as `OTEL_EXPORTER_OTLP_{S}_...`.
    const documented = (name: string) =>
      doc.includes(`\`${name}\``) ||
      doc.includes(`\`${name.replace(/^OTEL_EXPORTER_OTLP_(TRACES|METRICS|LOGS)_/, 'OTEL_EXPORTER_OTLP_{S}_')}\``);
    expect([...names].filter((name) => !documented(name)).sort()).toEqual([]);
  });

  it('has a row for every bundled instrumentation, naming the ES modules @obs/register hooks for it', () => {
    const doc = read('docs/configuration.md');
    const rows = new Map(
      [...doc.matchAll(/^\| `([a-z0-9-]+)` \| `?@[^|]*\|[^|]*\|([^|]*)\|$/gm)].map((m) => [m[1], m[2] as string]),
    );
    expect([...rows.keys()].sort()).toEqual([...INSTRUMENTATION_NAMES].sort());
    for (const name of INSTRUMENTATION_NAMES) {
      const documented = [...(rows.get(name) ?? '').matchAll(/`([^`]+)`/g)].map((m) => m[1]);
      for (const module of ESM_HOOKED_MODULES[name]) expect(documented, name).toContain(module);
    }
  });
});

/** GitHub's id for a heading: lower case, punctuation but `-` and `_` dropped, spaces to `-`. */
function slug(heading: string): string {
  return heading
    .replace(/`/g, '')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

const withoutCode = (text: string) => text.replace(/```[\s\S]*?```/g, '');

function anchorsOf(file: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const [, heading] of withoutCode(readFileSync(file, 'utf8')).matchAll(/^#{1,6}\s+(.+)$/gm)) {
    const id = slug(heading as string);
    const n = seen.get(id) ?? 0;
    seen.set(id, n + 1);
    anchors.add(n === 0 ? id : `${id}-${n}`);
  }
  for (const [, id] of readFileSync(file, 'utf8').matchAll(/<a (?:id|name)="([^"]+)"/g)) anchors.add(id as string);
  return anchors;
}

describe('links between the pages', () => {
  const pages = [
    'README.md',
    ...readdirSync(join(ROOT, 'docs'))
      .filter((f) => f.endsWith('.md'))
      .map((f) => `docs/${f}`),
    ...readdirSync(join(ROOT, 'packages'))
      .map((p) => `packages/${p}/README.md`)
      .filter((f) => existsSync(join(ROOT, f))),
  ];

  it('finds the pages', () => {
    expect(pages).toContain('docs/configuration.md');
    expect(pages).toContain('packages/core/README.md');
  });

  for (const page of pages) {
    it(`${page}: every relative link resolves to a file and, with #anchor, to a heading`, () => {
      const broken: string[] = [];
      for (const [, link] of withoutCode(read(page)).matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
        if (/^[a-z]+:/i.test(link as string)) continue;
        const [file, anchor] = (link as string).split('#');
        const target = file ? resolve(dirname(join(ROOT, page)), file) : join(ROOT, page);
        if (!existsSync(target)) broken.push(`${link}: no such file`);
        else if (anchor !== undefined && target.endsWith('.md') && !anchorsOf(target).has(anchor)) {
          broken.push(`${link}: no such heading`);
        }
      }
      expect(broken).toEqual([]);
    });
  }
});
