/**
 * The routes every adapter serves, defined once: the Kubernetes probes (`/health/live`,
 * `/health/ready`, `/health/started`) and the Prometheus scrape (`/metrics`). An adapter mounts each
 * {@link ObsRoute} as a `GET` route in its framework's idiom and sends the {@link ObsAnswer} as it is.
 * Building the table registers every path with the request observer, so probes and scrapes are never
 * logged, traced or measured.
 */
import type { HealthRegistry } from '../health/registry.js';
import type { Exposition } from '../metrics/pipeline.js';
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
export interface ObsRouteSources {
  readonly http: RequestObserver;
  readonly health: HealthRegistry;
  readonly metrics: { render(accept?: string): Promise<Exposition> };
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
 * The probe and scrape routes for `paths` (defaults filled in), registered as ignored paths.
 * @returns the routes to mount, in the order live, ready, started, metrics (metrics left out when
 *   `metricsPath` is false)
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
  return routes;
}
