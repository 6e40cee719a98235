/**
 * One `/metrics` for the whole service under `node:cluster` (and PM2's cluster mode, which runs its
 * workers with `node:cluster`), with no code in the primary: whichever worker answers a scrape asks
 * its live peers for their numbers over unix domain sockets in a per-service runtime directory and
 * answers with the sum.
 *
 * - Counters and histograms are summed across workers. Gauges and up-down counters stay per worker,
 *   with a `process.pid` attribute (`process_pid` label); sums of them are the queries' business.
 * - Each worker listens on `<tmpdir>/obs-<uid>/<group>/<pid>.sock` (mode 0700 directory, no network
 *   port). `<group>` is the primary's pid and the service (PM2: the app name), so two services under
 *   one PM2 daemon stay apart.
 * - A peer that does not answer within {@link PEER_TIMEOUT_MS} costs its gauges for that scrape; its
 *   counters and histograms are taken from its last snapshot, so the sum never goes backwards.
 * - Every answering worker writes each snapshot it gathered to `<pid>.last.json`. When a worker is
 *   gone (its socket refuses), its last snapshot is folded into `retired.json`, which is part of every
 *   sum from then on: a restarted worker starts from zero without the service's counters going down,
 *   so Prometheus sees no counter reset and `rate()` stays right. Increments a worker made after its
 *   last snapshot and before it died are lost (an undercount, never a reset).
 * - Single-process apps never start the socket server or touch the disk (see {@link isClusterWorker}).
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Attributes } from '@opentelemetry/api';
import type { DataPoint, Histogram, MetricData, ResourceMetrics, ScopeMetrics } from '@opentelemetry/sdk-metrics';
import { diagnose } from '../diag.js';
import { load } from '../lazy.js';
import { sdkMetrics } from '../otel.js';
import { attributesKey, type Exemplar } from './exemplars.js';

const { DataPointType } = sdkMetrics;

/** How long a scrape waits for the peers; well under Prometheus' default scrape timeout (10 s). */
export const PEER_TIMEOUT_MS = 1000;

/** Resource attributes that differ per worker, left out of the merged `target_info`. */
const PER_WORKER_RESOURCE = ['process.pid', 'service.instance.id'];

/** Attribute that tells workers' gauges apart (semconv `process.pid`). */
const PID_ATTRIBUTE = 'process.pid';

/** What a worker sends its peers: its collected metrics and, per histogram point, its exemplars. */
interface Snapshot {
  readonly pid: number;
  readonly scopeMetrics: ScopeMetrics[];
  /** `instrument name \u0002 attributes key` -> exemplars. */
  readonly exemplars: Record<string, Exemplar[]>;
}

/** The merged view of the service. */
export interface ClusterView {
  readonly resourceMetrics: ResourceMetrics;
  exemplarsOf(instrument: string, attributes: Attributes): readonly Exemplar[];
}

/** The cluster aggregation of one worker. */
export interface ClusterAggregation {
  /** The whole service, from this worker's own collection and its peers'. Never rejects. */
  gather(own: ResourceMetrics): Promise<ClusterView>;
  close(): Promise<void>;
}

/**
 * True in a `node:cluster` worker (PM2 cluster mode included). Node removes `NODE_UNIQUE_ID` from the
 * environment before any user code runs, so `cluster.isWorker` is asked, and only in a process with an
 * IPC channel (every worker has one): a single process does not even load `node:cluster`.
 */
export function isClusterWorker(): boolean {
  if (typeof process.send !== 'function') return false;
  return (load('node:cluster') as typeof import('node:cluster').default).isWorker;
}

/** The runtime directory of this worker's service. */
export function runtimeDirectory(serviceName: string, env: NodeJS.ProcessEnv = process.env): string {
  const app = env.pm_id !== undefined && env.name ? env.name : serviceName;
  const safe = app.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 40);
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  return join(tmpdir(), `obs-${uid}`, `${process.ppid}-${safe}`);
}

const exemplarKey = (instrument: string, attributes: Attributes) => `${instrument}\u0002${attributesKey(attributes)}`;

