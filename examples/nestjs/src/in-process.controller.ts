import { Controller, Get, Inject, Param } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { User } from './database.js';
import { ApiError } from './errors.js';

/** What `inject()` of Fastify answers (the part used here). */
interface Injected {
  statusCode: number;
  headers: Record<string, unknown>;
  json(): unknown;
}

/**
 * `GET /api/v1/in-process/users/:id`: the same read as `GET /api/v1/users/:id`, made as an in-process
 * request (Fastify's `inject()`, as tests and internal calls make them). Platform-express answers 501:
 * light-my-request rewires the prototypes of every request of an Express app it injects into, which
 * breaks the app's real requests (also without @obs).
 */
@Controller('api/v1/in-process/users')
export class InProcessController {
  constructor(@Inject(HttpAdapterHost) private readonly adapterHost: HttpAdapterHost) {}

  @Get(':id')
  async get(@Param('id') id: string): Promise<{ status: number; requestId: unknown; user: User }> {
    const instance = this.adapterHost.httpAdapter.getInstance() as {
      inject?: (options: { method: string; url: string }) => Promise<Injected>;
    };
    if (this.adapterHost.httpAdapter.getType() !== 'fastify' || !instance.inject) {
      throw new ApiError(501, 'In-process requests are not supported on Express');
    }
    const inner = await instance.inject({ method: 'GET', url: `/api/v1/users/${encodeURIComponent(id)}` });
    return { status: inner.statusCode, requestId: inner.headers['x-request-id'], user: inner.json() as User };
  }
}
