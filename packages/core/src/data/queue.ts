/**
 * RabbitMQ (amqplib) telemetry beyond the instrumentation's spans.
 *
 * instrumentation-amqplib 0.71 traces `publish` (PRODUCER, injecting the trace context into the
 * message headers) and each delivery (CONSUMER, a child of the producer's span, ended at ack/nack),
 * with pre-1.26 attribute names and no metrics. @obs adds:
 * - through its hooks ({@link amqpHooks}): the current messaging attributes (`messaging.system`,
 *   `messaging.operation.type`/`.name`, `messaging.destination.name`,
 *   `messaging.rabbitmq.destination.routing_key`), span names `publish <destination>`, and the
 *   `messaging.client.sent.messages` count;
 * - {@link consume}: a consumer wrapper that acks or nacks by the handler's outcome and records
 *   `messaging.process.duration` and `messaging.client.consumed.messages` per queue (`error.type` on
 *   failures);
 * - {@link watchQueueDepth}: `messaging.queue.depth` and `messaging.queue.consumers` per queue, read
 *   with `checkQueue` on a timer of its own (never during a scrape), each read bounded by a timeout.
 */
import type { Attributes, Span } from '@opentelemetry/api';
import { diagnose } from '../diag.js';
import { opentelemetry } from '../otel.js';
import { errorType } from './db-spans.js';
import { counter, histogram, METRICS, observeOnce } from './meter.js';

const { SpanStatusCode, trace } = opentelemetry;

const SYSTEM = 'rabbitmq';

/** The part of an amqplib message the wrapper and hooks read. */
export interface AmqpMessage {
  fields: { exchange?: string; routingKey?: string; redelivered?: boolean };
  properties: { messageId?: unknown };
}

/** The part of an amqplib channel (promise API) {@link consume} uses. */
export interface AmqpConsumerChannel<M extends AmqpMessage = AmqpMessage> {
  consume(queue: string, onMessage: (msg: M | null) => void, options?: object): Promise<{ consumerTag: string }>;
  ack(message: M): void;
  nack(message: M, allUpTo?: boolean, requeue?: boolean): void;
}

/** Options of {@link consume}. */
export interface ConsumeOptions {
  /** Put a failed message back on the queue (`nack` with requeue). Default false: it is dead-lettered or dropped, never redelivered in a loop. */
  requeue?: boolean;
  /** Passed to `channel.consume` (`consumerTag`, `exclusive`, `priority`, `arguments`). `noAck: true` turns acking off: the broker considers messages done on delivery. */
  consumeOptions?: { noAck?: boolean; [option: string]: unknown };
  /** Called with a handler's error (after it was counted and recorded on the span). Default: logged at error level. */
  onError?: (error: unknown, message: AmqpMessage) => void;
}

