/**
 * The exit-flush references (issue 15), in the test process: `on-exit-leak-free`, as pino requires it,
 * holds what it must flush at exit through a `WeakRef`; with the instrumentation it is held until it
 * is unregistered. A full garbage collection (`gc()`, exposed at run time) shows what is held. The
 * end-to-end case (lines of an app's pino destination written at exit) is in ./logger-process.test.ts.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { InstrumentationModuleDefinition } from '@opentelemetry/instrumentation';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { exitFlushRefsInstrumentation } from '../src/logging/exit-flush-refs.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

type Register = (obj: object, fn: (obj: object, event: string) => void) => void;
interface OnExitLeakFree {
  register: Register;
  registerBeforeExit: Register;
  unregister: (obj: object) => void;
}

/** Require pino's own copy of on-exit-leak-free afresh (the instrumentation's hook sees a first require only). */
function requireOnExitLeakFree(): OnExitLeakFree {
  const fromPino = createRequire(createRequire(import.meta.url).resolve('pino'));
  delete fromPino.cache[fromPino.resolve('on-exit-leak-free')];
  return fromPino('on-exit-leak-free') as OnExitLeakFree;
}

/** Register a new object with `register` and keep only a weak reference to it. */
function registerNew(register: Register): WeakRef<object> {
  const obj = { lines: 'buffered' };
  register(obj, () => {});
  return new WeakRef(obj);
}

async function collect(): Promise<void> {
  // a WeakRef's target stays alive until the end of the current job
  await new Promise((resolve) => setImmediate(resolve));
  gc();
}

const enabled: { disable(): void }[] = [];
afterEach(() => {
  for (const instrumentation of enabled.splice(0)) instrumentation.disable();
});

/** on-exit-leak-free required with the instrumentation enabled (as under the preload). */
function patchedOnExitLeakFree(): OnExitLeakFree {
  const instrumentation = exitFlushRefsInstrumentation();
  instrumentation.enable();
  enabled.push(instrumentation);
  return requireOnExitLeakFree();
}

function definition(): InstrumentationModuleDefinition {
  const [only] = (
    exitFlushRefsInstrumentation() as unknown as { getModuleDefinitions(): InstrumentationModuleDefinition[] }
  ).getModuleDefinitions();
  if (!only) throw new Error('no module definition');
  return only;
}

describe('exitFlushRefsInstrumentation', () => {
  it('without it, a registered destination nothing else holds is collected before the exit', async () => {
    const unpatched = requireOnExitLeakFree();
    const ref = registerNew(unpatched.register);
    await collect();
    expect(ref.deref()).toBeUndefined();
  });

  it('holds what register() and registerBeforeExit() are given, until unregister()', async () => {
    const mod = patchedOnExitLeakFree();
    const refs = [registerNew(mod.register), registerNew(mod.registerBeforeExit)];
    await collect();
    expect(refs.map((ref) => ref.deref() !== undefined)).toEqual([true, true]);
    for (const ref of refs) mod.unregister(ref.deref() as object);
    await collect();
    expect(refs.map((ref) => ref.deref() !== undefined)).toEqual([false, false]);
  });

  it('still registers with on-exit-leak-free (arguments and receiver) and returns what unregister returns', () => {
    const register = vi.fn();
    const registerBeforeExit = vi.fn();
    const unregister = vi.fn((_obj: object) => 'unregistered');
    const mod = { register, registerBeforeExit, unregister };
    const patched = definition().patch?.(mod) as typeof mod;
    const obj = {};
    const fn = () => {};
    patched.register(obj, fn);
    patched.registerBeforeExit(obj, fn);
    expect(patched.unregister(obj)).toBe('unregistered');
    for (const original of [register, registerBeforeExit]) {
      expect(original.mock.calls).toEqual([[obj, fn]]);
      expect(original.mock.contexts).toEqual([mod]);
    }
    expect(unregister.mock.calls).toEqual([[obj]]);
  });

  it('patches a module once, and leaves one without register() or without registerBeforeExit() as it is', () => {
    const patch = definition().patch as (mod: unknown) => Record<string, unknown>;
    const register = vi.fn();
    const once = patch({ register, unregister: vi.fn() });
    const wrapped = once.register;
    expect(patch(once).register).toBe(wrapped);
    expect(once.registerBeforeExit).toBeUndefined();
    const unregister = vi.fn();
    expect(patch({ unregister })).toEqual({ unregister });
    expect(patch(undefined)).toBeUndefined();
  });

  it('leaves an on-exit-leak-free of another major version alone', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'obs-exit-refs-'));
    try {
      const pkg = join(dir, 'node_modules', 'on-exit-leak-free');
      mkdirSync(pkg, { recursive: true });
      writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'on-exit-leak-free', version: '3.0.0' }));
      writeFileSync(join(pkg, 'index.js'), 'module.exports = { register() {}, unregister() {} };\n');
      const instrumentation = exitFlushRefsInstrumentation();
      instrumentation.enable();
      enabled.push(instrumentation);
      const v3 = createRequire(join(dir, 'app.js'))('on-exit-leak-free') as OnExitLeakFree;
      const ref = registerNew(v3.register);
      await collect();
      expect(ref.deref()).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
