import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Body, Controller, Inject, Logger, Post, Res } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { getObs } from '@obs/nestjs';
import { ApiError } from './errors.js';
import { type Order, OrderQueue } from './queue.js';

class PaymentDeclinedError extends Error {
  constructor(amount: number) {
    super(`payment of ${amount} declined`);
  }
}
// On the prototype, so that the stack trace starts with the name too
PaymentDeclinedError.prototype.name = 'PaymentDeclinedError';

@Controller('api/v1/orders')
export class OrdersController {
  readonly #logger = new Logger(OrdersController.name);
  readonly #ordersCreated = getObs().metrics.counter('shop.orders.created', {
    description: 'Orders created.',
    unit: '{order}',
  });

  constructor(
    @Inject(HttpAdapterHost) private readonly adapterHost: HttpAdapterHost,
    @Inject(OrderQueue) private readonly orders: OrderQueue,
  ) {}

  @Post()
  async create(@Body() body: unknown, @Res() res: unknown): Promise<void> {
    const amount = (body as { amount?: unknown } | undefined)?.amount;
    if (typeof amount !== 'number' || !Number.isFinite(amount) || amount <= 0) {
      throw new ApiError(400, 'amount must be a positive number');
    }
    const reply = (status: number, json: unknown) => this.adapterHost.httpAdapter.reply(res, json, status);
    try {
      const payment = await getObs().withSpan('process_payment', async (span) => {
        span.setAttribute('payment.amount', amount);
        await sleep(5);
        if (amount === 13) throw new PaymentDeclinedError(amount);
        return { status: 'captured' };
      });
      const order: Order = { id: randomBytes(8).toString('hex'), amount, payment: payment.status };
      await this.orders.publish(order); // to the orders queue, with AMQP_URL
      this.#ordersCreated.add(1);
      this.#logger.log('Order created', { order_id: order.id, amount });
      reply(201, order);
    } catch (err) {
      // Handled here, answered here: not an error of the request for @obs to report again.
      this.#logger.error('Failed to create order', { err });
      reply(500, { error: 'Failed to create order' });
    }
  }
}
