/**
 * OTLP over gRPC needs optional peer dependencies (the exporter packages and @grpc/grpc-js, which bring
 * protobufjs and its install script to every app otherwise). Without them: one warning that names what
 * to install, and the signal is exported with http/protobuf to the HTTP default endpoint.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';

vi.mock('../src/lazy.js', async (original) => {
  const actual = await original<typeof import('../src/lazy.js')>();
  const load = Object.assign((id: string) => actual.load(id), actual.load, {
    resolve: (id: string) => {
      if (id === '@grpc/grpc-js' || id === '@opentelemetry/exporter-metrics-otlp-grpc') {
        throw Object.assign(new Error(`Cannot find module '${id}'`), { code: 'MODULE_NOT_FOUND' });
      }
      return actual.load.resolve(id);
    },
  });
  return { ...actual, load };
});

const { captureDiagnostics } = await import('../src/diag.js');
const { resolveConfig } = await import('../src/config/resolve.js');

describe('OTLP over gRPC without its optional packages', () => {
  let restore: (() => void) | undefined;
  afterEach(() => restore?.());

  it('warns once, naming the packages to install, and exports every signal with http/protobuf', () => {
    const lines: string[] = [];
    restore = captureDiagnostics(lines);
    const config = resolveConfig({}, { OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' });
    expect(config.traces.otlp).toMatchObject({ protocol: 'http/protobuf', url: 'http://localhost:4318/v1/traces' });
    expect(config.metrics.otlp).toMatchObject({ protocol: 'http/protobuf', url: 'http://localhost:4318/v1/metrics' });
    expect(config.logs.otlp).toMatchObject({ protocol: 'http/protobuf', url: 'http://localhost:4318/v1/logs' });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('npm install @opentelemetry/exporter-metrics-otlp-grpc @grpc/grpc-js;');
  });

  it('keeps grpc where nothing is missing: a signal-specific protocol is checked for its own signal only', () => {
    const lines: string[] = [];
    restore = captureDiagnostics(lines);
    const config = resolveConfig({}, { OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'grpc' });
    // @grpc/grpc-js is missing in this test, so traces fall back too; metrics and logs were never grpc
    expect(config.traces.otlp.protocol).toBe('http/protobuf');
    expect(config.metrics.otlp.protocol).toBe('http/protobuf');
    expect(lines).toHaveLength(1);
  });

  it('says nothing about gRPC packages when no signal asks for grpc', () => {
    const lines: string[] = [];
    restore = captureDiagnostics(lines);
    const config = resolveConfig({}, { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' });
    expect(config.traces.otlp.protocol).toBe('http/json');
    expect(lines).toEqual([]);
  });
});
