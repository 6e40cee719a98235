import type { IncomingMessage, ServerResponse } from 'node:http';
import { Controller, Get, Inject, Param } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { User } from './database.js';
import { requestInProcess } from './in-process-request.js';

/** What `inject()` of Fastify answers (the part used here). */
interface Injected {
  statusCode: number;
  headers: Record<string, unknown>;
  json(): unknown;
}

/**
 * `GET /api/v1/in-process/users/:id`: the same read as `GET /api/v1/users/:id`, made as an in-process
 * request, as tests and internal calls make them: Fastify's `inject()` on platform-fastify; on
 * platform-express, Node's own request and response on an in-memory socket (./in-process-request.ts).
 */
@Controller('api/v1/in-process/users')
export class InProcessController {
  constructor(@Inject(HttpAdapterHost) private readonly adapterHost: HttpAdapterHost) {}

  @Get(':id')
  async get(@Param('id') id: string): Promise<{ status: number; requestId: unknown; user: User }> {
    const url = `/api/v1/users/${encodeURIComponent(id)}`;
    const adapter = this.adapterHost.httpAdapter;
    if (adapter.getType() === 'fastify') {
      const fastify = adapter.getInstance() as {
        inject(options: { method: string; url: string }): Promise<Injected>;
      };
      const inner = await fastify.inject({ method: 'GET', url });
      return { status: inner.statusCode, requestId: inner.headers['x-request-id'], user: inner.json() as User };
    }
    const express = adapter.getInstance() as (req: IncomingMessage, res: ServerResponse) => void;
    const inner = await requestInProcess(express, { method: 'GET', url });
    return {
      status: inner.statusCode,
      requestId: inner.headers['x-request-id'],
      user: JSON.parse(inner.body.toString('utf8')) as User,
    };
  }
}
