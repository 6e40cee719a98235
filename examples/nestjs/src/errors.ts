import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, Inject } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';

/** An error answered as `{"error": message}` with its status. */
export class ApiError extends HttpException {
  constructor(status: number, message: string) {
    super({ error: message }, status);
  }
}

/** What the contract answers for an exception: the `ApiError`'s body, else a short `{"error": ...}`. */
function contractAnswer(exception: unknown): { status: number; body: { error: string } } {
  if (!(exception instanceof HttpException)) return { status: 500, body: { error: 'Internal server error' } };
  const status = exception.getStatus();
  if (exception instanceof ApiError) return { status, body: exception.getResponse() as { error: string } };
  if (status === 404) return { status, body: { error: 'Not found' } };
  if (status >= 500) return { status, body: { error: 'Internal server error' } };
  // e.g. 400 for a malformed JSON body: the parser's message
  return { status, body: { error: exception.message } };
}

/**
 * Answers every exception with the contract's JSON bodies. @obs's own filter still sees each
 * exception first and reports 5xx answers once (`request failed`, with the stack).
 */
@Catch()
export class ContractErrorFilter implements ExceptionFilter {
  constructor(@Inject(HttpAdapterHost) private readonly adapterHost: HttpAdapterHost) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const { status, body } = contractAnswer(exception);
    const response = host.switchToHttp().getResponse<unknown>();
    const adapter = this.adapterHost.httpAdapter;
    if (adapter.isHeadersSent(response)) adapter.end(response);
    else adapter.reply(response, body, status);
  }
}
