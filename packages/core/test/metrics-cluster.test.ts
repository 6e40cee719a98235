/**
 * The cluster aggregation's wire format (./src/metrics/cluster.ts): a peer's snapshot crosses a unix
 * socket as text, and what arrives must be what the peer collected. The node:cluster and PM2 scenarios
 * with a real Prometheus are in packages/cli/test/cluster.test.ts.
 */
import cluster from 'node:cluster';
import { once } from 'node:events';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Attributes } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  DataPointType,
  type GaugeMetricData,
  type Histogram,
  type HistogramMetricData,
  type MetricData,
  type ResourceMetrics,
  type ScopeMetrics,
  type SumMetricData,
} from '@opentelemetry/sdk-metrics';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { captureDiagnostics } from '../src/diag.js';
import {
  type ClusterView,
  isClusterWorker,
  PEER_TIMEOUT_MS,
  runtimeDirectory,
  snapshotExemplars,
  startClusterAggregation,
} from '../src/metrics/cluster.js';
import type { Exemplar } from '../src/metrics/exemplars.js';

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

// ---------------------------------------------------------------------------------------------------
// The merge of one scrape: this worker's collection and its peers' answers over their sockets. The peers
// are sockets in the runtime directory answering what a real aggregation answers (taken from a second
// aggregation of this process, under another service, with the pid of the peer written in).

const descriptor = (name: string) => ({ name, description: '', unit: '', valueType: 1 });
const point = <T>(attributes: Attributes, value: T) => ({ attributes, startTime: TIME, endTime: TIME, value });
const CUMULATIVE = AggregationTemporality.CUMULATIVE;

function counter(name: string, points: [Attributes, number][], monotonic = true): SumMetricData {
  const dataPoints = points.map(([a, v]) => point(a, v));
  return {
    descriptor: descriptor(name),
    aggregationTemporality: CUMULATIVE,
    dataPointType: DataPointType.SUM,
    isMonotonic: monotonic,
    dataPoints,
  };
}
function gaugeOf(name: string, points: [Attributes, number][]): GaugeMetricData {
  const dataPoints = points.map(([a, v]) => point(a, v));
  return {
    descriptor: descriptor(name),
    aggregationTemporality: CUMULATIVE,
    dataPointType: DataPointType.GAUGE,
    dataPoints,
  };
}
function histogramOf(name: string, points: [Attributes, Histogram][]): HistogramMetricData {
  const dataPoints = points.map(([a, v]) => point(a, v));
  return {
    descriptor: descriptor(name),
    aggregationTemporality: CUMULATIVE,
    dataPointType: DataPointType.HISTOGRAM,
    dataPoints,
  };
}
/** A histogram value: the counts per bucket of `boundaries`, and its sum, min and max. */
function hist(boundaries: number[], counts: number[], sum: number, min: number, max: number): Histogram {
  return { buckets: { boundaries, counts }, count: counts.reduce((a, b) => a + b, 0), sum, min, max };
}
function metricsOf(scopeMetrics: ScopeMetrics[], resource: Attributes = { 'service.name': 'cluster-merge' }) {
  return { resource: resourceFromAttributes(resource), scopeMetrics } as ResourceMetrics;
}
const scoped = (...metrics: MetricData[]): ScopeMetrics[] => [{ scope: SCOPE, metrics }];

/** `[attributes, value]` of each point of the instrument `name` in a merged view. */
function pointsOf(view: ClusterView, name: string): [Attributes, unknown][] {
  const metrics = view.resourceMetrics.scopeMetrics.flatMap((s) => s.metrics.filter((m) => m.descriptor.name === name));
  return metrics.flatMap((m) =>
    (m.dataPoints as { attributes: Attributes; value: unknown }[]).map((p): [Attributes, unknown] => [
      p.attributes,
      p.value,
    ]),
  );
}