/**
 * Snapshots travel as JSON, which has no NaN or infinities: `JSON.stringify` writes them as `null`,
 * and a `null` sample makes Prometheus reject the whole scrape (a gauge such as
 * `process.cpu.utilization` is NaN when two collections fall in the same instant; an empty
 * histogram's min is Infinity). They are written as tagged strings and read back as numbers.
 */
/**
 * A lock on `retired.json` older than this belongs to a worker that died while holding it, and is
 * broken. Holding it takes a read, a merge and a write of one snapshot: milliseconds.
 */
const RETIRED_LOCK_STALE_MS = 2000;
const lockWait = new Int32Array(new SharedArrayBuffer(4));

/**
 * Take the lock directory `lock`, waiting (synchronously, a millisecond at a time: a scrape's
 * retirement runs synchronously) while another worker holds it, so that two workers retiring at once
 * both add to `retired.json` rather than one overwriting the other's totals (a counter reset).
 * @throws when the lock cannot be made for another reason than being held (the directory is gone)
 */
function takeLock(lock: string): void {
  for (;;) {
    try {
      mkdirSync(lock);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let heldMs: number;
    try {
      heldMs = Date.now() - statSync(lock).mtimeMs;
    } catch {
      continue; // released in between
    }
    if (heldMs > RETIRED_LOCK_STALE_MS) rmSync(lock, { recursive: true, force: true });
    else Atomics.wait(lockWait, 0, 0, 1);
  }
}

const NON_FINITE = '\u0000number:';

function encodeSnapshot(snapshot: Snapshot): string {
  return JSON.stringify(snapshot, (_key, value: unknown) =>
    typeof value === 'number' && !Number.isFinite(value) ? `${NON_FINITE}${value}` : value,
  );
}

function decodeSnapshot(text: string): Snapshot {
  return JSON.parse(text, (_key, value: unknown) =>
    typeof value === 'string' && value.startsWith(NON_FINITE) ? Number(value.slice(NON_FINITE.length)) : value,
  ) as Snapshot;
}

function readSnapshot(file: string): Snapshot | undefined {
  try {
    return decodeSnapshot(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

function writeAtomically(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  renameSync(tmp, file);
}

/** Ask one peer for its snapshot over its socket: the snapshot, `gone` (refused/missing) or `late`. */
function askPeer(socketPath: string): Promise<Snapshot | 'gone' | 'late'> {
  return new Promise((resolve) => {
    const socket = connect(socketPath);
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve('late');
    }, PEER_TIMEOUT_MS);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      text += chunk;
    });
    socket.on('end', () => {
      clearTimeout(timer);
      try {
        resolve(decodeSnapshot(text));
      } catch {
        resolve('late');
      }
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(err.code === 'ECONNREFUSED' || err.code === 'ENOENT' ? 'gone' : 'late');
    });
  });
}

/** Sums of counters and histograms, and per-worker gauges, keyed by scope, instrument and attributes. */
class Merger {
  readonly #scopes = new Map<string, { scope: ScopeMetrics['scope']; metrics: Map<string, MetricData> }>();
  readonly #points = new Map<string, { value: unknown }>();

  /** Add a snapshot. `cumulativeOnly`: only counters and histograms (a late peer, the retired totals). */
  add(scopeMetrics: readonly ScopeMetrics[], pid: number | undefined, cumulativeOnly: boolean): void {
    for (const { scope, metrics } of scopeMetrics) {
      const scopeKey = `${scope.name}\u0000${scope.version ?? ''}\u0000${scope.schemaUrl ?? ''}`;
      let entry = this.#scopes.get(scopeKey);
      if (!entry) {
        entry = { scope, metrics: new Map() };
        this.#scopes.set(scopeKey, entry);
      }
      for (const metric of metrics) {
        const summed =
          metric.dataPointType === DataPointType.HISTOGRAM ||
          (metric.dataPointType === DataPointType.SUM && metric.isMonotonic);
        if (!summed && (cumulativeOnly || pid === undefined)) continue;
        const metricKey = `${scopeKey}\u0001${metric.descriptor.name}`;
        let merged = entry.metrics.get(metricKey);
        if (!merged) {
          merged = { ...metric, dataPoints: [] } as MetricData;
          entry.metrics.set(metricKey, merged);
        }
        for (const point of metric.dataPoints as DataPoint<unknown>[]) {
          const attributes = summed ? point.attributes : { ...point.attributes, [PID_ATTRIBUTE]: pid };
          const key = `${metricKey}\u0001${attributesKey(attributes)}`;
          const existing = this.#points.get(key);
          if (!existing) {
            const copy: { -readonly [K in keyof DataPoint<unknown>]: DataPoint<unknown>[K] } = {
              ...point,
              attributes,
              value: structuredClone(point.value),
            };
            this.#points.set(key, copy);
            (merged.dataPoints as DataPoint<unknown>[]).push(copy);
          } else if (summed) {
            existing.value = addValues(existing.value, point.value);
          }
        }
      }
    }
  }

