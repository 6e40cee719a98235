/**
 * The @obs reference service on Koa 3. Every adapter's example implements this same contract
 * (routes, statuses, bodies, log messages); the conformance suite runs against all of them.
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import { errorHandler, getObs, observe, obsRoutes } from '@obs/koa';
import Koa from 'koa';
import inject from 'light-my-request';

const VALID_EMAIL = 'ada@example.com';
const VALID_PASSWORD = 'correct horse battery staple';

class PaymentDeclinedError extends Error {
  constructor(amount) {
    super(`payment of ${amount} declined`);
    this.name = 'PaymentDeclinedError';
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The largest user id PostgreSQL's `integer` holds: larger ones are unknown users, not errors. */
const MAX_ID = 2 ** 31 - 1;

/**
 * Build the app (no listening) on its dependencies (@obs/example-shared): `database` (`findUser`),
 * `userCache` (the `users` cache) and `orders` (`publish`).
 */
export function createApp({ database, userCache, orders }) {
  const obs = getObs();
  const ordersCreated = obs.metrics.counter('shop.orders.created', {
    description: 'Orders created.',
    unit: '{order}',
  });

  const app = new Koa();
  // first: request id, ctx.log, route template, completion line (with the tenant and, redacted, the
  // session token: docs/reference-service.md), error logging
  app.use(
    observe({
      fields: (ctx) => ({
        'tenant.id': ctx.get('x-tenant-id') || undefined,
        session_token: ctx.get('x-session-token') || undefined,
      }),
    }),
  );
  app.use(errorHandler()); // JSON error bodies: 500 for thrown errors, 400 for a malformed body, 404
  app.use(obsRoutes()); // GET /health/live, /health/ready, /metrics
  app.use(bodyParser());

  const api = new Router({ prefix: '/api/v1' });

  api.get('/users/:id', async (ctx) => {
    const id = Number(ctx.params.id);
    const user =
      Number.isInteger(id) && id >= 1 && id <= MAX_ID
        ? await userCache.get(String(id), () => database.findUser(id))
        : null;
    if (!user) {
      ctx.status = 404;
      ctx.body = { error: 'User not found' };
      return;
    }
    ctx.body = user;
  });

  // an in-process request (light-my-request, as tests and internal calls make them)
  api.get('/in-process/users/:id', async (ctx) => {
    const inner = await inject(app.callback(), {
      method: 'GET',
      url: `/api/v1/users/${encodeURIComponent(ctx.params.id)}`,
    });
    ctx.body = { status: inner.statusCode, requestId: inner.headers['x-request-id'], user: inner.json() };
  });

  api.post('/auth/login', (ctx) => {
    const { email, password } = ctx.request.body ?? {};
    ctx.log.info({ email }, 'Login attempt');
    if (email !== VALID_EMAIL || password !== VALID_PASSWORD) {
      ctx.log.warn({ email }, 'Login failed');
      ctx.status = 401;
      ctx.body = { error: 'Invalid credentials' };
      return;
    }
    const token = randomBytes(24).toString('hex');
    ctx.log.info({ email }, 'Login successful');
    ctx.body = { token };
  });

  api.post('/orders', async (ctx) => {
    const amount = ctx.request.body?.amount;
    if (typeof amount !== 'number' || !Number.isFinite(amount) || amount <= 0) {
      ctx.status = 400;
      ctx.body = { error: 'amount must be a positive number' };
      return;
    }
    try {
      const payment = await obs.withSpan('process_payment', async (span) => {
        span.setAttribute('payment.amount', amount);
        await sleep(5);
        if (amount === 13) throw new PaymentDeclinedError(amount);
        return { status: 'captured' };
      });
      const order = { id: randomBytes(8).toString('hex'), amount, payment: payment.status };
      await orders.publish(order); // to the orders queue, with AMQP_URL
      ordersCreated.add(1);
      ctx.log.info({ order_id: order.id, amount }, 'Order created');
      ctx.status = 201;
      ctx.body = order;
    } catch (err) {
      ctx.log.error({ err }, 'Failed to create order');
      ctx.status = 500;
      ctx.body = { error: 'Failed to create order' };
    }
  });

  api.get('/slow', async (ctx) => {
    const ms = Math.min(Math.max(Number(ctx.query.ms) || 0, 0), 5000);
    await sleep(ms);
    ctx.body = { waited_ms: ms };
  });

  api.get('/stream', (ctx) => {
    ctx.type = 'application/x-ndjson';
    // Koa pipes the body after the middleware chain: the response (and its span) ends with the stream.
    ctx.body = Readable.from(
      (async function* () {
        for (let chunk = 0; chunk < 5; chunk++) {
          if (chunk > 0) await sleep(50);
          yield `${JSON.stringify({ chunk })}\n`;
        }
      })(),
      { objectMode: false },
    );
  });

  api.get('/boom', () => {
    throw new Error('boom: the handler failed');
  });

  app.use(api.routes());
  // No router.allowedMethods(): the contract answers every unknown method and path with a JSON 404,
  // which errorHandler() gives the requests no route answered.
  return app;
}
