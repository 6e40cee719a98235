/**
 * `@fastify/otel` is an optional peer dependency of @obs/core: an app that enables the `fastify`
 * instrumentation without installing it gets one warning that names the package to install, and its
 * Fastify instances are left alone.
 */
import { channel } from 'node:diagnostics_channel';
import { beforeEach, expect, it, vi } from 'vitest';
import { captureDiagnostics } from '../src/diag.js';
import { DeferredFastifyInstrumentation } from '../src/tracing/fastify.js';

/** The error `load('@fastify/otel')` throws: by default as Node's require() fails for a package that is not installed. */
const loading = vi.hoisted(() => ({ error: undefined as unknown, calls: 0 }));
vi.mock('../src/lazy.js', () => ({
  load: (id: string) => {
    loading.calls++;
    throw loading.error ?? Object.assign(new Error(`Cannot find module '${id}'`), { code: 'MODULE_NOT_FOUND' });
  },
}));
beforeEach(() => {
  loading.error = undefined;
  loading.calls = 0;
});

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
  expect(loading.calls).toBe(1); // not tried again for every instance
});

it('warns once with the reason when @fastify/otel is installed but fails to load', () => {
  loading.error = Object.assign(new SyntaxError('Unexpected token'), { code: 'ERR_BROKEN' });
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
    expect.stringMatching(
      /could not load @fastify\/otel; Fastify requests get no framework span \(Unexpected token\)$/,
    ),
  ]);
  expect(fastify.register).not.toHaveBeenCalled();
});

it('gives the reason of a load failure that is not an Error', () => {
  loading.error = 'a string';
  const lines: string[] = [];
  const restore = captureDiagnostics(lines);
  const instrumentation = new DeferredFastifyInstrumentation({});
  instrumentation.enable();
  try {
    channel('fastify.initialization').publish({ fastify: { register: vi.fn(), setNotFoundHandler: vi.fn() } });
  } finally {
    instrumentation.disable();
    restore();
  }
  expect(lines).toEqual([expect.stringMatching(/could not load @fastify\/otel; .* \(a string\)$/)]);
});
