// Bare Koa 3 + @koa/router: one GET /users/:id JSON route, one pino line per request to /dev/null.
import Router from '@koa/router';
import Koa from 'koa';
import pino from 'pino';

const log = pino(pino.destination({ dest: '/dev/null', sync: false }));
const app = new Koa();
const router = new Router();
router.get('/users/:id', (ctx) => {
  log.info({ user: ctx.params.id }, 'looking up user');
  ctx.body = { id: ctx.params.id };
});
app.use(router.routes());
app.listen(Number(process.env.PORT), '127.0.0.1');
