/**
 * The @obs reference service on Fastify 5. Every adapter's example implements this same contract
 * (routes, statuses, bodies, log messages); the conformance suite runs against all of them.
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { errorHandler, getObs, notFoundHandler, obsFastifyOptions, obsPlugin } from '@obs/fastify';
import Fastify from 'fastify';

const VALID_EMAIL = 'ada@example.com';
const VALID_PASSWORD = 'correct horse battery staple';

class PaymentDeclinedError extends Error {
  constructor(amount) {
    super(`payment of ${amount} declined`);
    this.name = 'PaymentDeclinedError';
  }
}

/** The largest user id PostgreSQL's `integer` holds: larger ones are unknown users, not errors. */
const MAX_ID = 2 ** 31 - 1;

/**
 * The API routes, registered under `/api/v1`, on the dependencies (@obs/example-shared): `database`
 * (`findUser`), `userCache` (the `users` cache) and `orders` (`publish`).
 */
async function api(app, { database, userCache, orders }) {
  const obs = getObs();
  const ordersCreated = obs.metrics.counter('shop.orders.created', {
    description: 'Orders created.',
    unit: '{order}',
  });

  app.get('/users/:id', async (request, reply) => {
    const id = Number(request.params.id);
    const user =
      Number.isInteger(id) && id >= 1 && id <= MAX_ID
        ? await userCache.get(String(id), () => database.findUser(id))
        : null;
    if (!user) {
      return reply.code(404).send({ error: 'User not found' });
    }
    return user;
  });

  // an in-process request (Fastify's inject(), as tests and internal calls make them)
  app.get('/in-process/users/:id', async (request) => {
    const inner = await app.inject({ method: 'GET', url: `/api/v1/users/${encodeURIComponent(request.params.id)}` });
    return { status: inner.statusCode, requestId: inner.headers['x-request-id'], user: inner.json() };
  });

  app.post('/auth/login', async (request, reply) => {
    const { email, password } = request.body ?? {};
    request.log.info({ email }, 'Login attempt');
    if (email !== VALID_EMAIL || password !== VALID_PASSWORD) {
      request.log.warn({ email }, 'Login failed');
      return reply.code(401).send({ error: 'Invalid credentials' });
    }
    const token = randomBytes(24).toString('hex');
    request.log.info({ email }, 'Login successful');
    return { token };
  });

  app.post('/orders', async (request, reply) => {
    const amount = request.body?.amount;
    if (typeof amount !== 'number' || !Number.isFinite(amount) || amount <= 0) {
      return reply.code(400).send({ error: 'amount must be a positive number' });
    }
    try {
      const payment = await obs.withSpan('process_payment', async (span) => {
        span.setAttribute('payment.amount', amount);
        await new Promise((resolve) => setTimeout(resolve, 5));
        if (amount === 13) throw new PaymentDeclinedError(amount);
        return { status: 'captured' };
      });
      const order = { id: randomBytes(8).toString('hex'), amount, payment: payment.status };
      await orders.publish(order); // to the orders queue, with AMQP_URL
      ordersCreated.add(1);
      request.log.info({ order_id: order.id, amount }, 'Order created');
      return reply.code(201).send(order);
    } catch (err) {
      request.log.error({ err }, 'Failed to create order');
      return reply.code(500).send({ error: 'Failed to create order' });
    }
  });

  app.get('/slow', async (request) => {
    const ms = Math.min(Math.max(Number(request.query.ms) || 0, 0), 5000);
    await new Promise((resolve) => setTimeout(resolve, ms));
    return { waited_ms: ms };
  });

  app.get('/stream', async (_request, reply) => {
    async function* chunks() {
      for (let chunk = 0; chunk < 5; chunk++) {
        if (chunk > 0) await new Promise((resolve) => setTimeout(resolve, 50));
        yield `${JSON.stringify({ chunk })}\n`;
      }
    }
    // Fastify pipes the stream; the response (and its span and completion line) ends with it.
    return reply.type('application/x-ndjson').send(Readable.from(chunks()));
  });

  app.get('/boom', async () => {
    throw new Error('boom: the handler failed');
  });
}

/** Build the app (no listening) on its dependencies (@obs/example-shared). */
export async function createApp(dependencies) {
  const app = Fastify({ ...obsFastifyOptions() });
  // the completion line carries the tenant and, redacted, the session token (docs/reference-service.md)
  await app.register(obsPlugin, {
    fields: (request) => ({
      'tenant.id': request.headers['x-tenant-id'],
      session_token: request.headers['x-session-token'],
    }),
  });
  app.setErrorHandler(errorHandler());
  app.setNotFoundHandler(notFoundHandler());
  await app.register(api, { prefix: '/api/v1', ...dependencies });
  return app;
}
