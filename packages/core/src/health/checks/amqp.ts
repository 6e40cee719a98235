/**
 * RabbitMQ (AMQP 0-9-1) through `amqplib`: opens a channel and closes it again, one round trip to the
 * broker. Takes the connection `amqplib.connect()` gives (also a recovering one), or a function that
 * returns the current connection (or nothing while there is none). Nothing is imported from `amqplib`.
 */
import { type HealthCheck, HealthCheckError } from '../registry.js';
import { type CheckOptions, makeCheck } from './common.js';

/** The part of an amqplib connection (promise API) the check uses. */
export interface AmqpConnectionLike {
  createChannel(): Promise<{ close(): Promise<unknown> }>;
}

/**
 * A check that opens and closes a channel (default name `rabbitmq`).
 *
 * ```js
 * const connection = await amqplib.connect(process.env.AMQP_URL);
 * getObs().health.add(amqpCheck(connection));
 * ```
 */
export function amqpCheck(
  connection: AmqpConnectionLike | (() => AmqpConnectionLike | null | undefined),
  options: CheckOptions = {},
): HealthCheck {
  const current = typeof connection === 'function' ? connection : () => connection;
  if (typeof connection !== 'function' && (!connection || typeof connection.createChannel !== 'function')) {
    throw new TypeError('amqpCheck needs an amqplib connection (promise API) or a function returning one');
  }
  return makeCheck('rabbitmq', options, async (signal) => {
    const conn = current();
    if (!conn) throw new HealthCheckError('not connected');
    const channel = await conn.createChannel();
    if (signal.aborted) {
      // opened after the check timed out: do not leave it open
      void channel.close().catch(() => undefined);
      return;
    }
    await channel.close();
  });
}
