// Koa 3 + @koa/router with @obs (run under --import @obs/register).
// For ablations (run.mjs --variant): BENCH_NO_OBSERVE=1, BENCH_NO_ERRORS=1, BENCH_NO_ROUTES=1 leave
// out observe(), errorHandler(), obsRoutes().
import Router from '@koa/router';
import { errorHandler, observe, obsRoutes } from '@obs/koa';
import Koa from 'koa';

const app = new Koa();
if (!process.env.BENCH_NO_OBSERVE) app.use(observe());
if (!process.env.BENCH_NO_ERRORS) app.use(errorHandler());
if (!process.env.BENCH_NO_ROUTES) app.use(obsRoutes());
const router = new Router();
router.get('/users/:id', (ctx) => {
  ctx.body = { id: ctx.params.id };
});
app.use(router.routes());
app.listen(Number(process.env.PORT), '127.0.0.1');