  scopeMetrics(): ScopeMetrics[] {
    return [...this.#scopes.values()].map(({ scope, metrics }) => ({ scope, metrics: [...metrics.values()] }));
  }
}

function addValues(a: unknown, b: unknown): unknown {
  if (typeof a === 'number' && typeof b === 'number') return a + b;
  if (typeof a === 'number' || typeof b === 'number') return a; // the instrument changed kind (a reload); keep the first
  const x = a as Histogram;
  const y = b as Histogram;
  const same =
    x.buckets.boundaries.length === y.buckets.boundaries.length &&
    x.buckets.boundaries.every((bound, i) => bound === y.buckets.boundaries[i]);
  if (!same) return x; // different bucket boundaries cannot be added; keep the first
  return {
    buckets: {
      boundaries: x.buckets.boundaries,
      counts: x.buckets.counts.map((c, i) => c + (y.buckets.counts[i] ?? 0)),
    },
    count: x.count + y.count,
    sum: (x.sum ?? 0) + (y.sum ?? 0),
    min: Math.min(x.min ?? Number.POSITIVE_INFINITY, y.min ?? Number.POSITIVE_INFINITY),
    max: Math.max(x.max ?? Number.NEGATIVE_INFINITY, y.max ?? Number.NEGATIVE_INFINITY),
  } satisfies Histogram;
}

/**
 * Start this worker's side: the socket its peers ask, and the gathering for scrapes it answers.
 * @param snapshotOf this worker's collection with its exemplars (what its peers receive)
 */
export function startClusterAggregation(
  serviceName: string,
  snapshotOf: (own: ResourceMetrics) => Snapshot['exemplars'],
  collect: () => Promise<ResourceMetrics>,
): ClusterAggregation {
  const dir = runtimeDirectory(serviceName);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const ownSocket = join(dir, `${process.pid}.sock`);
  rmSync(ownSocket, { force: true }); // a stale socket of an earlier process with this pid
  const server: Server = createServer((socket) => {
    collect()
      .then((own) => socket.end(encodeSnapshot(snapshot(own))))
      .catch(() => socket.destroy());
    socket.on('error', () => {});
  });
  server.on('error', (err) => diagnose('warn', `cluster metrics: cannot listen on ${ownSocket} (${err.message})`));
  // exclusive: in a worker, a shared listen would hand the socket to the primary (which removes it when
  // the worker dies); this worker's own socket stays put, so a dead worker's refuses connections
  server.listen({ path: ownSocket, exclusive: true });
  server.unref();

  const snapshot = (own: ResourceMetrics): Snapshot => ({
    pid: process.pid,
    scopeMetrics: own.scopeMetrics,
    exemplars: snapshotOf(own),
  });

  /** Fold a gone peer's last snapshot into the retired totals (once, whoever gets there first). */
  const retire = (pid: number): void => {
    const last = join(dir, `${pid}.last.json`);
    const claimed = join(dir, `${pid}.retiring-${process.pid}.json`);
    try {
      renameSync(last, claimed);
    } catch {
      // never gathered (nothing of it was ever in a sum; and a worker that has only just bound its
      // socket refuses too, so the file stays), or another worker is folding it
      return;
    }
    const lock = join(dir, 'retired.lock');
    let locked = false;
    try {
      takeLock(lock);
      locked = true;
      const merger = new Merger();
      const retired = readSnapshot(join(dir, 'retired.json'));
      if (retired) merger.add(retired.scopeMetrics, undefined, true);
      const gone = readSnapshot(claimed);
      if (gone) merger.add(gone.scopeMetrics, undefined, true);
      writeAtomically(
        join(dir, 'retired.json'),
        encodeSnapshot({ pid: 0, scopeMetrics: merger.scopeMetrics(), exemplars: {} }),
      );
    } catch (err) {
      diagnose('warn', `cluster metrics: could not retire worker ${pid} (${(err as Error).message})`);
    } finally {
      if (locked) rmSync(lock, { recursive: true, force: true });
      rmSync(claimed, { force: true });
      rmSync(join(dir, `${pid}.sock`), { force: true });
    }
  };

  return {
    async gather(own) {
      const mine = snapshot(own);
      let files: string[] = [];
      try {
        files = readdirSync(dir);
      } catch {
        // the directory is gone: this worker's numbers only
      }
      const pidsOf = (suffix: string) =>
        files
          .filter((f) => f.endsWith(suffix))
          .map((f) => Number(f.slice(0, -suffix.length)))
          .filter((pid) => Number.isInteger(pid) && pid !== process.pid);
      const peers = pidsOf('.sock');
      // gathered before, socket gone: the worker closed it on its way out
      for (const pid of pidsOf('.last.json')) if (!peers.includes(pid)) retire(pid);
      const answers = await Promise.all(peers.map((pid) => askPeer(join(dir, `${pid}.sock`))));
      const merger = new Merger();
      const exemplars = new Map<string, Exemplar[]>();
      const take = (s: Snapshot, live: boolean) => {
        merger.add(s.scopeMetrics, s.pid, !live);
        for (const [key, list] of Object.entries(s.exemplars))
          exemplars.set(key, [...(exemplars.get(key) ?? []), ...list]);
      };
      take(mine, true);
      trySave(join(dir, `${process.pid}.last.json`), mine);
      for (const [i, answer] of answers.entries()) {
        const pid = peers[i] as number;
        if (answer === 'gone') {
          retire(pid);
        } else if (answer === 'late') {
          const last = readSnapshot(join(dir, `${pid}.last.json`));
          if (last) merger.add(last.scopeMetrics, pid, true);
        } else {
          take(answer, true);
          trySave(join(dir, `${pid}.last.json`), answer);
        }
      }
      const retired = readSnapshot(join(dir, 'retired.json'));
      if (retired) merger.add(retired.scopeMetrics, undefined, true);
      const attributes: Attributes = { ...own.resource.attributes };
      for (const key of PER_WORKER_RESOURCE) delete attributes[key];
      return {
        resourceMetrics: {
          resource: { attributes } as ResourceMetrics['resource'],
          scopeMetrics: merger.scopeMetrics(),
        },
        exemplarsOf: (instrument, attrs) => exemplars.get(exemplarKey(instrument, attrs)) ?? [],
      };
    },
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(ownSocket, { force: true });
    },
  };
}

function trySave(file: string, snapshot: Snapshot): void {
  try {
    writeAtomically(file, encodeSnapshot(snapshot));
  } catch {
    // the directory is gone or full: this scrape is still answered
  }
}

/** The exemplars of a collection, in the form a snapshot carries them. */
export function snapshotExemplars(
  own: ResourceMetrics,
  exemplarsOf: ((instrument: string, attributes: Attributes) => readonly Exemplar[]) | undefined,
): Snapshot['exemplars'] {
  const out: Snapshot['exemplars'] = {};
  if (!exemplarsOf) return out;
  for (const { metrics } of own.scopeMetrics) {
    for (const metric of metrics) {
      if (metric.dataPointType !== DataPointType.HISTOGRAM) continue;
      for (const point of metric.dataPoints) {
        const list = exemplarsOf(metric.descriptor.name, point.attributes);
        if (list.length > 0) out[exemplarKey(metric.descriptor.name, point.attributes)] = [...list];
      }
    }
  }
  return out;
}
