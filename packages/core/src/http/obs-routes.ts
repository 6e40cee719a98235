/**
 * The routes every adapter serves, defined once: the Kubernetes probes (`/health/live`,
 * `/health/ready`, `/health/started`) and the Prometheus scrape (`/metrics`). An adapter mounts each
 * {@link ObsRoute} as a `GET` route in its framework's idiom and sends the {@link ObsAnswer} as it is.
 * Building the table registers every path with the request observer, so probes and scrapes are never
 * logged, traced or measured. With a management port (`OBS_MANAGEMENT_PORT` or the `managementPort`
 * option) the table is served by @obs's own server on that port (./management-server.ts) and the
 * adapter gets no route to mount on the app's port.
 */
import { parsePort, parseString } from '../config/parse.js';
import type { ObsConfig } from '../config/resolve.js';
import type { HealthRegistry } from '../health/registry.js';
import type { Exposition } from '../metrics/pipeline.js';
import { type ManagementSources, serveManagement } from './management-server.js';
import type { RequestObserver } from './observer.js';

/** Paths of the routes; the same options on every adapter. */
export interface ObsRoutePaths {
  /** Liveness probe (Kubernetes). Default `/health/live`. */
  livePath?: string;
  /** Readiness probe (Kubernetes); 503 once shutdown has started. Default `/health/ready`. */
  readyPath?: string;
  /** Startup probe (Kubernetes); 200 once the app listens. Default `/health/started`. */
  startedPath?: string;
  /**
   * Prometheus scrape: OpenMetrics 1.0 with exemplars when the `Accept` header asks for it (Prometheus
   * does), else the text format 0.0.4. Default `/metrics`; `false` to not serve metrics.
   */
  metricsPath?: string | false;
  /**
   * Serve these routes on their own server on this port (0 to 65535) instead of the app's port, with
   * none of the app's middleware or hooks. Overrides `OBS_MANAGEMENT_PORT`; `false` keeps them on the
   * app's port whatever the variable says. A bad value: one warning, and the variable's setting.
   */
  managementPort?: number | false;
  /** The management server's interface. Overrides `OBS_MANAGEMENT_ADDRESS`. Default all interfaces. */
  managementAddress?: string;
}

/** What a route answers: send it as it is. */
export interface ObsAnswer {
  readonly statusCode: number;
  /** `application/json; charset=utf-8` for the probes, the exposition's type for the scrape. */
  readonly contentType: string;
  readonly body: string;
}

/** One `GET` route. */
export interface ObsRoute {
  readonly kind: 'live' | 'ready' | 'started' | 'metrics';
  readonly path: string;
  /**
   * The answer to one request. Never rejects.
   * @param accept the request's `Accept` header (the scrape's format is negotiated from it; probes ignore it)
   */
  answer(accept?: string): Promise<ObsAnswer>;
}

/** What the table needs of the @obs instance. */
export interface ObsRouteSources extends ManagementSources {
  readonly http: RequestObserver;
  readonly health: HealthRegistry;
  readonly metrics: { render(accept?: string): Promise<Exposition> };
  readonly config: Pick<ObsConfig, 'management'>;
}

const JSON_TYPE = 'application/json; charset=utf-8';

function probe(answer: () => Promise<{ statusCode: number; body: unknown }>): () => Promise<ObsAnswer> {
  return async () => {
    const { statusCode, body } = await answer();
    return { statusCode, contentType: JSON_TYPE, body: JSON.stringify(body) };
  };
}

/** The answers of the four kinds of route, for adapters that route by their own means (NestJS decorators). */
export function obsRouteAnswers(
  obs: Omit<ObsRouteSources, 'http'>,
): Record<ObsRoute['kind'], (accept?: string) => Promise<ObsAnswer>> {
  const { health } = obs;
  return {
    live: probe(() => health.live()),
    ready: probe(() => health.ready()),
    started: probe(() => health.startup()),
    metrics: async (accept) => {
      const { contentType, body } = await obs.metrics.render(accept);
      return { statusCode: 200, contentType, body };
    },
  };
}

/**
 * The management server's port and address for these options, or undefined to serve on the app's
 * port: the option when given and valid, else `OBS_MANAGEMENT_PORT` / `OBS_MANAGEMENT_ADDRESS` as the
 * configuration resolved them.
 */
export function managementAddressOf(
  obs: Pick<ObsRouteSources, 'config'>,
  paths: Pick<ObsRoutePaths, 'managementPort' | 'managementAddress'> = {},
): { port: number; address: string | undefined } | undefined {
  const configured = obs.config.management;
  if (paths.managementPort === false) return undefined;
  const port = parsePort(paths.managementPort, 'managementPort', configured.port);
  if (port === undefined) return undefined;
  return { port, address: parseString(paths.managementAddress, configured.address) };
}

/**
 * The probe and scrape routes for `paths` (defaults filled in), registered as ignored paths.
 * @returns the routes to mount on the app's port, in the order live, ready, started, metrics
 *   (metrics left out when `metricsPath` is false); none when a management port serves them
 */
export function obsRouteTable(obs: ObsRouteSources, paths: ObsRoutePaths = {}): ObsRoute[] {
  const answers = obsRouteAnswers(obs);
  const routes: ObsRoute[] = [
    { kind: 'live', path: paths.livePath ?? '/health/live', answer: answers.live },
    { kind: 'ready', path: paths.readyPath ?? '/health/ready', answer: answers.ready },
    { kind: 'started', path: paths.startedPath ?? '/health/started', answer: answers.started },
  ];
  const metricsPath = paths.metricsPath ?? '/metrics';
  if (metricsPath !== false) routes.push({ kind: 'metrics', path: metricsPath, answer: answers.metrics });
  for (const route of routes) obs.http.ignorePath(route.path);
  const management = managementAddressOf(obs, paths);
  if (management) {
    serveManagement(obs, routes, management);
    return [];
  }
  return routes;
}