/** The hooks @obs passes to instrumentation-amqplib (see tracing/instrumentations.ts). */
export function amqpHooks() {
  return {
    publishHook: (span: Span, info: { exchange: string; routingKey: string }) => {
      // The default exchange routes by queue name: the queue is the destination then.
      const destination = info.exchange || info.routingKey || 'amq.default';
      span.setAttributes({
        'messaging.system': SYSTEM,
        'messaging.operation.type': 'send',
        'messaging.operation.name': 'publish',
        'messaging.destination.name': destination,
        'messaging.rabbitmq.destination.routing_key': info.routingKey,
      });
      span.updateName(`publish ${destination}`);
      counter(METRICS.messagingClientSentMessages).add(1, {
        'messaging.system': SYSTEM,
        'messaging.operation.name': 'publish',
        'messaging.destination.name': destination,
      });
    },
    consumeHook: (span: Span, info: { msg: AmqpMessage }) => {
      span.setAttributes({
        'messaging.system': SYSTEM,
        'messaging.operation.type': 'process',
        'messaging.operation.name': 'process',
        'messaging.rabbitmq.destination.routing_key': info.msg.fields.routingKey ?? '',
      });
    },
  };
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Consume a queue: run `handler` for each message in the consumer span (a child of the publisher's
 * span, so the trace continues), then `ack` it, or `nack` it when the handler throws or rejects.
 * Records `messaging.process.duration` and `messaging.client.consumed.messages` with
 * `messaging.destination.name` = the queue, and `error.type` for failures.
 *
 * ```js
 * await channel.assertQueue('orders');
 * await getObs().data.consume(channel, 'orders', async (msg) => {
 *   await fulfil(JSON.parse(msg.content.toString()));
 * });
 * ```
 * @returns what `channel.consume` returns (the consumer tag, for `channel.cancel`)
 */
export function consume<M extends AmqpMessage>(
  channel: AmqpConsumerChannel<M>,
  queue: string,
  handler: (message: M) => unknown,
  options: ConsumeOptions = {},
): Promise<{ consumerTag: string }> {
  if (typeof handler !== 'function') throw new TypeError('consume needs a handler function');
  const noAck = options.consumeOptions?.noAck === true;
  const base: Attributes = {
    'messaging.system': SYSTEM,
    'messaging.operation.name': 'process',
    'messaging.destination.name': queue,
  };
  const onMessage = (msg: M | null) => {
    if (msg === null) return; // the broker cancelled the consumer
    // The instrumentation made the consumer span active around this call.
    const span = trace.getActiveSpan();
    span?.setAttributes({ ...base, 'messaging.operation.type': 'process' });
    span?.updateName(`process ${queue}`);
    const started = performance.now();
    void (async () => {
      let failed = false;
      let failure: unknown;
      try {
        await handler(msg);
      } catch (err) {
        failed = true;
        failure = err;
      }
      const labels: Attributes = failed ? { ...base, 'error.type': errorType(failure) } : base;
      histogram(METRICS.messagingProcessDuration).record((performance.now() - started) / 1000, labels);
      counter(METRICS.messagingClientConsumedMessages).add(1, labels);
      if (failed) {
        // With noAck the instrumentation ended the span on delivery already.
        if (!noAck) {
          if (failure instanceof Error) span?.recordException(failure);
          span?.setStatus({ code: SpanStatusCode.ERROR, message: describe(failure) });
        }
        try {
          if (options.onError) options.onError(failure, msg);
          else diagnose('error', `processing a message from ${queue} failed: ${describe(failure)}`);
        } catch {
          // an error handler that throws must not stop the ack below
        }
      }
      if (noAck) return;
      try {
        if (failed) channel.nack(msg, false, options.requeue === true);
        else channel.ack(msg);
      } catch (err) {
        // the channel closed meanwhile: the broker redelivers the message
        diagnose('warn', `could not ${failed ? 'nack' : 'ack'} a message from ${queue}: ${describe(err)}`);
      }
    })();
  };
  return channel.consume(queue, onMessage, { ...options.consumeOptions, noAck });
}

/** A channel {@link watchQueueDepth} can read queues with. */
export interface AmqpQueueChannel {
  checkQueue(queue: string): Promise<{ messageCount: number; consumerCount: number }>;
  close(): Promise<unknown>;
  on?(event: string, listener: (...args: never[]) => void): unknown;
}

/** A connection (amqplib promise API, also a recovering one) to open that channel on. */
export interface AmqpChannelSource {
  createChannel(): Promise<AmqpQueueChannel>;
}

/** Options of {@link watchQueueDepth}. */
export interface QueueDepthOptions {
  /** Milliseconds between reads. Default 5000. */
  intervalMs?: number;
  /** Milliseconds one read may take before it counts as failed. Default 2000 (at most `intervalMs`). */
  timeoutMs?: number;
}

/** A running depth watch. */
export interface QueueDepthWatch {
  /** Read every queue now (resolves when done; never rejects). */
  refresh(): Promise<void>;
  /** Stop reading (the queues then report NaN), close the channel. */
  stop(): Promise<void>;
}

interface Reading {
  depth: number;
  consumers: number;
}

/** The readings of each running watch; a stopped one is reported once more (as unknown), then dropped. */
const watches = new Set<{ readings: Map<string, Reading>; stopped: boolean }>();

function observeDepth(): void {
  observeOnce('queue-depth', (meter) => {
    const depth = meter.createObservableGauge(METRICS.messagingQueueDepth.name, {
      description: METRICS.messagingQueueDepth.description,
      unit: METRICS.messagingQueueDepth.unit,
    });
    const consumers = meter.createObservableGauge(METRICS.messagingQueueConsumers.name, {
      description: METRICS.messagingQueueConsumers.description,
      unit: METRICS.messagingQueueConsumers.unit,
    });
    meter.addBatchObservableCallback(
      (result) => {
        for (const watch of watches) {
          for (const [queue, reading] of watch.readings) {
            const attrs = { 'messaging.system': SYSTEM, 'messaging.destination.name': queue };
            result.observe(depth, reading.depth, attrs);
            result.observe(consumers, reading.consumers, attrs);
          }
          if (watch.stopped) watches.delete(watch);
        }
      },
      [depth, consumers],
    );
  });
}

/** What a queue that could not be read reports: NaN, a gap in graphs that `max by` aggregations skip. */
const UNKNOWN: Reading = { depth: Number.NaN, consumers: Number.NaN };

class Timeout extends Error {}

function within<T>(work: Promise<T>, ms: number, onLate: (value: T) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let done = false;
    const timer = setTimeout(() => {
      done = true;
      reject(new Timeout(`no answer within ${ms} ms`));
    }, ms);
    work.then(
      (value) => {
        clearTimeout(timer);
        if (done) onLate(value);
        else resolve(value);
      },
      (err) => {
        clearTimeout(timer);
        if (!done) reject(err);
      },
    );
  });
}

