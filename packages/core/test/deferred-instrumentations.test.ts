/**
 * The deferred loader (../src/tracing/deferred-instrumentations.ts) in the test process: an
 * instrumentation is created when a file of its package first loads, never before, and every file of
 * that package is handed to it. The packages are real files in a temporary `node_modules`, loaded with
 * Node's own `require` (which `require-in-the-middle` hooks); the instrumentations are stand-ins that
 * record what they are handed and mark the exports they patch.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { InstrumentationName } from '../src/config/resolve.js';
import { DeferredInstrumentations, type ModuleNames, packageOf } from '../src/tracing/deferred-instrumentations.js';

const ROOT = mkdtempSync(join(tmpdir(), 'obs-deferred-'));
const requireHere = createRequire(join(ROOT, 'index.js'));
afterAll(() => rmSync(ROOT, { recursive: true, force: true }));

let count = 0;
/**
 * A new package in ROOT/node_modules (a fresh name, so Node loads its files for the first time): its
 * main file requires `lib/inner.js` at once and `lib/later.js` when `later()` is called.
 */
function newPackage(): { name: string; dir: string } {
  const name = `obs-fake-${++count}`;
  const dir = join(ROOT, 'node_modules', name);
  const files: Record<string, string> = {
    'package.json': JSON.stringify({ name, main: 'index.js' }),
    'index.js':
      "module.exports = { file: 'index', inner: require('./lib/inner.js'), later: () => require('./lib/later.js') };",
    'lib/inner.js': "module.exports = { file: 'inner' };",
    'lib/later.js': "module.exports = { file: 'later' };",
  };
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    writeFileSync(join(dir, file), text);
  }
  return { name, dir };
}

interface Handed {
  by: string;
  definition: string;
  file: string;
  dir: string | undefined;
}

/** A stand-in node instrumentation: records each file handed to it and marks the exports it returns. */
function standIn(name: string, definitions: string[], handed: Handed[]) {
  return {
    instrumentationName: name,
    _enabled: false,
    getModuleDefinitions: () => definitions.map((definition) => ({ name: definition })),
    _onRequire(definition: { name: string }, exports: { by?: string[] }, file: string, dir?: string) {
      handed.push({ by: name, definition: definition.name, file, dir });
      return { ...exports, by: [...(exports.by ?? []), name] };
    },
    disable() {
      this._enabled = false;
    },
  };
}
type StandIn = ReturnType<typeof standIn>;

let deferred: DeferredInstrumentations | undefined;
afterEach(() => {
  deferred?.stop();
  deferred = undefined;
});

/** A loader for `modules` whose factory returns `instrumentations` and records each call. */
function loader(modules: ModuleNames, instrumentations: StandIn[]) {
  const created: InstrumentationName[] = [];
  const registered: Instrumentation[][] = [];
  deferred = new DeferredInstrumentations(
    modules,
    (name) => {
      created.push(name);
      return instrumentations as unknown as Instrumentation[];
    },
    (list) => registered.push(list),
  );
  return { deferred, created, registered };
}

describe('packageOf', () => {
  it('names the package of a module, a file inside it, a built-in or a path under node_modules', () => {
    expect(packageOf('pg')).toBe('pg');
    expect(packageOf('pg/lib/client.js')).toBe('pg');
    expect(packageOf('@redis/client')).toBe('@redis/client');
    expect(packageOf('@redis/client/dist/lib/client.js')).toBe('@redis/client');
    expect(packageOf('node:http')).toBe('http');
    expect(packageOf('/app/node_modules/a/node_modules/mysql2/lib/pool.js')).toBe('mysql2');
    expect(packageOf('/app/node_modules/@grpc/grpc-js/build/src/index.js')).toBe('@grpc/grpc-js');
    expect(packageOf('C:\\app\\node_modules\\pg\\lib\\index.js')).toBe('pg');
  });
});

