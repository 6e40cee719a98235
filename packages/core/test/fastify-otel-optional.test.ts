/**
 * `@fastify/otel` is an optional peer dependency of @obs/core: an app that enables the `fastify`
 * instrumentation without installing it gets one warning that names the package to install, and its
 * Fastify instances are left alone.
 */
import { channel } from 'node:diagnostics_channel';
import { expect, it, vi } from 'vitest';
import { captureDiagnostics } from '../src/diag.js';
import { DeferredFastifyInstrumentation } from '../src/tracing/fastify.js';

// as Node's require() fails for a package that is not installed
vi.mock('../src/lazy.js', () => ({
  load: (id: string) => {
    throw Object.assign(new Error(`Cannot find module '${id}'`), { code: 'MODULE_NOT_FOUND' });
  },
}));

it('warns once that @fastify/otel is not installed, and leaves Fastify instances alone', () => {
  const lines: string[] = [];
  const restore = captureDiagnostics(lines);
  const instrumentation = new DeferredFastifyInstrumentation({});
  instrumentation.enable();
  const fastify = { register: vi.fn(), setNotFoundHandler: vi.fn() };
  try {
    channel('fastify.initialization').publish({ fastify });
    channel('fastify.initialization').publish({ fastify });
  } finally {
    instrumentation.disable();
    restore();
  }
  expect(lines).toEqual([
    expect.stringContaining(
      'the fastify instrumentation is enabled but @fastify/otel is not installed (npm install @fastify/otel)',
    ),
  ]);
  expect(fastify.register).not.toHaveBeenCalled();
});