describe('cluster aggregation: the sum a scrape answers', () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    vi.useRealTimers();
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });
  let services = 0;

  /** This process as a worker of a fresh service whose collection is `own()`. */
  function worker(
    own: () => ResourceMetrics,
    exemplarsOf?: (instrument: string, attributes: Attributes) => readonly Exemplar[],
  ) {
    const service = `cluster-merge-${process.pid}-${++services}`;
    const dir = runtimeDirectory(service);
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const aggregation = startClusterAggregation(
      service,
      (m) => snapshotExemplars(m, exemplarsOf),
      async () => own(),
    );
    cleanup.push(() => aggregation.close());
    return { aggregation, dir };
  }

  /** What a worker of pid `pid` collecting `collected` answers its peers (and saves as `<pid>.last.json`). */
  async function answerOf(
    pid: number,
    collected: ResourceMetrics,
    exemplarsOf?: (i: string, a: Attributes) => readonly Exemplar[],
  ) {
    const { dir } = worker(() => collected, exemplarsOf);
    const socket = connect(join(dir, `${process.pid}.sock`));
    socket.setEncoding('utf8');
    let text = '';
    socket.on('data', (chunk: string) => {
      text += chunk;
    });
    await once(socket, 'end');
    return text.replace(`{"pid":${process.pid},`, `{"pid":${pid},`);
  }

  /** A peer listening on `<pid>.sock` in `dir` that answers `text` (or never answers). */
  async function peer(dir: string, pid: number, text?: string): Promise<Server> {
    const server = createServer((socket) => {
      if (text !== undefined) socket.end(text);
      else cleanup.push(() => void socket.destroy());
    });
    server.listen(join(dir, `${pid}.sock`));
    await once(server, 'listening');
    cleanup.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    return server;
  }

  const PEER = 4_000_001;

  it('sums counters and histograms of the workers, and keeps gauges and up-down counters per worker by process.pid', async () => {
    const { aggregation, dir } = worker(() => metricsOf([]));
    const peerCollection = scoped(
      counter('jobs', [
        [{ q: 'a' }, 3],
        [{ q: 'b' }, 7],
      ]),
      histogramOf('work', [[{}, hist([1], [0, 1], 2, 2, 2)]]),
      gaugeOf('temp', [[{}, 9]]),
      counter('active', [[{}, 4]], false),
    );
    await peer(dir, PEER, await answerOf(PEER, metricsOf(peerCollection)));
    const own = scoped(
      counter('jobs', [[{ q: 'a' }, 2]]),
      histogramOf('work', [[{}, hist([1], [1, 0], 0.5, 0.5, 0.5)]]),
      gaugeOf('temp', [[{}, 5]]),
      counter('active', [[{}, 3]], false),
    );
    const view = await aggregation.gather(metricsOf(own));
    expect(pointsOf(view, 'jobs')).toEqual([
      [{ q: 'a' }, 5],
      [{ q: 'b' }, 7],
    ]);
    expect(pointsOf(view, 'work')).toEqual([[{}, hist([1], [1, 1], 2.5, 0.5, 2)]]);
    expect(pointsOf(view, 'temp')).toEqual([
      [{ 'process.pid': process.pid }, 5],
      [{ 'process.pid': PEER }, 9],
    ]);
    expect(pointsOf(view, 'active')).toEqual([
      [{ 'process.pid': process.pid }, 3],
      [{ 'process.pid': PEER }, 4],
    ]);
    // this worker's own collection is left as it was
    expect(own[0]?.metrics[1]?.dataPoints[0]?.value).toEqual(hist([1], [1, 0], 0.5, 0.5, 0.5));
  });

  it('adds histograms without min, max or sum as empty ones, and keeps the first of two with other buckets', async () => {
    const { aggregation, dir } = worker(() => metricsOf([]));
    const bare = { buckets: { boundaries: [1], counts: [0, 2] }, count: 2 } as Histogram;
    const other = hist([2], [1, 0], 1, 1, 1);
    const more = hist([1, 5], [1, 0, 0], 1, 1, 1);
    const shifted = hist([1, 6], [1, 0, 0], 1, 1, 1);
    const peerCollection = scoped(
      histogramOf('h', [
        [{ n: 1 }, bare],
        [{ n: 2 }, other],
        [{ n: 3 }, more],
        [{ n: 4 }, shifted],
      ]),
    );
    await peer(dir, PEER, await answerOf(PEER, metricsOf(peerCollection)));
    const mine = hist([1], [1, 0], 0.5, 0.5, 0.5);
    const view = await aggregation.gather(
      metricsOf(
        scoped(
          histogramOf('h', [
            [{ n: 1 }, mine],
            [{ n: 2 }, mine],
            [{ n: 3 }, mine],
            [{ n: 4 }, more],
          ]),
        ),
      ),
    );
    expect(pointsOf(view, 'h')).toEqual([
      [{ n: 1 }, hist([1], [1, 2], 0.5, 0.5, 0.5)],
      [{ n: 2 }, mine],
      [{ n: 3 }, mine],
      [{ n: 4 }, more],
    ]);
    const bothBare = await aggregation.gather(metricsOf(scoped(histogramOf('h', [[{ n: 1 }, bare]]))));
    expect(pointsOf(bothBare, 'h')[0]).toEqual([
      { n: 1 },
      { ...hist([1], [0, 4], 0, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY), count: 4 },
    ]);
  });

  it('answers when an instrument changed kind between workers (a reload), keeping the first of the two', async () => {
    const { aggregation, dir } = worker(() => metricsOf([]));
    const mine = hist([1], [1, 0], 0.5, 0.5, 0.5);
    // a live peer of the old version: `jobs` a counter; a retired one: `done` a histogram
    await peer(dir, PEER, await answerOf(PEER, metricsOf(scoped(counter('jobs', [[{}, 10]])))));
    const retired = await answerOf(PEER + 1, metricsOf(scoped(histogramOf('done', [[{}, mine]]))));
    writeFileSync(join(dir, `${PEER + 1}.last.json`), retired);
    const view = await aggregation.gather(
      metricsOf(scoped(histogramOf('jobs', [[{}, mine]]), counter('done', [[{}, 3]]))),
    );
    expect(pointsOf(view, 'jobs')).toEqual([[{}, mine]]);
    expect(pointsOf(view, 'done')).toEqual([[{}, 3]]);
  });

  it('keeps instruments of different scopes apart (name, version, schema URL)', async () => {
    const { aggregation, dir } = worker(() => metricsOf([]));
    const scopes = [
      { name: 'a' },
      { name: 'b' },
      { name: 'a', version: '1' },
      { name: 'a', version: '2' },
      { name: 'a', schemaUrl: 'https://s/1' },
      { name: 'a', schemaUrl: 'https://s/2' },
    ];
    const collection = () => metricsOf(scopes.map((scope) => ({ scope, metrics: [counter('jobs', [[{}, 1]])] })));
    await peer(dir, PEER, await answerOf(PEER, collection()));
    const view = await aggregation.gather(collection());
    expect(view.resourceMetrics.scopeMetrics.map((s) => [s.scope, s.metrics[0]?.dataPoints[0]?.value])).toEqual(
      scopes.map((scope) => [scope, 2]),
    );
  });

  it("answers with the resource attributes the workers share, without each worker's pid and instance id", async () => {
    const { aggregation } = worker(() => metricsOf([]));
    const view = await aggregation.gather(
      metricsOf([], {
        'service.name': 'shop',
        'process.pid': process.pid,
        'service.instance.id': 'i-1',
        'host.name': 'h',
      }),
    );
    expect(view.resourceMetrics.resource.attributes).toEqual({ 'service.name': 'shop', 'host.name': 'h' });
  });

  it("renders every worker's exemplars of a series, and none for a series without", async () => {
    const ex = (value: number, traceId: string): Exemplar => ({ value, timeMs: 1, traceId, spanId: 'b'.repeat(16) });
    const work = histogramOf('work', [
      [{ route: '/a' }, hist([1], [1, 0], 0.5, 0.5, 0.5)],
      [{ route: '/b' }, hist([1], [1, 0], 0.5, 0.5, 0.5)],
    ]);
    const of = (list: Exemplar[]) => (instrument: string, attributes: Attributes) =>
      instrument === 'work' && attributes.route === '/a' ? list : [];
    const { aggregation, dir } = worker(() => metricsOf([]), of([ex(0.5, 'a'.repeat(32))]));
    await peer(dir, PEER, await answerOf(PEER, metricsOf(scoped(work)), of([ex(0.7, 'c'.repeat(32))])));
    const view = await aggregation.gather(metricsOf(scoped(work)));
    expect(view.exemplarsOf('work', { route: '/a' })).toEqual([ex(0.5, 'a'.repeat(32)), ex(0.7, 'c'.repeat(32))]);
    expect(view.exemplarsOf('work', { route: '/b' })).toEqual([]);
    expect(view.exemplarsOf('other', { route: '/a' })).toEqual([]);
  });

  it("keeps a worker's counters in the sum once it is gone (no counter reset), and drops its gauges", async () => {
    const { aggregation, dir } = worker(() => metricsOf([]));
    const own = metricsOf(scoped(counter('jobs', [[{}, 1]]), gaugeOf('temp', [[{}, 5]])));
    const server = await peer(
      dir,
      PEER,
      await answerOf(PEER, metricsOf(scoped(counter('jobs', [[{}, 10]]), gaugeOf('temp', [[{}, 9]])))),
    );
    expect(pointsOf(await aggregation.gather(own), 'jobs')).toEqual([[{}, 11]]);
    await new Promise<void>((resolve) => server.close(() => resolve())); // the peer exits: its socket is removed
    for (let scrape = 0; scrape < 2; scrape++) {
      const view = await aggregation.gather(own);
      expect(pointsOf(view, 'jobs'), `scrape ${scrape}`).toEqual([[{}, 11]]);
      expect(pointsOf(view, 'temp'), `scrape ${scrape}`).toEqual([[{ 'process.pid': process.pid }, 5]]);
    }
    expect(readdirSync(dir).sort()).toEqual([`${process.pid}.last.json`, `${process.pid}.sock`, 'retired.json']);
  });

  it('retires a worker whose socket refuses (it died without closing it) and removes the socket', async () => {
    const { aggregation, dir } = worker(() => metricsOf([]));
    const last = await answerOf(PEER, metricsOf(scoped(counter('jobs', [[{}, 10]]))));
    writeFileSync(join(dir, `${PEER}.last.json`), last);
    writeFileSync(join(dir, `${PEER}.sock`), ''); // not a socket: connecting is refused
    const view = await aggregation.gather(metricsOf(scoped(counter('jobs', [[{}, 1]]))));
    expect(pointsOf(view, 'jobs')).toEqual([[{}, 11]]);
    expect(readdirSync(dir).sort()).toEqual([`${process.pid}.last.json`, `${process.pid}.sock`, 'retired.json']);
  });

  it('takes a socket that is missing as gone, and a socket that cannot be reached for another reason as late', async () => {
    const { aggregation, dir } = worker(() => metricsOf([]));
    for (const pid of [PEER, PEER + 1]) {
      writeFileSync(join(dir, `${pid}.last.json`), await answerOf(pid, metricsOf(scoped(counter('jobs', [[{}, 10]])))));
    }
    symlinkSync(join(dir, 'nowhere'), join(dir, `${PEER}.sock`)); // ENOENT
    symlinkSync(join(dir, `${PEER + 1}.sock`), join(dir, `${PEER + 1}.sock`)); // ELOOP
    const view = await aggregation.gather(metricsOf(scoped(counter('jobs', [[{}, 1]]))));
    expect(pointsOf(view, 'jobs')).toEqual([[{}, 21]]);
    // the gone one retired (its last snapshot folded in), the late one kept as it is
    expect(readdirSync(dir).sort()).toEqual(
      [
        `${PEER + 1}.last.json`,
        `${PEER + 1}.sock`,
        `${process.pid}.last.json`,
        `${process.pid}.sock`,
        'retired.json',
      ].sort(),
    );
  });

  it('leaves the socket of a worker that refuses before it was ever gathered (it may be starting)', async () => {
    const { aggregation, dir } = worker(() => metricsOf([]));
    writeFileSync(join(dir, `${PEER}.sock`), '');
    const view = await aggregation.gather(metricsOf(scoped(counter('jobs', [[{}, 1]]))));
    expect(pointsOf(view, 'jobs')).toEqual([[{}, 1]]);
    expect(existsSync(join(dir, `${PEER}.sock`))).toBe(true);
  });

  it('warns when it cannot write the retired totals, and still answers for itself', async () => {
    const lines: string[] = [];
    cleanup.push(captureDiagnostics(lines));
    const { aggregation, dir } = worker(() => metricsOf([]));
    mkdirSync(join(dir, 'retired.json')); // not a file: the totals cannot be written
    writeFileSync(join(dir, `${PEER}.last.json`), await answerOf(PEER, metricsOf(scoped(counter('jobs', [[{}, 10]])))));
    const view = await aggregation.gather(metricsOf(scoped(counter('jobs', [[{}, 1]]))));
    expect(lines).toEqual([
      expect.stringMatching(new RegExp(`^@obs warn: cluster metrics: could not retire worker ${PEER} \\(E[A-Z]+: `)),
    ]);
    expect(pointsOf(view, 'jobs')).toEqual([[{}, 1]]); // the gone worker's totals could not be kept
  });

  it('adds a retired worker to the totals of earlier ones, and breaks a lock left behind', async () => {
    const { aggregation, dir } = worker(() => metricsOf([]));
    mkdirSync(join(dir, 'retired.lock')); // a worker died while it held the lock, a while ago
    const past = new Date(Date.now() - 60_000);
    utimesSync(join(dir, 'retired.lock'), past, past);
    for (const [pid, jobs] of [
      [PEER, 10],
      [PEER + 1, 100],
    ] as const) {
      writeFileSync(
        join(dir, `${pid}.last.json`),
        await answerOf(pid, metricsOf(scoped(counter('jobs', [[{}, jobs]])))),
      );
      const view = await aggregation.gather(metricsOf(scoped(counter('jobs', [[{}, 1]]))));
      expect(pointsOf(view, 'jobs'), `after ${pid}`).toEqual([[{}, pid === PEER ? 11 : 111]]);
    }
    expect(existsSync(join(dir, 'retired.lock'))).toBe(false);
  });

  it('waits for the lock another worker holds, then adds to the totals it wrote (none lost)', async () => {
    const { aggregation, dir } = worker(() => metricsOf([]));
    const lock = join(dir, 'retired.lock');
    mkdirSync(lock); // another worker is retiring a worker of its own: it holds the lock
    // ... and writes its totals (100 jobs) and releases the lock once this worker has claimed the
    // gone worker's snapshot (the step before it takes the lock)
    const theirs = await answerOf(0, metricsOf(scoped(counter('jobs', [[{}, 100]]))));
    writeFileSync(join(dir, `${PEER}.last.json`), await answerOf(PEER, metricsOf(scoped(counter('jobs', [[{}, 10]])))));
    const other = new Worker(
      `const { readdirSync, writeFileSync, rmdirSync } = require('node:fs');
       const { dir, lock, theirs, claimed } = require('node:worker_threads').workerData;
       const poll = setInterval(() => {
         if (!readdirSync(dir).some((f) => f.startsWith(claimed))) return;
         clearInterval(poll);
         writeFileSync(dir + '/retired.json', theirs);
         rmdirSync(lock);
       }, 2);`,
      { eval: true, workerData: { dir, lock, theirs, claimed: `${PEER}.retiring-` } },
    );
    cleanup.push(() => other.terminate().then(() => undefined));
    await once(other, 'online');
    const view = await aggregation.gather(metricsOf(scoped(counter('jobs', [[{}, 1]]))));
    expect(pointsOf(view, 'jobs')).toEqual([[{}, 111]]);
    expect(existsSync(lock)).toBe(false);
  });

  it(`takes the counters of a peer that does not answer within ${PEER_TIMEOUT_MS} ms from its last snapshot, without its gauges`, async () => {
    const { aggregation, dir } = worker(() => metricsOf([]));
    const last = await answerOf(PEER, metricsOf(scoped(counter('jobs', [[{}, 10]]), gaugeOf('temp', [[{}, 9]]))));
    writeFileSync(join(dir, `${PEER}.last.json`), last);
    const silent = await peer(dir, PEER);
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const asked = once(silent, 'connection') as Promise<[Socket]>;
    let view: ClusterView | undefined;
    const gathering = aggregation
      .gather(metricsOf(scoped(counter('jobs', [[{}, 1]]), gaugeOf('temp', [[{}, 5]]))))
      .then((v) => {
        view = v;
      });
    const [connection] = await asked;
    const hungUp = once(connection, 'close');
    await vi.advanceTimersByTimeAsync(PEER_TIMEOUT_MS - 1);
    expect(view).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    await gathering;
    expect(pointsOf(view as ClusterView, 'jobs')).toEqual([[{}, 11]]);
    expect(pointsOf(view as ClusterView, 'temp')).toEqual([[{ 'process.pid': process.pid }, 5]]);
    await hungUp; // the late peer's connection is not left open
  });

  it('takes a peer that answers something other than a snapshot as late', async () => {
    const { aggregation, dir } = worker(() => metricsOf([]));
    writeFileSync(join(dir, `${PEER}.last.json`), await answerOf(PEER, metricsOf(scoped(counter('jobs', [[{}, 10]])))));
    await peer(dir, PEER, '{"pid": 4000001, "scopeMe');
    await peer(dir, PEER + 1, 'garbage'); // and no last snapshot: nothing of it in the sum
    const view = await aggregation.gather(metricsOf(scoped(counter('jobs', [[{}, 1]]))));
    expect(pointsOf(view, 'jobs')).toEqual([[{}, 11]]);
    expect(existsSync(join(dir, `${PEER}.last.json`))).toBe(true);
  });

  it('ignores files of the directory that are not a peer, and does not ask itself', async () => {
    const { aggregation, dir } = worker(() => metricsOf([]));
    writeFileSync(join(dir, 'notes.sock'), '');
    writeFileSync(join(dir, '1.5.sock'), '');
    const view = await aggregation.gather(metricsOf(scoped(counter('jobs', [[{}, 1]]))));
    expect(pointsOf(view, 'jobs')).toEqual([[{}, 1]]);
    expect(readdirSync(dir)).toContain('notes.sock');
  });

  it("answers with this worker's numbers alone when the runtime directory is gone", async () => {
    const { aggregation, dir } = worker(() => metricsOf([]));
    rmSync(dir, { recursive: true, force: true });
    const view = await aggregation.gather(metricsOf(scoped(counter('jobs', [[{}, 1]]), gaugeOf('temp', [[{}, 5]]))));
    expect(pointsOf(view, 'jobs')).toEqual([[{}, 1]]);
    expect(pointsOf(view, 'temp')).toEqual([[{ 'process.pid': process.pid }, 5]]);
  });

  it("saves every worker's snapshot it gathered, readable by this user only, in a directory of this user's only", async () => {
    const { aggregation, dir } = worker(() => metricsOf([]));
    const answer = await answerOf(PEER, metricsOf(scoped(counter('jobs', [[{}, 10]]))));
    await peer(dir, PEER, answer);
    await aggregation.gather(metricsOf(scoped(counter('jobs', [[{}, 1]]))));
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(readFileSync(join(dir, `${PEER}.last.json`), 'utf8')).toBe(answer);
    expect(statSync(join(dir, `${PEER}.last.json`)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(join(dir, `${process.pid}.last.json`), 'utf8')).pid).toBe(process.pid);
  });

  it('closes the connection of a peer that asks while its own collection fails', async () => {
    const service = `cluster-merge-${process.pid}-${++services}`;
    cleanup.push(() => rmSync(runtimeDirectory(service), { recursive: true, force: true }));
    const aggregation = startClusterAggregation(
      service,
      () => ({}),
      () => Promise.reject(new Error('collection failed')),
    );
    cleanup.push(() => aggregation.close());
    const asked = connect(join(runtimeDirectory(service), `${process.pid}.sock`));
    let text = '';
    asked.setEncoding('utf8').on('data', (chunk: string) => {
      text += chunk;
    });
    await once(asked, 'close');
    expect(text).toBe('');
  });

  it('survives a peer that hangs up in the middle of its answer', async () => {
    const many: [Attributes, number][] = Array.from({ length: 20_000 }, (_, i) => [{ series: `s${i}` }, i]);
    const { aggregation, dir } = worker(() => metricsOf(scoped(counter('jobs', many))));
    const impatient = connect(join(dir, `${process.pid}.sock`));
    await once(impatient, 'data'); // the first part of some megabytes
    impatient.destroy();
    await once(impatient, 'close');
    // the answer's remaining writes fail (EPIPE); the worker carries on and answers the next peer
    const next = connect(join(dir, `${process.pid}.sock`));
    let text = '';
    next.setEncoding('utf8').on('data', (chunk: string) => {
      text += chunk;
    });
    await once(next, 'end');
    expect(text.length).toBeGreaterThan(1_000_000);
    const view = await aggregation.gather(metricsOf(scoped(counter('jobs', [[{}, 1]]))));
    expect(pointsOf(view, 'jobs')).toEqual([[{}, 1]]);
  });

  it('warns once when it cannot listen (a socket path too long), and still answers for itself', async () => {
    const lines: string[] = [];
    cleanup.push(captureDiagnostics(lines));
    const deep = join(tmpdir(), `obs-deep-${process.pid}`, 'd'.repeat(100));
    cleanup.push(() => rmSync(join(tmpdir(), `obs-deep-${process.pid}`), { recursive: true, force: true }));
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = deep;
    let aggregation: ReturnType<typeof startClusterAggregation>;
    try {
      aggregation = startClusterAggregation(
        'too-long',
        () => ({}),
        async () => metricsOf([]),
      );
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
    }
    const socket = join(deep, `obs-${process.getuid?.() ?? 0}`, `${process.ppid}-too-long`, `${process.pid}.sock`);
    await expect.poll(() => lines.length).toBe(1);
    expect(lines[0]).toMatch(/^@obs warn: cluster metrics: cannot listen on (\S+) \(listen E[A-Z]+: /);
    expect(lines[0]).toContain(`cannot listen on ${socket} (`);
    const view = await aggregation.gather(metricsOf(scoped(counter('jobs', [[{}, 1]]))));
    expect(pointsOf(view, 'jobs')).toEqual([[{}, 1]]);
  });

  it('does not keep the process alive with its socket', async () => {
    const pipes = () => process.getActiveResourcesInfo().filter((r) => r === 'PipeWrap').length;
    const before = pipes();
    worker(() => metricsOf([]));
    expect(pipes()).toBe(before);
  });

  it('replaces a stale socket of an earlier process with this pid, and removes its own when closed', async () => {
    const service = `cluster-merge-${process.pid}-${++services}`;
    const dir = runtimeDirectory(service);
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${process.pid}.sock`), '');
    const aggregation = startClusterAggregation(
      service,
      () => ({}),
      async () => metricsOf(scoped(counter('jobs', [[{}, 1]]))),
    );
    const asked = connect(join(dir, `${process.pid}.sock`));
    asked.resume();
    await once(asked, 'end');
    await aggregation.close();
    expect(existsSync(join(dir, `${process.pid}.sock`))).toBe(false);
  });
});

describe('cluster aggregation: where and whether', () => {
  it("names the runtime directory after the uid, the primary's pid and the service (PM2: the app's name)", () => {
    const base = join(tmpdir(), `obs-${process.getuid?.() ?? 0}`);
    expect(runtimeDirectory('shop', {})).toBe(join(base, `${process.ppid}-shop`));
    expect(runtimeDirectory('shop', { pm_id: '3', name: 'shop-pm2' })).toBe(join(base, `${process.ppid}-shop-pm2`));
    expect(runtimeDirectory('shop', { name: 'other' })).toBe(join(base, `${process.ppid}-shop`));
    expect(runtimeDirectory('shop', { pm_id: '0', name: '' })).toBe(join(base, `${process.ppid}-shop`));
    expect(runtimeDirectory('my shop/../x', {})).toBe(join(base, `${process.ppid}-my_shop_.._x`));
    expect(runtimeDirectory('s'.repeat(50), {})).toBe(join(base, `${process.ppid}-${'s'.repeat(40)}`));
  });

  it('is not a cluster worker in a process that node:cluster did not fork', () => {
    expect(isClusterWorker()).toBe(false);
  });

  it('is a cluster worker where node:cluster says so, and only with an IPC channel', () => {
    const send = process.send;
    Object.defineProperty(cluster, 'isWorker', { value: true, configurable: true, writable: true });
    try {
      process.send ??= () => true; // vitest's channel to its pool, if it runs in a child process
      expect(isClusterWorker()).toBe(true);
      process.send = undefined;
      expect(isClusterWorker()).toBe(false);
    } finally {
      process.send = send;
      Object.defineProperty(cluster, 'isWorker', { value: false, configurable: true, writable: true });
    }
  });

  it("names the runtime directory after this user's uid", () => {
    vi.spyOn(process, 'getuid').mockReturnValue(1234);
    try {
      expect(runtimeDirectory('shop', {})).toBe(join(tmpdir(), 'obs-1234', `${process.ppid}-shop`));
    } finally {
      vi.restoreAllMocks();
    }
  });

  it('carries the exemplars of histogram series that have some, keyed by instrument and attributes', () => {
    const ex: Exemplar = { value: 0.5, timeMs: 1, traceId: 'a'.repeat(32), spanId: 'b'.repeat(16) };
    const collected = metricsOf(
      scoped(
        histogramOf('work', [
          [{ route: '/a' }, hist([1], [1, 0], 0.5, 0.5, 0.5)],
          [{ route: '/b' }, hist([1], [1, 0], 0.5, 0.5, 0.5)],
        ]),
        counter('jobs', [[{ route: '/a' }, 1]]),
      ),
    );
    const asked: string[] = [];
    const out = snapshotExemplars(collected, (instrument, attributes) => {
      asked.push(`${instrument} ${attributes.route}`);
      return attributes.route === '/a' ? [ex] : [];
    });
    expect(asked).toEqual(['work /a', 'work /b']);
    expect(Object.values(out)).toEqual([[ex]]);
    expect(Object.keys(out)[0]?.startsWith('work')).toBe(true);
    expect(snapshotExemplars(collected, undefined)).toEqual({});
  });
});
