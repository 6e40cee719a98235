/**
 * The orders queue: with `AMQP_URL`, every order created is published to the RabbitMQ queue
 * `ORDERS_QUEUE` (default `orders`; durable, persistent messages, publisher confirms) and consumed by
 * this same process, which logs `Order processed` in the trace of the request that published it.
 * Without `AMQP_URL` orders are not published anywhere.
 *
 * The connection recovers by itself (also when the broker is down at start-up): its `setup` declares
 * the queue, opens the publishing channel and starts the consumer after every (re)connection. While
 * it is down, publishing fails (the order is answered 500) and readiness reports the outage.
 */
import { amqpCheck, getObs } from '@obs/core';

/** No queue (no `AMQP_URL`). */
export function memoryOrderQueue() {
  return { async publish() {} };
}

/** The orders queue on RabbitMQ: the connection, its readiness check, the consumer, the depth watch, `close()`. */
export async function connectOrderQueue(url, queue) {
  const obs = getObs();
  const amqp = await import('amqplib');
  let publisher; // the confirm channel of the current connection

  const processOrder = (message) => {
    const order = JSON.parse(message.content.toString());
    obs.logger.info({ order_id: order.id, amount: order.amount }, 'Order processed');
  };

  const connection = await amqp.connect(url, {
    recovery: {
      waitForConnect: false,
      maxDelay: 5000,
      async setup(model) {
        const channel = await model.createConfirmChannel();
        channel.on('error', () => {}); // closes with the connection, which recovers
        await channel.assertQueue(queue, { durable: true });
        const consumer = await model.createChannel();
        consumer.on('error', () => {});
        await consumer.prefetch(10);
        // Acks when processOrder returns, nacks (no requeue) when it throws; metrics per queue.
        await obs.data.consume(consumer, queue, processOrder);
        publisher = channel;
      },
    },
  });
  connection.on('error', () => {}); // the readiness check reports the outage
  obs.health.add(amqpCheck(connection));
  let watch;
  connection.once('connect', () => {
    watch = obs.data.watchQueueDepth(connection, [queue]);
  });

  return {
    /** Publish an order; resolves once the broker has it. */
    publish(order) {
      return new Promise((resolve, reject) => {
        if (!publisher) throw new Error('RabbitMQ is not connected');
        const body = Buffer.from(JSON.stringify(order));
        const options = { persistent: true, contentType: 'application/json', messageId: order.id };
        publisher.sendToQueue(queue, body, options, (err) => (err ? reject(err) : resolve()));
      });
    },
    async close() {
      await watch?.stop();
      await connection.close();
    },
  };
}
