/**
 * Instrumentations the app brings (../src/tracing/added-instrumentations.ts), in the test process:
 * an `OBS_INSTRUMENTATION_PACKAGES` package is loaded from the app's directory and built once, a
 * package that cannot be used costs one warning, and objects passed to start() run only when the
 * configuration keeps them. test/added-instrumentations.test.ts runs the same in real processes.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import { afterAll, describe, expect, it } from 'vitest';
import { captureDiagnostics } from '../src/diag.js';
import { addedInstrumentations, loadInstrumentationPackage, modulesOf } from '../src/tracing/added-instrumentations.js';

/** An app directory whose node_modules holds the packages below. */
const APP = mkdtempSync(join(tmpdir(), 'obs-added-'));
afterAll(() => rmSync(APP, { recursive: true, force: true }));

/** An instrumentation class, as a package built on @opentelemetry/instrumentation exports one. */
const CLASS = (name: string) => `class {
  constructor(config) { this.instrumentationName = '${name}'; this.config = config; }
  enable() {}
  disable() {}
  getModuleDefinitions() { return [{ name: 'acme-soap' }, { name: 'acme-soap/client' }]; }
}`;

const PACKAGES: Record<string, string> = {
  '@acme/instrumentation-soap': `module.exports = { SoapInstrumentation: ${CLASS('@acme/instrumentation-soap')}, VERSION: '1.0.0', helper() {}, OnlyEnable: class { enable() {} }, OnlyDisable: class { disable() {} } };`,
  'acme-two-classes': `module.exports = { A: ${CLASS('a')}, B: ${CLASS('b')} };`,
  'acme-no-class': 'module.exports = { helper() {} };',
  'acme-throws': "throw new Error('boom at load');",
  'acme-throws-string': "throw 'not an error';",
};
for (const [name, text] of Object.entries(PACKAGES)) {
  const dir = join(APP, 'node_modules', name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, main: 'index.js' }));
  writeFileSync(join(dir, 'index.js'), text);
}

function load(name: string): { instrumentation: Instrumentation | undefined; warnings: string[] } {
  const warnings: string[] = [];
  const restore = captureDiagnostics(warnings);
  try {
    return { instrumentation: loadInstrumentationPackage(name, APP), warnings };
  } finally {
    restore();
  }
}

describe('loadInstrumentationPackage', () => {
  it("builds the package's one instrumentation class from the app's directory, not enabled, once", () => {
    const first = load('@acme/instrumentation-soap');
    expect(first.warnings).toEqual([]);
    expect(first.instrumentation?.instrumentationName).toBe('@acme/instrumentation-soap');
    expect((first.instrumentation as unknown as { config: unknown }).config).toEqual({ enabled: false });
    const again = load('@acme/instrumentation-soap');
    expect(again.instrumentation).toBe(first.instrumentation);
    expect(again.warnings).toEqual([]);
  });

  it('warns once and continues without a package that is not installed', () => {
    const first = load('acme-missing');
    expect(first.instrumentation).toBeUndefined();
    expect(first.warnings).toEqual([
      `@obs warn: OBS_INSTRUMENTATION_PACKAGES: "acme-missing" is not installed in ${APP}; continuing without it`,
    ]);
    expect(load('acme-missing')).toEqual({ instrumentation: undefined, warnings: [] });
  });

  it('warns about a package that exports no instrumentation class, or two', () => {
    for (const name of ['acme-no-class', 'acme-two-classes']) {
      expect(load(name)).toEqual({
        instrumentation: undefined,
        warnings: [
          `@obs warn: OBS_INSTRUMENTATION_PACKAGES: "${name}" exports no single instrumentation class; ignoring it`,
        ],
      });
    }
  });

  it('warns with the error of a package that throws while it loads', () => {
    expect(load('acme-throws').warnings).toEqual([
      '@obs warn: OBS_INSTRUMENTATION_PACKAGES: "acme-throws" failed to load (boom at load); continuing without it',
    ]);
    expect(load('acme-throws-string').warnings).toEqual([
      '@obs warn: OBS_INSTRUMENTATION_PACKAGES: "acme-throws-string" failed to load (not an error); continuing without it',
    ]);
  });
});

describe('modulesOf', () => {
  it("names the modules of the instrumentation's module definitions, or none", () => {
    const soap = load('@acme/instrumentation-soap').instrumentation as Instrumentation;
    expect(modulesOf(soap)).toEqual(['acme-soap', 'acme-soap/client']);
    expect(modulesOf({ instrumentationName: 'no-definitions' } as Instrumentation)).toEqual([]);
    const throwing = {
      getModuleDefinitions() {
        throw new Error('not a node instrumentation');
      },
    };
    expect(modulesOf(throwing as unknown as Instrumentation)).toEqual([]);
  });
});

describe('addedInstrumentations', () => {
  /** An app's own instrumentation object that records whether it is enabled. */
  function own(instrumentationName: string) {
    const object = {
      instrumentationName,
      enabled: true,
      disable() {
        object.enabled = false;
      },
    };
    return object;
  }

  it('runs the objects the configuration kept, then its loaded packages; disables the other objects', () => {
    const kept = own('@opentelemetry/instrumentation-dataloader');
    const dropped = own('@acme/instrumentation-fax');
    const soap = load('@acme/instrumentation-soap').instrumentation;
    const running = addedInstrumentations(
      {
        instrumentationPackages: ['@acme/instrumentation-soap', 'acme-missing'],
        addedInstrumentations: ['dataloader'],
      },
      [dropped, kept] as unknown as Instrumentation[],
    );
    expect(running).toEqual([kept, soap]);
    expect(kept.enabled).toBe(true);
    expect(dropped.enabled).toBe(false);
  });
});
