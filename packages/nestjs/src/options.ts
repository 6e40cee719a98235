/**
 * Options of {@link ObservabilityModule} and their resolution.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { InjectionToken, ModuleMetadata, OptionalFactoryDependency } from '@nestjs/common';
import type { AppLoggerOptions } from '@obs/core';

/** Options for `ObservabilityModule.forRoot()`. Every field is optional. */
export interface ObservabilityModuleOptions {
  /** Liveness probe path. Default `/health/live`. Answers `{"status":"ok","checks":{...}}` (200, or 503 when a check fails). */
  livePath?: string;
  /** Readiness probe path. Default `/health/ready`. 503 as soon as shutdown starts. */
  readyPath?: string;
  /** Startup probe path. Default `/health/started`. 200 once the application listens. */
  startedPath?: string;
  /** Prometheus scrape path (text exposition 0.0.4). Default `/metrics`; `false` serves no metrics route. */
  metricsPath?: string | false;
  /**
   * Serve the probes and the scrape on their own server on this port (0 to 65535) instead of the
   * app's, with none of the app's middleware, guards or interceptors. Overrides `OBS_MANAGEMENT_PORT`;
   * `false` keeps them on the app's port whatever the variable says.
   */
  managementPort?: number | false;
  /** The management server's interface. Overrides `OBS_MANAGEMENT_ADDRESS`. Default all interfaces. */
  managementAddress?: string;
  /**
   * The app's own fields for the completion line, from the platform's raw request and response (on
   * platform-express the Express `req`, on platform-fastify Node's `IncomingMessage`), e.g. `(req) =>
   * ({ 'enduser.id': req.user?.id })`. Called once per request when the response has closed; the
   * object it returns is added under @obs's own fields (it cannot replace them) and redacted like every
   * field. If it throws, the line is written without them and with `fields_failed: true` (reported once
   * on stderr); the request is not affected. Default none. Standard fields: `OBS_HTTP_LOG_FIELDS`.
   */
  // biome-ignore lint/suspicious/noExplicitAny: the platform's request type (Express or Node's)
  fields?: (req: any, res: ServerResponse) => Record<string, unknown> | undefined;
  /**
   * The app's usual pino options (as given to nestjs-pino's `pinoHttp`, or to Fastify's `logger` on
   * platform-fastify), applied to the {@link ObsLoggerService} the module provides: `level`, `redact`
   * paths and `serializers` shape its lines; `transport` (`{ target: 'pino-pretty' }` in development)
   * or `stream` takes every @obs line of the process; `false` silences it. Anything else would change
   * @obs's line format: one warning names what was left out. Default: the @obs logger as it is.
   */
  logger?: boolean | AppLoggerOptions;
}

/** Options for `ObservabilityModule.forRootAsync()`: the options come from a factory with injected dependencies. */
export interface ObservabilityModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  /** Returns the options (or a promise of them). Called once, while the application is created. */
  // biome-ignore lint/suspicious/noExplicitAny: Nest factories take whatever `inject` lists
  useFactory: (...args: any[]) => ObservabilityModuleOptions | Promise<ObservabilityModuleOptions>;
  /** Providers passed to `useFactory`, in order (e.g. `[ConfigService]`). Default none. */
  inject?: (InjectionToken | OptionalFactoryDependency)[];
}

/** The options after defaults and normalisation: paths start with `/` and have no trailing `/`. */
export interface ResolvedObservabilityOptions {
  readonly livePath: string;
  readonly readyPath: string;
  readonly startedPath: string;
  readonly metricsPath: string | false;
  readonly managementPort: number | false | undefined;
  readonly managementAddress: string | undefined;
  readonly fields: ((req: IncomingMessage, res: ServerResponse) => Record<string, unknown> | undefined) | undefined;
  readonly logger: boolean | AppLoggerOptions | undefined;
}

/** Injection token of the {@link ResolvedObservabilityOptions}. */
export const OBS_MODULE_OPTIONS = Symbol.for('@obs/nestjs.options');

/** `health/live/` → `/health/live`. */
export function normalizePath(path: string): string {
  const trimmed = path.trim().replace(/\/+$/, '');
  const withSlash = trimmed.startsWith('/') ? trimmed : `/${trimmed}`;
  return withSlash.replace(/\/{2,}/g, '/') || '/';
}

/** Apply the defaults. Throws a TypeError for an empty path (a configuration mistake worth failing start-up for). */
export function resolveOptions(options: ObservabilityModuleOptions = {}): ResolvedObservabilityOptions {
  const path = (value: string | undefined, fallback: string, name: string): string => {
    if (value === undefined) return fallback;
    if (typeof value !== 'string' || value.trim() === '' || value.trim() === '/') {
      throw new TypeError(`@obs/nestjs: ${name} must be a non-empty path, got ${JSON.stringify(value)}`);
    }
    return normalizePath(value);
  };
  return Object.freeze({
    livePath: path(options.livePath, '/health/live', 'livePath'),
    readyPath: path(options.readyPath, '/health/ready', 'readyPath'),
    startedPath: path(options.startedPath, '/health/started', 'startedPath'),
    metricsPath: options.metricsPath === false ? false : path(options.metricsPath, '/metrics', 'metricsPath'),
    managementPort: options.managementPort,
    managementAddress: options.managementAddress,
    fields: typeof options.fields === 'function' ? options.fields : undefined,
    logger: options.logger,
  });
}
