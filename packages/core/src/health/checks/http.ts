/**
 * An HTTP upstream: a `GET` (or `HEAD`) with `fetch`, healthy on 2xx and 3xx (redirects are not
 * followed). The summary of a failure is `HTTP <status>` or the network error's code; never the URL.
 */
import { type HealthCheck, HealthCheckError } from '../registry.js';
import { type CheckOptions, makeCheck } from './common.js';

/** Options of {@link httpCheck}. */
export interface HttpCheckOptions extends CheckOptions {
  /** Default `GET`. */
  method?: 'GET' | 'HEAD';
  /** Request headers (e.g. an authorization header; never shown in answers). */
  headers?: Record<string, string>;
  /** Which statuses are healthy. Default 200..399. */
  expectStatus?: (status: number) => boolean;
}

/**
 * A check that requests `url` (default name `http`).
 *
 * ```js
 * getObs().health.add(httpCheck('http://payments:8080/health/ready', { name: 'payments', critical: false }));
 * ```
 */
export function httpCheck(url: string | URL, options: HttpCheckOptions = {}): HealthCheck {
  const target = new URL(url); // throws TypeError for an invalid URL, at registration
  const healthy = options.expectStatus ?? ((status: number) => status >= 200 && status < 400);
  return makeCheck('http', options, async (signal) => {
    const res = await fetch(target, {
      method: options.method ?? 'GET',
      headers: options.headers,
      redirect: 'manual',
      signal,
    });
    await res.body?.cancel().catch(() => undefined);
    if (!healthy(res.status)) throw new HealthCheckError(`HTTP ${res.status}`);
  });
}