describe('DeferredInstrumentations', () => {
  it('creates the instrumentation when its package first loads, gives it the providers, and hands it every file', () => {
    const pkg = newPackage();
    const handed: Handed[] = [];
    const instrumentation = standIn('a', [pkg.name], handed);
    const { deferred, created, registered } = loader({ pg: [pkg.name] }, [instrumentation]);
    expect(created).toEqual([]);
    expect(deferred.instrumentations).toEqual([]);

    const exported = requireHere(pkg.name);
    expect(created).toEqual(['pg']);
    expect(registered).toEqual([[instrumentation]]);
    expect(instrumentation._enabled).toBe(true);
    expect(deferred.instrumentations).toEqual([instrumentation]);
    expect(exported.by).toEqual(['a']);
    expect(exported.inner.by).toEqual(['a']);
    expect(exported.later().by).toEqual(['a']);
    expect(created).toEqual(['pg']); // once
    expect(handed).toEqual([
      { by: 'a', definition: pkg.name, file: `${pkg.name}/lib/inner.js`, dir: pkg.dir },
      { by: 'a', definition: pkg.name, file: pkg.name, dir: pkg.dir },
      { by: 'a', definition: pkg.name, file: `${pkg.name}/lib/later.js`, dir: pkg.dir },
    ]);
  });

  it('watches the whole package of a module named by one of its files', () => {
    const pkg = newPackage();
    const handed: Handed[] = [];
    const { created } = loader({ pg: [`${pkg.name}/lib/inner.js`] }, [standIn('a', [pkg.name], handed)]);
    expect(requireHere(pkg.name).by).toEqual(['a']);
    expect(created).toEqual(['pg']);
  });

  it("hands a file to each definition of its package in turn, and to no other package's definition", () => {
    const pkg = newPackage();
    const other = newPackage();
    const handed: Handed[] = [];
    const first = standIn('first', [other.name, pkg.name], handed);
    const second = standIn('second', [`${pkg.name}/lib/inner.js`], handed);
    loader({ pg: [pkg.name, other.name] }, [first, second]);
    const exported = requireHere(pkg.name);
    expect(exported.by).toEqual(['first', 'second']);
    expect(handed.map((h) => `${h.by} ${h.definition}`)).toEqual([
      `first ${pkg.name}`,
      `second ${pkg.name}/lib/inner.js`,
      `first ${pkg.name}`,
      `second ${pkg.name}/lib/inner.js`,
    ]);
  });

  it('leaves the packages of instrumentations it was not given alone', () => {
    const pkg = newPackage();
    const watched = newPackage();
    const { created } = loader({ pg: [watched.name] }, [standIn('a', [watched.name], [])]);
    expect(requireHere(pkg.name).by).toBeUndefined();
    expect(created).toEqual([]);
  });

  it('never creates an instrumentation refused before its package loads', () => {
    const pkg = newPackage();
    const { deferred, created } = loader({ pg: [pkg.name] }, [standIn('a', [pkg.name], [])]);
    deferred.refuse('pg');
    expect(requireHere(pkg.name).by).toBeUndefined();
    expect(created).toEqual([]);
    expect(deferred.instrumentations).toEqual([]);
  });

  it('disables an instrumentation refused after it was created and hands it no more files', () => {
    const pkg = newPackage();
    const handed: Handed[] = [];
    const instrumentation = standIn('a', [pkg.name], handed);
    const { deferred } = loader({ pg: [pkg.name] }, [instrumentation]);
    const exported = requireHere(pkg.name);
    deferred.refuse('pg');
    expect(instrumentation._enabled).toBe(false);
    expect(exported.later().by).toBeUndefined();
    expect(handed.map((h) => h.file)).toEqual([`${pkg.name}/lib/inner.js`, pkg.name]);
  });

  it('hands no more files to an instrumentation disabled by other means', () => {
    const pkg = newPackage();
    const handed: Handed[] = [];
    const instrumentation = standIn('a', [pkg.name], handed);
    loader({ pg: [pkg.name] }, [instrumentation]);
    const exported = requireHere(pkg.name);
    instrumentation.disable();
    expect(exported.later().by).toBeUndefined();
    expect(handed.map((h) => h.file)).toEqual([`${pkg.name}/lib/inner.js`, pkg.name]);
  });

  it('loads the package unpatched when the instrumentation cannot be built, and does not try again', () => {
    const pkg = newPackage();
    const created: InstrumentationName[] = [];
    deferred = new DeferredInstrumentations(
      { pg: [pkg.name] },
      (name) => {
        created.push(name);
        throw new Error('broken instrumentation');
      },
      () => {},
    );
    const exported = requireHere(pkg.name);
    expect(exported.file).toBe('index');
    expect(exported.later().file).toBe('later');
    expect(created).toEqual(['pg']);
    expect(deferred.instrumentations).toEqual([]);
  });

  it('loads the package unpatched when the providers cannot be given', () => {
    const pkg = newPackage();
    const instrumentation = standIn('a', [pkg.name], []);
    deferred = new DeferredInstrumentations(
      { pg: [pkg.name] },
      () => [instrumentation as unknown as Instrumentation],
      () => {
        throw new Error('no providers');
      },
    );
    expect(requireHere(pkg.name).by).toBeUndefined();
    expect(instrumentation._enabled).toBe(false);
    expect(deferred.instrumentations).toEqual([]);
  });

  it('creates nothing for a package that loads after stop()', () => {
    const pkg = newPackage();
    const { deferred, created } = loader({ pg: [pkg.name] }, [standIn('a', [pkg.name], [])]);
    deferred.stop();
    expect(requireHere(pkg.name).by).toBeUndefined();
    expect(created).toEqual([]);
  });
});
