/**
 * `ObservabilityModule`: the one import that wires @obs into a Nest application.
 */
import {
  type DynamicModule,
  Inject,
  Injectable,
  Module,
  type OnModuleInit,
  type Provider,
  type Type,
} from '@nestjs/common';
import { APP_FILTER, APP_INTERCEPTOR, ApplicationConfig, HttpAdapterHost } from '@nestjs/core';
import { getObs, managementAddressOf, obsRouteTable, shapeLogger } from '@obs/core';
import { applyRoutePaths, createObsController, servedPaths } from './controller.js';
import { ObsExceptionFilter, ObsExceptionInterceptor } from './errors.js';
import {
  type AdapterLike,
  labelFastifyRoutes,
  markNotFoundHandler,
  observeExpressInstance,
  observeServer,
} from './http.js';
import { ObsLoggerService } from './logger.js';
import {
  normalizePath,
  OBS_MODULE_OPTIONS,
  type ObservabilityModuleAsyncOptions,
  type ObservabilityModuleOptions,
  type ResolvedObservabilityOptions,
  resolveOptions,
} from './options.js';
import { shutDownWith } from './shutdown.js';

/**
 * Wires the HTTP server once the application initialises (before it listens): request observation,
 * not-found marking, probe and scrape paths excluded from telemetry, graceful shutdown (./shutdown.ts).
 */
@Injectable()
class ObsHttpWiring implements OnModuleInit {
  constructor(
    @Inject(HttpAdapterHost) private readonly adapterHost: HttpAdapterHost,
    @Inject(ApplicationConfig) private readonly config: ApplicationConfig,
    @Inject(OBS_MODULE_OPTIONS) private readonly options: ResolvedObservabilityOptions,
  ) {}

  onModuleInit(): void {
    const obs = getObs();
    if (managementAddressOf(obs, this.options)) {
      // the probes and the scrape on their own server: no Nest middleware, guard or interceptor runs
      obsRouteTable(obs, this.options);
    }
    const prefix = this.config.getGlobalPrefix();
    for (const path of servedPaths(this.options)) {
      obs.http.ignorePath(path);
      // Under a global prefix unless the app excluded them from it: both forms are ignored.
      if (prefix) obs.http.ignorePath(normalizePath(`${prefix}/${path}`));
    }
    const adapter = this.adapterHost.httpAdapter as unknown as AdapterLike | undefined;
    if (!adapter) return; // an application context without HTTP
    const platform = adapter.getType();
    markNotFoundHandler(adapter);
    if (platform === 'fastify') labelFastifyRoutes(adapter.getInstance(), this.options.fields);
    else if (platform === 'express') observeExpressInstance(adapter.getInstance(), this.options.fields);
    const server = adapter.getHttpServer();
    if (server) shutDownWith(adapter, server as Parameters<typeof shutDownWith>[1]);
    if (!server || !observeServer(server as Parameters<typeof observeServer>[0], platform, this.options.fields)) {
      obs.logger.warn(
        { platform },
        '@obs/nestjs: the HTTP server has no request listener; requests will not be observed',
      );
    }
  }
}

/**
 * The @obs module. Import it once, in the root module: it is global.
 *
 * ```ts
 * @Module({ imports: [ObservabilityModule.forRoot()], controllers: [UsersController] })
 * export class AppModule {}
 * ```
 *
 * It provides, on platform-express and platform-fastify:
 * - request observation for every request the application's HTTP server receives: `X-Request-Id`
 *   kept when well-formed (else a new UUID) and echoed; `request_id`, `trace_id` and `span_id` on every
 *   log line written while handling it; one completion line (`request completed`/`request aborted`)
 *   with method, route template (also for requests guards reject; absent for 404s), status and
 *   `duration_ms`;
 * - `GET /health/live`, `GET /health/ready`, `GET /health/started` and `GET /metrics` (paths
 *   configurable), excluded from logs, traces and metrics;
 * - graceful shutdown in Nest's order: readiness 503 at once, the shutdown delay and the drain of the
 *   HTTP server in the adapter's `beforeClose()`, before any `onModuleDestroy()` (see ./shutdown.ts);
 * - {@link ObsExceptionFilter} (`APP_FILTER`) and {@link ObsExceptionInterceptor} (`APP_INTERCEPTOR`):
 *   5xx errors logged once at level error with the stack and recorded on the server span;
 * - {@link ObsLoggerService}, for `app.useLogger(app.get(ObsLoggerService))`, shaped by the `logger`
 *   option (level, redaction paths, serializers, a development transport such as pino-pretty).
 *
 * Start the process with `node --import @obs/register dist/main.js`.
 */
@Module({})
export class ObservabilityModule {
  /**
   * The module with static options.
   * @param options paths of the probe and scrape routes; defaults `/health/live`, `/health/ready`,
   *   `/health/started`, `/metrics`
   */
  static forRoot(options: ObservabilityModuleOptions = {}): DynamicModule {
    const resolved = resolveOptions(options);
    const controller = createObsController();
    applyRoutePaths(controller, resolved);
    return dynamicModule(controller, [{ provide: OBS_MODULE_OPTIONS, useValue: resolved }]);
  }

  /**
   * The module with options from a factory, e.g. `{ imports: [ConfigModule], inject: [ConfigService],
   * useFactory: (config) => ({ metricsPath: config.get('METRICS_PATH') }) }`. The factory runs while
   * the application is created, before its routes are registered.
   */
  static forRootAsync(options: ObservabilityModuleAsyncOptions): DynamicModule {
    const controller = createObsController();
    const module = dynamicModule(controller, [
      {
        provide: OBS_MODULE_OPTIONS,
        inject: options.inject ?? [],
        // biome-ignore lint/suspicious/noExplicitAny: Nest factories take whatever `inject` lists
        useFactory: async (...args: any[]) => {
          const resolved = resolveOptions(await options.useFactory(...args));
          applyRoutePaths(controller, resolved);
          return resolved;
        },
      },
    ]);
    return { ...module, imports: options.imports ?? [] };
  }
}

function dynamicModule(controller: Type, providers: Provider[]): DynamicModule {
  return {
    module: ObservabilityModule,
    global: true,
    controllers: [controller],
    providers: [
      ...providers,
      {
        provide: ObsLoggerService,
        inject: [OBS_MODULE_OPTIONS],
        useFactory: (options: ResolvedObservabilityOptions) =>
          new ObsLoggerService(
            undefined,
            options.logger === undefined
              ? undefined
              : shapeLogger(getObs().logger, options.logger, '@obs/nestjs: logger'),
          ),
      },
      { provide: APP_FILTER, useClass: ObsExceptionFilter },
      { provide: APP_INTERCEPTOR, useClass: ObsExceptionInterceptor },
      ObsHttpWiring,
    ],
    exports: [ObsLoggerService, OBS_MODULE_OPTIONS],
  };
}
