/**
 * Keeps the app's asynchronous pino destinations alive until they are flushed at exit.
 *
 * pino registers each asynchronous destination (`pino.destination({ sync: false })`, pino's default)
 * with `on-exit-leak-free`, which flushes it synchronously in Node's `exit` event, but holds it
 * through a `WeakRef`. When nothing else holds the logger (a local of a CommonJS module that has run,
 * a logger of a finished job), a full garbage collection before the exit collects the destination and
 * its buffered lines with it. Under `--import @obs/register` the heap is larger and such a collection
 * is likely: issue 15, 4 lines logged and 0 written in 10 of 10 runs.
 *
 * This instrumentation patches `on-exit-leak-free`'s `register`/`registerBeforeExit` to also hold
 * the object strongly until its `unregister` (pino unregisters a destination when it closes), so the
 * exit-time flush the app relies on always finds it. A destination the app never closes lives as long
 * as the process, as an exit handler holding it strongly would keep it.
 */
import type { Instrumentation } from '@opentelemetry/instrumentation';
import { otelInstrumentation } from '../otel.js';

const { InstrumentationBase, InstrumentationNodeModuleDefinition } = otelInstrumentation;

type Register = (obj: object, fn: (obj: object, event: string) => void) => void;
interface OnExitLeakFree {
  register: Register;
  registerBeforeExit?: Register;
  unregister: (obj: object) => void;
}

/** Objects registered for an exit-time flush, held until they are unregistered. */
const HELD = new Set<object>();
const PATCHED = Symbol.for('@obs/core.on-exit-leak-free');

function patch(mod: OnExitLeakFree & { [PATCHED]?: true }): OnExitLeakFree {
  if (!mod || typeof mod.register !== 'function' || mod[PATCHED]) return mod;
  const hold = (original: Register): Register =>
    function heldRegister(this: unknown, obj, fn) {
      original.call(this, obj, fn);
      // after the original: it throws for `undefined`, and then nothing is held
      HELD.add(obj);
    };
  const { register, registerBeforeExit, unregister } = mod;
  mod.register = hold(register);
  if (typeof registerBeforeExit === 'function') mod.registerBeforeExit = hold(registerBeforeExit);
  mod.unregister = function heldUnregister(this: unknown, obj) {
    HELD.delete(obj);
    return unregister.call(this, obj);
  };
  mod[PATCHED] = true;
  return mod;
}

class ExitFlushRefsInstrumentation extends InstrumentationBase {
  constructor() {
    super('@obs/on-exit-leak-free', '1.0.0', {});
  }

  protected init() {
    return [
      new InstrumentationNodeModuleDefinition(
        'on-exit-leak-free',
        ['>=1.0.0 <3'],
        (mod: OnExitLeakFree) => patch(mod),
        (mod: OnExitLeakFree) => mod,
      ),
    ];
  }
}

/** The instrumentation (register it before the app requires pino). */
export function exitFlushRefsInstrumentation(): Instrumentation {
  return new ExitFlushRefsInstrumentation();
}
