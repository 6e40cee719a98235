/** The HTTP side of an OTLP/HTTP receiver: export paths, content types, content encodings, body size. */
import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { deflateSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  BadRequest,
  decompress,
  exportRequestType,
  MAX_BODY_BYTES,
  preloadProtos,
  readBody,
  signalOfPath,
  wireOf,
} from '../src/index.js';

describe('signalOfPath', () => {
  it('names the signal of /v1/<signal>, also under a gateway prefix', () => {
    expect(signalOfPath('/v1/traces')).toBe('traces');
    expect(signalOfPath('/otlp/v1/metrics')).toBe('metrics');
    expect(signalOfPath('/api/intake/otlp/v1/logs')).toBe('logs');
    expect(signalOfPath('v1/logs')).toBe('logs');
  });

  it('names no signal for other paths', () => {
    for (const path of ['/v1/trace', '/v1/traces/', '/v2/traces', '/xv1/traces', '/v1/profiles', '/']) {
      expect(signalOfPath(path)).toBeUndefined();
    }
  });
});

describe('wireOf', () => {
  it('maps the protobuf and JSON media types, ignoring parameters and case', () => {
    expect(wireOf('application/x-protobuf')).toBe('protobuf');
    expect(wireOf('application/protobuf')).toBe('protobuf');
    expect(wireOf(' Application/JSON; charset=utf-8')).toBe('json');
  });

  it('maps anything else to undefined (415)', () => {
    expect(wireOf('text/plain')).toBeUndefined();
    expect(wireOf('')).toBeUndefined();
  });
});

describe('decompress', () => {
  const body = Buffer.from('{"resourceSpans":[]}');

  it('undoes gzip, x-gzip and deflate', () => {
    expect(decompress(gzipSync(body), 'gzip')).toEqual(body);
    expect(decompress(gzipSync(body), ' X-GZIP ')).toEqual(body);
    expect(decompress(deflateSync(body), 'deflate')).toEqual(body);
  });

  it('returns the body itself for identity, an empty or no Content-Encoding', () => {
    for (const encoding of ['identity', '', undefined]) expect(decompress(body, encoding)).toBe(body);
  });

  it('refuses other encodings', () => {
    expect(() => decompress(body, 'br')).toThrow(new BadRequest('unsupported Content-Encoding: br'));
  });

  it('refuses a body that is not in the declared encoding', () => {
    expect(() => decompress(body, 'gzip')).toThrow(/^cannot decompress gzip body: /);
    expect(() => decompress(body, 'deflate')).toThrow(BadRequest);
  });

  it('refuses a body that inflates beyond MAX_BODY_BYTES', () => {
    const bomb = gzipSync(Buffer.alloc(MAX_BODY_BYTES + 1));
    expect(() => decompress(bomb, 'gzip')).toThrow(/^cannot decompress gzip body: /);
  });
});

describe('readBody', () => {
  /** Posts `size` bytes to a real HTTP server and returns what readBody made of them. */
  async function post(size: number): Promise<PromiseSettledResult<Buffer>> {
    const read: Promise<Buffer>[] = [];
    const server = createServer((req: IncomingMessage, res) => {
      const body = readBody(req);
      read.push(body);
      body.then(
        () => res.end('ok'),
        () => undefined,
      );
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    try {
      await fetch(`http://127.0.0.1:${port}/v1/traces`, { method: 'POST', body: Buffer.alloc(size, 'a') }).catch(
        () => undefined, // the server destroys the request of a body too large
      );
      const [result] = await Promise.allSettled(read);
      if (!result) throw new Error('the server saw no request');
      return result;
    } finally {
      server.closeAllConnections();
      server.close();
    }
  }

  it('collects the whole body', async () => {
    expect(await post(70_000)).toEqual({ status: 'fulfilled', value: Buffer.alloc(70_000, 'a') });
  });

  it('rejects a body larger than MAX_BODY_BYTES (64 MiB) with BadRequest', async () => {
    expect(MAX_BODY_BYTES).toBe(64 * 1024 * 1024);
    expect(await post(MAX_BODY_BYTES + 1)).toEqual({ status: 'rejected', reason: new BadRequest('body too large') });
  });
});

describe('exportRequestType', () => {
  it("gives each signal's official request type, loaded once (preloadProtos)", () => {
    preloadProtos();
    expect(exportRequestType('traces').fullName).toBe(
      '.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest',
    );
    expect(exportRequestType('metrics').fullName).toBe(
      '.opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest',
    );
    expect(exportRequestType('logs')).toBe(exportRequestType('logs'));
    expect(exportRequestType('logs').name).toBe('ExportLogsServiceRequest');
  });
});
