import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { Controller, Get, Query, StreamableFile } from '@nestjs/common';

async function* ndjsonChunks(): AsyncGenerator<string> {
  for (let chunk = 0; chunk < 5; chunk++) {
    if (chunk > 0) await sleep(50);
    yield `${JSON.stringify({ chunk })}\n`;
  }
}

@Controller('api/v1')
export class DemoController {
  @Get('slow')
  async slow(@Query('ms') ms?: string): Promise<{ waited_ms: number }> {
    const waited = Math.min(Math.max(Number(ms) || 0, 0), 5000);
    await sleep(waited);
    return { waited_ms: waited };
  }

  @Get('stream')
  stream(): StreamableFile {
    return new StreamableFile(Readable.from(ndjsonChunks()), { type: 'application/x-ndjson' });
  }

  @Get('boom')
  boom(): never {
    throw new Error('boom: the handler failed');
  }
}
