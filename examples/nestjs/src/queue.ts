import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { amqpCheck, getObs } from '@obs/nestjs';
import type { ChannelModel, ConfirmChannel, ConsumeMessage, RecoveringChannelModel } from 'amqplib';

/** An order, as the API answers it and the queue carries it. */
export interface Order {
  id: string;
  amount: number;
  payment: string;
}

/**
 * The orders queue: with `AMQP_URL`, every order created is published to the RabbitMQ queue
 * `ORDERS_QUEUE` (default `orders`; durable, persistent messages, publisher confirms) and consumed by
 * this same process, which logs `Order processed` in the trace of the request that published it.
 * Without `AMQP_URL` orders are not published anywhere.
 *
 * The connection recovers by itself (also when the broker is down at start-up): its `setup` declares
 * the queue, opens the publishing channel and starts the consumer after every (re)connection. While
 * it is down, publishing fails (the order is answered 500) and readiness reports the outage. The
 * connection and the depth watch are closed by {@link Dependencies} at shutdown.
 */
@Injectable()
export class OrderQueue implements OnModuleInit {
  readonly #logger = new Logger(OrderQueue.name);
  readonly #queue = process.env.ORDERS_QUEUE || 'orders';
  #connection: RecoveringChannelModel | undefined;
  #publisher: ConfirmChannel | undefined; // the confirm channel of the current connection
  #watch: { stop(): Promise<void> } | undefined;

  async onModuleInit(): Promise<void> {
    const url = process.env.AMQP_URL;
    if (!url) return;
    const obs = getObs();
    const queue = this.#queue;
    const amqp = await import('amqplib');
    const connection = await amqp.connect(url, {
      recovery: {
        waitForConnect: false,
        maxDelay: 5000,
        setup: async (model: ChannelModel) => {
          const channel = await model.createConfirmChannel();
          channel.on('error', () => {}); // closes with the connection, which recovers
          await channel.assertQueue(queue, { durable: true });
          const consumer = await model.createChannel();
          consumer.on('error', () => {});
          await consumer.prefetch(10);
          // Acks when processOrder returns, nacks (no requeue) when it throws; metrics per queue.
          await obs.data.consume(consumer, queue, (message: ConsumeMessage) => this.#processOrder(message));
          this.#publisher = channel;
        },
      },
    });
    connection.on('error', () => {}); // the readiness check reports the outage
    obs.health.add(amqpCheck(connection));
    connection.once('connect', () => {
      this.#watch = obs.data.watchQueueDepth(connection, [queue]);
    });
    this.#connection = connection;
  }

  #processOrder(message: ConsumeMessage): void {
    const order = JSON.parse(message.content.toString()) as Order;
    this.#logger.log('Order processed', { order_id: order.id, amount: order.amount });
  }

  /** Publish an order (with `AMQP_URL`); resolves once the broker has it. */
  publish(order: Order): Promise<void> {
    if (!this.#connection) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const publisher = this.#publisher;
      if (!publisher) throw new Error('RabbitMQ is not connected');
      const body = Buffer.from(JSON.stringify(order));
      const options = { persistent: true, contentType: 'application/json', messageId: order.id };
      publisher.sendToQueue(this.#queue, body, options, (err) => (err ? reject(err) : resolve()));
    });
  }

  /** Whether there is something to close. */
  get connected(): boolean {
    return this.#connection !== undefined;
  }

  async close(): Promise<void> {
    await this.#watch?.stop();
    await this.#connection?.close();
  }
}
