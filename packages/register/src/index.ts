/**
 * `node --import @obs/register app.js` (or `NODE_OPTIONS=--import=@obs/register`).
 *
 * 1. Registers import-in-the-middle's loader hooks for the modules the selected instrumentations
 *    patch (an include list, not every module: the bundled ones' recorded module names and the
 *    module definitions of the packages in `OBS_INSTRUMENTATION_PACKAGES`, `esmHookedModules()`), synchronously in-thread through
 *    `module.registerHooks` where Node supports it (>= 22.22.3, >= 24.11.1), else through the
 *    off-thread `module.register`. CommonJS modules are patched through require-in-the-middle and
 *    need no hook.
 * 2. Starts @obs/core from the `OTEL_*` environment.
 *
 * Before loading anything it turns on Node's on-disk compile cache (`module.enableCompileCache()`,
 * https://nodejs.org/api/module.html#module-compile-cache): the OpenTelemetry SDK is several hundred
 * small modules, and compiling them is most of the preload's start-up time. The cache lives in
 * `<os.tmpdir()>/node-compile-cache` (or `NODE_COMPILE_CACHE`); it covers every module the process
 * loads after this point, the app's too, exactly as setting `NODE_COMPILE_CACHE` would.
 * `NODE_DISABLE_COMPILE_CACHE=1` turns it off; an unwritable directory only means no cache.
 *
 * Nothing happens inside worker threads (pino transports run preloads again there), and nothing
 * here throws: a failure to install the hooks costs ESM instrumentation, with a warning.
 */
import module from 'node:module';
import { isMainThread } from 'node:worker_threads';

function enableCompileCache(): void {
  try {
    module.enableCompileCache?.();
  } catch {
    // an older Node or an unusable directory: start without the cache
  }
}

async function main(): Promise<void> {
  const core = await import('@obs/core');
  const config = core.resolveConfig();
  await registerEsmHooks(core.esmHookedModules(config));
  core.start();
}

async function registerEsmHooks(include: string[]): Promise<void> {
  if (include.length === 0) return;
  try {
    const hooks = await import('import-in-the-middle/register-hooks.mjs');
    if (hooks.supportsSyncHooks()) {
      hooks.register({ include });
      return;
    }
    const { register } = await import('node:module');
    register('import-in-the-middle/hook.mjs', import.meta.url, { data: { include } });
  } catch (err) {
    process.emitWarning(
      `@obs/register could not install ESM loader hooks (${err instanceof Error ? err.message : String(err)}); ES modules will not be instrumented`,
    );
  }
}

function nodeIsSupported(): boolean {
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  return major > 22 || (major === 22 && minor >= 15);
}

if (isMainThread) {
  enableCompileCache();
  if (!nodeIsSupported()) {
    process.emitWarning(
      `@obs needs Node.js >= 22.15 (the OpenTelemetry 3.x SDK requires it); this is ${process.version}, so telemetry may be incomplete`,
    );
  }
  try {
    await main();
  } catch (err) {
    process.emitWarning(
      `@obs/register failed to start @obs (${err instanceof Error ? err.message : String(err)}); the app runs without it`,
    );
  }
}
