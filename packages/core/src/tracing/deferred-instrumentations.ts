/**
 * Instrumentations that patch a library are loaded when the library is, not at start-up.
 *
 * An OpenTelemetry instrumentation package is only needed once the module it patches is required or
 * imported; loading all of them up front is most of what the preload costs a process that never uses
 * them (`node -e`, build tools and test workers that inherit `NODE_OPTIONS`: docs/performance.md).
 * One `require-in-the-middle` hook and one `import-in-the-middle` hook watch every module name of the
 * deferred instrumentations, internal files included. The first time a file of such a module loads,
 * its instrumentation is created and given the providers; then this file and every later one of the
 * package are handed to it (`_onRequire`), exactly as the hooks it registers itself when enabled would.
 * It never registers those hooks: hooks registered while a module is loading do not see the loads
 * already under way (the package's own main module among them), so the loader does the dispatching
 * from start to end.
 *
 * Only instrumentations that work by patching modules are deferred; the others (undici's diagnostics
 * channels, the runtime metrics) start with the SDK.
 */
import { isAbsolute, parse } from 'node:path';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import type { InstrumentationName } from '../config/resolve.js';
import { load } from '../lazy.js';

/** The module names a deferred instrumentation waits for (the same names its ESM hooks need). */
export type ModuleNames = Partial<Record<InstrumentationName, readonly string[]>>;

/**
 * What the base class of node instrumentations (@opentelemetry/instrumentation 0.300) has that is used
 * here: its module definitions, the function its own hooks call for each loaded file, and its flag.
 */
interface NodeInstrumentation extends Instrumentation {
  getModuleDefinitions(): { name: string }[];
  _onRequire(definition: { name: string }, exports: unknown, name: string, baseDir?: string): unknown;
  _enabled: boolean;
}

type OnLoad = (exports: unknown, name: string, baseDir?: string) => unknown;
type HookClass = new (modules: string[], options: { internals: boolean }, onLoad: OnLoad) => { unhook(): void };

/**
 * The package a module belongs to: `pg/lib/client.js` -> `pg`, `@redis/client/dist/x.js` ->
 * `@redis/client`, `node:http` -> `http`, and for a file path the package folder after the last
 * `node_modules/`.
 */
export function packageOf(name: string): string {
  let path = name.replace(/\\/g, '/').replace(/^node:/, '');
  const inModules = path.lastIndexOf('/node_modules/');
  if (inModules !== -1) path = path.slice(inModules + '/node_modules/'.length);
  const parts = path.split('/');
  return path.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? path);
}

/** Deferred instrumentations: created when their modules load. */
export class DeferredInstrumentations {
  readonly #create: (name: InstrumentationName) => Instrumentation[];
  readonly #register: (instrumentations: Instrumentation[]) => void;
  readonly #byModule = new Map<string, InstrumentationName>();
  readonly #created = new Map<InstrumentationName, Instrumentation[]>();
  readonly #refused = new Set<InstrumentationName>();
  readonly #hooks: { unhook(): void }[] = [];

  /**
   * @param modules per deferred instrumentation, the modules that load it
   * @param create builds an instrumentation (not yet enabled: `enabled: false` in its config)
   * @param register gives it the tracer, meter and logger providers (without enabling it)
   */
  constructor(
    modules: ModuleNames,
    create: (name: InstrumentationName) => Instrumentation[],
    register: (instrumentations: Instrumentation[]) => void,
  ) {
    this.#create = create;
    this.#register = register;
    for (const [name, list] of Object.entries(modules) as [InstrumentationName, readonly string[]][]) {
      for (const module of list) this.#byModule.set(packageOf(module), name);
    }
    const names = [...this.#byModule.keys()];
    if (names.length === 0) return;
    const onLoad: OnLoad = (exports, name, baseDir) => this.#loaded(exports, name, baseDir);
    const { Hook: RequireHook } = load('require-in-the-middle') as { Hook: HookClass };
    this.#hooks.push(new RequireHook(names, { internals: true }, onLoad));
    const { Hook: ImportHook } = load('import-in-the-middle') as { Hook: HookClass };
    this.#hooks.push(new ImportHook(names, { internals: true }, onLoad));
  }

  /** The instrumentations created so far. */
  get instrumentations(): Instrumentation[] {
    return [...this.#created.values()].flat();
  }

  /** Never create `name` from now on; disable it if it was created. */
  refuse(name: InstrumentationName): void {
    this.#refused.add(name);
    for (const instrumentation of this.#created.get(name) ?? []) instrumentation.disable();
  }

  /** Stop watching modules (created instrumentations keep their own hooks). */
  stop(): void {
    for (const hook of this.#hooks.splice(0)) hook.unhook();
  }

  #loaded(exports: unknown, name: string, baseDir: string | undefined): unknown {
    const pkg = packageOf(name);
    const instrumentation = this.#byModule.get(pkg);
    if (!instrumentation || this.#refused.has(instrumentation)) return exports;
    const created = this.#created.get(instrumentation) ?? this.#start(instrumentation);
    // as the instrumentations' own ES module hooks do: a file path becomes a name and a folder
    let [file, dir] = [name, baseDir];
    if (!dir && isAbsolute(name)) [file, dir] = [parse(name).name, parse(name).dir];
    let patched = exports;
    for (const i of created as NodeInstrumentation[]) {
      if (!i._enabled) continue; // refused after it was created
      for (const definition of i.getModuleDefinitions()) {
        if (packageOf(definition.name) === pkg) patched = i._onRequire(definition, patched, file, dir);
      }
    }
    return patched;
  }

  /** Create the instrumentation, give it the providers, and mark it enabled without its own hooks. */
  #start(name: InstrumentationName): Instrumentation[] {
    let created: Instrumentation[] = [];
    try {
      created = this.#create(name);
      this.#register(created);
      for (const i of created as NodeInstrumentation[]) i._enabled = true;
    } catch {
      this.#refused.add(name); // a broken instrumentation costs its telemetry, never the app's require
      created = [];
    }
    this.#created.set(name, created);
    return created;
  }
}
