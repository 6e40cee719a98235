/**
 * The OpenTelemetry packages @obs/core uses at run time, required as CommonJS.
 *
 * The instrumentations are CommonJS and load the CommonJS builds of `@opentelemetry/api`, `core`,
 * `resources`, `sdk-metrics` and `semantic-conventions`. ES `import`s of the same packages in @obs would
 * load their ES builds as well: every module twice, about 80 ms and 7.5 MiB of the preload's start-up
 * (docs/performance.md). So values come from here and types from `import type`. The API's global
 * registry is keyed by a global symbol, so code holding the ES build of the API (an app, a test) still
 * sees the same providers and context manager.
 */
import { load } from './lazy.js';

/** `@opentelemetry/api` (CommonJS build), as in `import * as opentelemetry from '@opentelemetry/api'`. */
export const opentelemetry = load('@opentelemetry/api') as typeof import('@opentelemetry/api');
/** `@opentelemetry/core` (CommonJS build). */
export const otelCore = load('@opentelemetry/core') as typeof import('@opentelemetry/core');
/** `@opentelemetry/sdk-metrics` (CommonJS build). */
export const sdkMetrics = load('@opentelemetry/sdk-metrics') as typeof import('@opentelemetry/sdk-metrics');
/** `@opentelemetry/instrumentation` (CommonJS build): the base every instrumentation package requires. */
export const otelInstrumentation = load(
  '@opentelemetry/instrumentation',
) as typeof import('@opentelemetry/instrumentation');
/** `@opentelemetry/semantic-conventions` (CommonJS build): attribute and metric names. */
export const semconv = load(
  '@opentelemetry/semantic-conventions',
) as typeof import('@opentelemetry/semantic-conventions');
