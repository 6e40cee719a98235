/**
 * Synchronous, on-demand loading of CommonJS builds of dependencies. Exporters and optional parts
 * are only loaded when the configuration asks for them, which keeps `--import @obs/register` cheap,
 * and loading pino through `require` after the instrumentations are registered lets
 * `@opentelemetry/instrumentation-pino` see it.
 */
import { createRequire } from 'node:module';

/** `require` relative to @obs/core. */
export const load = createRequire(import.meta.url);
