/**
 * Error reporting: what Nest's pipeline throws is noted for the request, and reported by @obs once
 * when the response turns out to be a 5xx (see ./http.ts). The filter answers as Nest does, without
 * Nest's own log line; the interceptor notes handler errors even when a filter of the app answers.
 */
import 'reflect-metadata';
import {
  type ArgumentsHost,
  type CallHandler,
  Catch,
  type ExceptionFilter,
  type ExecutionContext,
  type HttpServer,
  HttpStatus,
  Inject,
  Injectable,
  type NestInterceptor,
} from '@nestjs/common';
import { FILTER_CATCH_EXCEPTIONS } from '@nestjs/common/constants.js';
import { type AbstractHttpAdapter, ApplicationConfig, BaseExceptionFilter } from '@nestjs/core';
import { errorStatus, getObs } from '@obs/core';
import { catchError, type Observable, throwError } from 'rxjs';
import { noteException, observedRequestOf } from './http.js';

/** The status an exception asks for: Nest's `getStatus()` first, then core's reading of the error. */
function statusOf(exception: unknown): number {
  const e = exception as { getStatus?: () => unknown } | null;
  return errorStatus(typeof e?.getStatus === 'function' ? { status: e.getStatus() } : exception);
}

function catches(filter: ExceptionFilter, exception: unknown): boolean {
  const types = (Reflect.getMetadata(FILTER_CATCH_EXCEPTIONS, Object.getPrototypeOf(filter)) ??
    Reflect.getMetadata(FILTER_CATCH_EXCEPTIONS, filter.constructor) ??
    []) as (abstract new (
    ...args: never[]
  ) => unknown)[];
  return types.length === 0 || types.some((type) => exception instanceof type);
}

/**
 * The global exception filter `ObservabilityModule` registers (`APP_FILTER`). For HTTP requests it
 * notes the exception, so that @obs reports it once if the answer is a 5xx: `request failed` at level
 * error with the stack, exception event and status ERROR on the server span. 4xx answers
 * (`HttpException`s such as guards' 401/403, validation 400s, 404s) are never reported as failures.
 *
 * Then it answers:
 * - a global filter of the app that catches this exception wins, also one registered before this
 *   one (Nest would otherwise let this catch-all shadow it: the last registered global filter that
 *   matches is picked); route and controller filters, and global filters registered after this one,
 *   are picked by Nest before this one is ever called;
 * - otherwise as Nest's built-in filter (`BaseExceptionFilter`) does: the `HttpException`'s body, or
 *   `{"statusCode":500,"message":"Internal server error"}`; without Nest's `ExceptionsHandler` log line,
 *   since @obs reports 5xx errors itself.
 *
 * Other contexts (RPC, WebSocket) get the exception back as an Observable error.
 */
@Catch()
export class ObsExceptionFilter extends BaseExceptionFilter {
  constructor(@Inject(ApplicationConfig) private readonly config: ApplicationConfig) {
    super();
  }

  override catch(exception: unknown, host: ArgumentsHost): unknown {
    if (host.getType() === 'http') {
      const req = host.switchToHttp().getRequest<unknown>();
      noteException(req, exception);
      if (!observedRequestOf(req) && statusOf(exception) >= 500) {
        // A request @obs did not observe (no server wired): report it here.
        getObs().logger.error({ err: exception }, 'request failed');
      }
    }
    const shadowed = this.#shadowedFilter(exception);
    if (shadowed) return shadowed.catch(exception, host);
    if (host.getType() !== 'http') return throwError(() => exception);
    return super.catch(exception, host);
  }

  /** Nest's answer to an exception that is not an `HttpException`, without Nest's log line. */
  override handleUnknownError(
    exception: unknown,
    host: ArgumentsHost,
    applicationRef: AbstractHttpAdapter | HttpServer,
  ): void {
    const body = this.isHttpError(exception)
      ? { statusCode: exception.statusCode, message: this.getHttpErrorMessage(exception) }
      : { statusCode: HttpStatus.INTERNAL_SERVER_ERROR, message: 'Internal server error' };
    const response = host.getArgByIndex(1);
    if (!applicationRef.isHeadersSent(response)) applicationRef.reply(response, body, body.statusCode);
    else applicationRef.end(response);
  }

  /** The global filter registered before this one that Nest would have picked without it. */
  #shadowedFilter(exception: unknown): ExceptionFilter | undefined {
    const filters = this.config.getGlobalFilters();
    for (let i = filters.indexOf(this) - 1; i >= 0; i--) {
      const filter = filters[i];
      if (filter && filter !== this && catches(filter, exception)) return filter;
    }
    return undefined;
  }
}

/**
 * The global interceptor `ObservabilityModule` registers (`APP_INTERCEPTOR`): notes what a handler
 * (or a pipe) throws for the request, then lets it go on to the filters. Needed when a filter of the
 * app answers before {@link ObsExceptionFilter} is called: @obs still reports a 5xx answer once, and
 * still never reports a 4xx one, whichever filter chose the status.
 */
@Injectable()
export class ObsExceptionInterceptor implements NestInterceptor {
  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (ctx.getType() !== 'http') return next.handle();
    const req = ctx.switchToHttp().getRequest<unknown>();
    return next.handle().pipe(
      catchError((err: unknown) => {
        noteException(req, err);
        return throwError(() => err);
      }),
    );
  }
}
