/**
 * The health and metrics routes: the same answers as every @obs adapter, on either platform.
 */
import { ServerResponse } from 'node:http';
import type { Type } from '@nestjs/common';
import { Controller, Get, Headers, Inject, Res } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { getObs, managementAddressOf, type ObsRoute, obsRouteAnswers } from '@obs/core';
import type { ResolvedObservabilityOptions } from './options.js';

/** The controller's route methods, named as they are on its prototype (and as @obs/core's route kinds). */
type RouteName = ObsRoute['kind'];

/** @obs/core's answers, by route kind (Nest routes by its decorators; the module ignores the paths). */
let answers: ReturnType<typeof obsRouteAnswers> | undefined;

/**
 * A new controller class for the probes and the scrape. Its routes get their paths from
 * {@link applyRoutePaths}, once the options are known (in `forRootAsync()`, after the factory ran).
 */
export function createObsController(): Type {
  @Controller()
  class ObsController {
    constructor(@Inject(HttpAdapterHost) private readonly adapterHost: HttpAdapterHost) {}

    /** Liveness: `{"status":"ok","checks":{...}}`, 200 or 503. */
    async live(@Res() res: unknown): Promise<void> {
      await this.send(res, 'live');
    }

    /** Readiness: as liveness, and 503 once shutdown has started. */
    async ready(@Res() res: unknown): Promise<void> {
      await this.send(res, 'ready');
    }

    /** Startup: 503 `starting` until the application listens (and its startup checks pass), then 200. */
    async started(@Res() res: unknown): Promise<void> {
      await this.send(res, 'started');
    }

    /** Every metric: OpenMetrics 1.0 with exemplars when `Accept` asks for it (Prometheus does), else text 0.0.4. */
    async metrics(@Res() res: unknown, @Headers('accept') accept: string | undefined): Promise<void> {
      await this.send(res, 'metrics', accept);
    }

    /** Send the answer of @obs/core's route of that kind (its paths are the module's, see applyRoutePaths). */
    private async send(res: unknown, kind: RouteName, accept?: string): Promise<void> {
      answers ??= obsRouteAnswers(getObs());
      const { statusCode, contentType, body } = await answers[kind](accept);
      if (res instanceof ServerResponse) {
        // platform-express: as it is (the res.send() of the Express 5 that Nest 11 ships reorders the
        // content type's parameters: `charset` before `version`)
        res.statusCode = statusCode;
        res.setHeader('content-type', contentType);
        res.setHeader('content-length', Buffer.byteLength(body));
        res.end(body);
        return;
      }
      const adapter = this.adapterHost.httpAdapter;
      adapter.setHeader(res, 'Content-Type', contentType);
      adapter.reply(res, body, statusCode);
    }
  }
  return ObsController;
}

/**
 * Give the controller's routes their paths (`GET`). A route whose path is `false` is not served; none
 * is when a management port serves them (the module starts it, see `ObsHttpWiring`).
 */
export function applyRoutePaths(controller: Type, options: ResolvedObservabilityOptions): void {
  if (managementAddressOf(getObs(), options)) return;
  const routes: [RouteName, string | false][] = [
    ['live', options.livePath],
    ['ready', options.readyPath],
    ['started', options.startedPath],
    ['metrics', options.metricsPath],
  ];
  const proto = controller.prototype as Record<RouteName, unknown>;
  for (const [name, path] of routes) {
    if (path === false) continue;
    const descriptor = Object.getOwnPropertyDescriptor(proto, name);
    if (descriptor) Get(path)(proto, name, descriptor);
  }
}

/** Every path the options serve. */
export function servedPaths(options: ResolvedObservabilityOptions): string[] {
  return [options.livePath, options.readyPath, options.startedPath, options.metricsPath].filter(
    (p): p is string => p !== false,
  );
}
