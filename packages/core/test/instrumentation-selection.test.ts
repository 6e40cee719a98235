/**
 * Which instrumentations run (the one resolver, ../src/config/resolve.ts) and which modules the ES
 * module hooks intercept for them (issue 18).
 */
import type { Instrumentation } from '@opentelemetry/instrumentation';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_INSTRUMENTATIONS,
  type Env,
  INSTRUMENTATION_NAMES,
  instrumentationShortName,
  type ObsConfig,
  type ObsOptions,
  OPT_IN_INSTRUMENTATIONS,
  resolveConfig,
} from '../src/config/resolve.js';
import { captureDiagnostics } from '../src/diag.js';
import { ESM_HOOKED_MODULES, esmHookedModules } from '../src/tracing/instrumentations.js';

function resolve(env: Env = {}, options: ObsOptions = {}): { config: ObsConfig; warnings: string[] } {
  const warnings: string[] = [];
  const restore = captureDiagnostics(warnings);
  try {
    return { config: resolveConfig(options, env), warnings };
  } finally {
    restore();
  }
}

/** An app's own instrumentation object: only its name matters to the resolver. */
const object = (instrumentationName: string) => ({ instrumentationName }) as Instrumentation;

describe('instrumentation short names', () => {
  it('drops the @opentelemetry/instrumentation- prefix, keeps any other package name whole', () => {
    expect(instrumentationShortName('@opentelemetry/instrumentation-dataloader')).toBe('dataloader');
    expect(instrumentationShortName('@opentelemetry/instrumentation-socket.io')).toBe('socket.io');
    expect(instrumentationShortName('@acme/instrumentation-soap')).toBe('@acme/instrumentation-soap');
    // an instrumentationName written with stray spaces or capitals still matches its short name
    expect(instrumentationShortName(' @OpenTelemetry/Instrumentation-DataLoader ')).toBe('dataloader');
  });
});

describe('resolveConfig: bundled opt-in instrumentations', () => {
  it('graphql, grpc, knex and fastify run only when the enabled list names them', () => {
    expect(OPT_IN_INSTRUMENTATIONS).toEqual(['fastify', 'graphql', 'grpc', 'knex']);
    expect(DEFAULT_INSTRUMENTATIONS.filter((n) => OPT_IN_INSTRUMENTATIONS.includes(n))).toEqual([]);
    expect(resolve().config.instrumentations).toEqual(DEFAULT_INSTRUMENTATIONS);
    const { config, warnings } = resolve({ OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'pg,grpc,graphql,knex' });
    expect(config.instrumentations).toEqual(['pg', 'grpc', 'graphql', 'knex']);
    expect(warnings).toEqual([]);
  });
});

describe('resolveConfig: instrumentations the app brings', () => {
  it('OBS_INSTRUMENTATION_PACKAGES run by default, next to the default set', () => {
    const { config, warnings } = resolve({
      OBS_INSTRUMENTATION_PACKAGES: '@opentelemetry/instrumentation-dataloader, @acme/instrumentation-soap',
    });
    expect(config.instrumentationPackages).toEqual([
      '@opentelemetry/instrumentation-dataloader',
      '@acme/instrumentation-soap',
    ]);
    expect(config.instrumentations).toEqual(DEFAULT_INSTRUMENTATIONS);
    expect(warnings).toEqual([]);
  });

  it('the enabled and disabled lists know their short names, as they know the bundled ones', () => {
    const env = {
      OBS_INSTRUMENTATION_PACKAGES: '@opentelemetry/instrumentation-dataloader,@acme/instrumentation-soap',
    };
    const disabled = resolve({ ...env, OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'dataloader' });
    expect(disabled.config.instrumentationPackages).toEqual(['@acme/instrumentation-soap']);
    expect(disabled.warnings).toEqual([]);
    const enabled = resolve({ ...env, OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http,dataloader' });
    expect(enabled.config.instrumentations).toEqual(['http']);
    expect(enabled.config.instrumentationPackages).toEqual(['@opentelemetry/instrumentation-dataloader']);
    expect(enabled.warnings).toEqual([]);
  });

  it('a package named like a bundled instrumentation turns the bundled one on instead', () => {
    const { config } = resolve({ OBS_INSTRUMENTATION_PACKAGES: '@opentelemetry/instrumentation-grpc' });
    expect(config.instrumentationPackages).toEqual([]);
    expect(config.instrumentations).toEqual([...DEFAULT_INSTRUMENTATIONS, 'grpc']);
  });

  it('an entry that is no package name costs one warning', () => {
    const { config, warnings } = resolve({
      OBS_INSTRUMENTATION_PACKAGES: '../evil,@opentelemetry/instrumentation-dataloader',
    });
    expect(config.instrumentationPackages).toEqual(['@opentelemetry/instrumentation-dataloader']);
    expect(warnings).toEqual([
      '@obs warn: OBS_INSTRUMENTATION_PACKAGES entry "../evil" is not a package name; ignoring it',
    ]);
  });

  it('start({ instrumentations: [...] }) objects go by their instrumentationName, under the same lists', () => {
    const objects = [object('@opentelemetry/instrumentation-dataloader'), object('@acme/instrumentation-soap')];
    expect(resolve({}, { instrumentations: objects }).config.addedInstrumentations).toEqual([
      'dataloader',
      '@acme/instrumentation-soap',
    ]);
    const { config } = resolve(
      { OTEL_NODE_DISABLED_INSTRUMENTATIONS: '@acme/instrumentation-soap' },
      { instrumentations: { add: objects, enabled: ['http', 'dataloader', '@acme/instrumentation-soap'] } },
    );
    expect(config.addedInstrumentations).toEqual(['dataloader']);
    expect(config.instrumentations).toEqual(['http']);
  });
});

describe('the modules the ES module hooks intercept', () => {
  it('are those of the selected instrumentations only', () => {
    const modules = esmHookedModules(resolve({ OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'pg,grpc' }).config);
    expect(modules).toEqual(['pg', 'pg-pool', '@grpc/grpc-js']);
    expect(INSTRUMENTATION_NAMES.length).toBe(Object.keys(ESM_HOOKED_MODULES).length);
  });

  it('add what an OBS_INSTRUMENTATION_PACKAGES package declares in its module definitions', () => {
    const { config } = resolve({
      OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'pg,dataloader',
      OBS_INSTRUMENTATION_PACKAGES: '@opentelemetry/instrumentation-dataloader',
    });
    expect(esmHookedModules(config)).toEqual(['pg', 'pg-pool', 'dataloader']);
  });
});