function closeQuietly(channel: AmqpQueueChannel): void {
  void channel.close().catch(() => undefined);
}

/**
 * Report the depth (ready messages) and consumer count of queues on `/metrics`, read every
 * `intervalMs` on a channel of its own (a `checkQueue` on a missing queue closes the channel it ran
 * on, so the app's channels are never used). A queue that cannot be read within `timeoutMs` reports
 * NaN until the next successful read, rather than a stale value; so does every queue after `stop()`.
 * The timer does not keep the process alive.
 *
 * Messages delivered to a consumer and not yet acknowledged are not in the depth (RabbitMQ counts
 * them as unacked, which AMQP does not report); `messaging.process.duration` covers them.
 *
 * ```js
 * getObs().data.watchQueueDepth(connection, ['orders']);
 * ```
 */
export function watchQueueDepth(
  connection: AmqpChannelSource,
  queues: readonly string[],
  options: QueueDepthOptions = {},
): QueueDepthWatch {
  if (!connection || typeof connection.createChannel !== 'function') {
    throw new TypeError('watchQueueDepth needs an amqplib connection (promise API)');
  }
  const intervalMs = Math.max(100, options.intervalMs ?? 5000);
  const timeoutMs = Math.max(10, Math.min(options.timeoutMs ?? 2000, intervalMs));
  const readings = new Map<string, Reading>();
  let channel: AmqpQueueChannel | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;

  const open = async (): Promise<AmqpQueueChannel> => {
    if (channel) return channel;
    const opened = await within(connection.createChannel(), timeoutMs, closeQuietly);
    opened.on?.('error', () => undefined); // a 404 from checkQueue; 'close' follows
    opened.on?.('close', () => {
      if (channel === opened) channel = undefined;
    });
    if (stopped) {
      closeQuietly(opened);
      throw new Error('stopped');
    }
    channel = opened;
    return opened;
  };

  const readOne = async (queue: string): Promise<void> => {
    try {
      const ch = await open();
      const ok = await within(ch.checkQueue(queue), timeoutMs, () => undefined);
      if (!stopped) readings.set(queue, { depth: ok.messageCount, consumers: ok.consumerCount });
    } catch (err) {
      if (!stopped) readings.set(queue, UNKNOWN);
      if (channel) {
        closeQuietly(channel);
        channel = undefined;
      }
      if (!stopped) diagnose('warn', `queue depth of ${queue}: ${describe(err)}`);
    }
  };

  const refresh = (): Promise<void> => {
    if (stopped) return Promise.resolve();
    running ??= (async () => {
      for (const queue of queues) await readOne(queue);
    })().finally(() => {
      running = undefined;
    });
    return running;
  };

  const watch = { readings, stopped: false };
  watches.add(watch);
  observeDepth();
  const timer = setInterval(() => void refresh(), intervalMs);
  timer.unref();
  void refresh();

  return {
    refresh,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
      for (const queue of queues) readings.set(queue, UNKNOWN);
      watch.stopped = true;
      if (channel) await channel.close().catch(() => undefined);
      channel = undefined;
    },
  };
}
