/**
 * Instrumentations the app brings: objects passed to `start({ instrumentations })`, and packages named
 * in `OBS_INSTRUMENTATION_PACKAGES` (`@opentelemetry/instrumentation-dataloader`, or any package
 * built on `@opentelemetry/instrumentation`), loaded from the app's own directory.
 *
 * They run like the bundled ones: selected by the same lists (../config/resolve.ts), given the same
 * tracer, meter and logger providers, their spans redacted at export with the same rules
 * (./redact-spans.ts: URLs, query strings, SQL statements, secret shapes), and the modules they
 * declare (`getModuleDefinitions()`) added to what `@obs/register`'s ES module hooks intercept, so
 * they patch ES module apps too. A package that cannot be loaded costs one warning, never the app.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import { instrumentationShortName } from '../config/resolve.js';
import { warn } from '../diag.js';

/** What the node instrumentations' base class has that is read here. */
interface WithModules {
  getModuleDefinitions?(): { name: string }[];
}

type InstrumentationClass = new (config: { enabled: boolean }) => Instrumentation;

/** Packages already loaded (`@obs/register` learns their modules before `start()` runs them). */
const loaded = new Map<string, Instrumentation | undefined>();

/** The instrumentation class a package exports: the one constructor whose instances have `enable` and `disable`. */
function instrumentationClass(exports: Record<string, unknown>): InstrumentationClass | undefined {
  const classes = Object.values(exports).filter(
    (value): value is InstrumentationClass =>
      typeof value === 'function' &&
      typeof (value.prototype as Partial<Instrumentation> | undefined)?.enable === 'function' &&
      typeof (value.prototype as Partial<Instrumentation> | undefined)?.disable === 'function',
  );
  return classes.length === 1 ? classes[0] : undefined;
}

/**
 * Load an instrumentation package from the app's directory and build its instrumentation, not yet
 * enabled (once per package and process).
 * @returns the instrumentation, or undefined (with one warning) when the package is not installed or
 *   exports no single instrumentation class
 */
export function loadInstrumentationPackage(name: string, cwd = process.cwd()): Instrumentation | undefined {
  if (loaded.has(name)) return loaded.get(name);
  let instrumentation: Instrumentation | undefined;
  try {
    const exports = createRequire(join(cwd, 'package.json'))(name) as Record<string, unknown>;
    const Class = instrumentationClass(exports);
    if (Class) instrumentation = new Class({ enabled: false });
    else warn(`OBS_INSTRUMENTATION_PACKAGES: "${name}" exports no single instrumentation class; ignoring it`);
  } catch (err) {
    const missing = (err as { code?: string }).code === 'MODULE_NOT_FOUND';
    warn(
      `OBS_INSTRUMENTATION_PACKAGES: "${name}" ${missing ? `is not installed in ${cwd}` : `failed to load (${err instanceof Error ? err.message : String(err)})`}; continuing without it`,
    );
  }
  loaded.set(name, instrumentation);
  return instrumentation;
}

/** The modules an instrumentation patches, from its own module definitions. */
export function modulesOf(instrumentation: Instrumentation): string[] {
  try {
    return ((instrumentation as WithModules).getModuleDefinitions?.() ?? []).map((definition) => definition.name);
  } catch {
    return [];
  }
}

/**
 * The added instrumentations that run: the objects whose short names the configuration kept, and
 * the loaded packages it kept. An object it did not keep is disabled (OpenTelemetry instrumentations
 * enable themselves when constructed).
 */
export function addedInstrumentations(
  config: { instrumentationPackages: readonly string[]; addedInstrumentations: readonly string[] },
  objects: readonly Instrumentation[],
): Instrumentation[] {
  const fromPackages = config.instrumentationPackages
    .map((name) => loadInstrumentationPackage(name))
    .filter((i): i is Instrumentation => i !== undefined);
  const chosen = objects.filter((i) => {
    if (config.addedInstrumentations.includes(instrumentationShortName(i.instrumentationName))) return true;
    i.disable();
    return false;
  });
  return [...chosen, ...fromPackages];
}
