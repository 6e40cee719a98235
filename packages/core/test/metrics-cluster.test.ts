/**
 * The cluster aggregation's wire format (./src/metrics/cluster.ts): a peer's snapshot crosses a unix
 * socket as text, and what arrives must be what the peer collected. The node:cluster and PM2 scenarios
 * with a real Prometheus are in packages/cli/test/cluster.test.ts.
 */
import { once } from 'node:events';
import { rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  DataPointType,
  type GaugeMetricData,
  type HistogramMetricData,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import { afterEach, describe, expect, it } from 'vitest';
import { runtimeDirectory, startClusterAggregation } from '../src/metrics/cluster.js';

const SCOPE = { name: 'test-scope' };
const TIME: [number, number] = [1_700_000_000, 0];

/** A collection with a NaN gauge (two collections in one instant) and an empty histogram (min Infinity). */
function collection(): ResourceMetrics {
  const gauge: GaugeMetricData = {
    descriptor: { name: 'process.cpu.utilization', description: '', unit: '1', valueType: 1 },
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPointType: DataPointType.GAUGE,
    dataPoints: [{ attributes: { 'cpu.mode': 'user' }, startTime: TIME, endTime: TIME, value: Number.NaN }],
  };
  const histogram: HistogramMetricData = {
    descriptor: { name: 'work.duration', description: '', unit: 's', valueType: 1 },
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPointType: DataPointType.HISTOGRAM,
    dataPoints: [
      {
        attributes: {},
        startTime: TIME,
        endTime: TIME,
        value: {
          buckets: { boundaries: [1], counts: [0, 0] },
          count: 0,
          sum: 0,
          min: Number.POSITIVE_INFINITY,
          max: Number.NEGATIVE_INFINITY,
        },
      },
    ],
  };
  return {
    resource: resourceFromAttributes({ 'service.name': 'cluster-wire' }),
    scopeMetrics: [{ scope: SCOPE, metrics: [gauge, histogram] }],
  };
}

describe('cluster aggregation: snapshots between workers', () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  it('keep NaN and infinite values (JSON would make them null, which fails the whole scrape)', async () => {
    const service = `cluster-wire-${process.pid}`;
    cleanup.push(() => rmSync(runtimeDirectory(service), { recursive: true, force: true }));
    const aggregation = startClusterAggregation(
      service,
      () => ({}),
      async () => collection(),
    );
    cleanup.push(() => aggregation.close());
    const dir = runtimeDirectory(service);

    // what this worker answers a peer that asks it (the peer's side of the wire)
    const asked = connect(join(dir, `${process.pid}.sock`));
    asked.setEncoding('utf8');
    let answer = '';
    asked.on('data', (chunk: string) => {
      answer += chunk;
    });
    await once(asked, 'end');

    // a peer (pid 1, say) that answers that text as its own; this worker gathers the service
    const peerPid = 1;
    expect(answer.startsWith(`{"pid":${process.pid},`)).toBe(true);
    const peerAnswer = answer.replace(`{"pid":${process.pid},`, `{"pid":${peerPid},`);
    const peer = createServer((socket) => socket.end(peerAnswer));
    peer.listen(join(dir, `${peerPid}.sock`));
    await once(peer, 'listening');
    cleanup.push(() => new Promise<void>((resolve) => peer.close(() => resolve())));

    const view = await aggregation.gather(collection());
    const metrics = view.resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
    const gauge = metrics.find((m) => m.descriptor.name === 'process.cpu.utilization') as GaugeMetricData;
    // per worker, told apart by process.pid: the peer's value is NaN, as collected
    expect(gauge.dataPoints.map((p) => [p.attributes['process.pid'], p.value])).toEqual([
      [process.pid, Number.NaN],
      [peerPid, Number.NaN],
    ]);
    const histogram = metrics.find((m) => m.descriptor.name === 'work.duration') as HistogramMetricData;
    expect(histogram.dataPoints).toHaveLength(1);
    expect(histogram.dataPoints[0]?.value).toMatchObject({
      count: 0,
      min: Number.POSITIVE_INFINITY,
      max: Number.NEGATIVE_INFINITY,
    });
  });
});
