/**
 * The @obs reference service on Express 5, and on Express 4 (examples/express4 runs this source). Every
 * adapter's example implements this same contract (routes, statuses, bodies, log messages); the
 * conformance suite runs against all of them.
 */
import { randomBytes } from 'node:crypto';
import { requestInProcess } from '@obs/example-shared/in-process-request.js';
import { errorHandler, getObs, notFound, observe, obsRoutes } from '@obs/express';
import express from 'express';

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
 * Build the app (no listening) on its dependencies (@obs/example-shared): `database` (`findUser`),
 * `userCache` (the `users` cache) and `orders` (`publish`).
 */
export function createApp({ database, userCache, orders }) {
  const obs = getObs();
  const ordersCreated = obs.metrics.counter('shop.orders.created', {
    description: 'Orders created.',
    unit: '{order}',
  });

  const app = express();
  app.disable('x-powered-by');
  // the completion line carries the tenant and, redacted, the session token (docs/reference-service.md)
  app.use(
    observe({
      fields: (req) => ({ 'tenant.id': req.get('x-tenant-id'), session_token: req.get('x-session-token') }),
    }),
  );
  app.use(obsRoutes());
  app.use(express.json());

  const api = express.Router();

  api.get('/users/:id', async (req, res, next) => {
    const id = Number(req.params.id);
    let user = null;
    try {
      if (Number.isInteger(id) && id >= 1 && id <= MAX_ID) {
        user = await userCache.get(String(id), () => database.findUser(id));
      }
    } catch (err) {
      next(err); // Express 5 does this for a rejected handler; Express 4 does not
      return;
    }
    if (!user) {
      res.status(404).json({ error: 'User not found' });
      return;
    }
    res.json(user);
  });

  // an in-process request (Node's own request and response on an in-memory socket: Express has no
  // inject(), and light-my-request would rewire the prototypes of the app's real requests)
  api.get('/in-process/users/:id', async (req, res, next) => {
    try {
      const inner = await requestInProcess(app, {
        method: 'GET',
        url: `/api/v1/users/${encodeURIComponent(req.params.id)}`,
      });
      res.json({
        status: inner.statusCode,
        requestId: inner.headers['x-request-id'],
        user: JSON.parse(inner.body.toString('utf8')),
      });
    } catch (err) {
      next(err); // Express 5 does this for a rejected handler; Express 4 does not
    }
  });

  api.post('/auth/login', (req, res) => {
    const { email, password } = req.body ?? {};
    req.log.info({ email }, 'Login attempt');
    if (email !== VALID_EMAIL || password !== VALID_PASSWORD) {
      req.log.warn({ email }, 'Login failed');
      res.status(401).json({ error: 'Invalid credentials' });
      return;
    }
    const token = randomBytes(24).toString('hex');
    req.log.info({ email }, 'Login successful');
    res.json({ token });
  });

  api.post('/orders', async (req, res) => {
    const amount = req.body?.amount;
    if (typeof amount !== 'number' || !Number.isFinite(amount) || amount <= 0) {
      res.status(400).json({ error: 'amount must be a positive number' });
      return;
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
      req.log.info({ order_id: order.id, amount }, 'Order created');
      res.status(201).json(order);
    } catch (err) {
      req.log.error({ err }, 'Failed to create order');
      res.status(500).json({ error: 'Failed to create order' });
    }
  });

  api.get('/slow', async (req, res) => {
    const ms = Math.min(Math.max(Number(req.query.ms) || 0, 0), 5000);
    await new Promise((resolve) => setTimeout(resolve, ms));
    res.json({ waited_ms: ms });
  });

  api.get('/stream', async (_req, res) => {
    res.type('application/x-ndjson');
    for (let chunk = 0; chunk < 5; chunk++) {
      if (chunk > 0) await new Promise((resolve) => setTimeout(resolve, 50));
      res.write(`${JSON.stringify({ chunk })}\n`);
    }
    res.end();
  });

  api.get('/boom', () => {
    throw new Error('boom: the handler failed');
  });

  app.use('/api/v1', api);
  app.use(notFound());
  app.use(errorHandler());
  return app;
}
