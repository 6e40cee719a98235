// Koa 3 + @koa/router with @obs (run under --import @obs/register).
import Router from '@koa/router';
import { errorHandler, observe, obsRoutes } from '@obs/koa';
import Koa from 'koa';

const app = new Koa();
app.use(observe());
app.use(errorHandler());
app.use(obsRoutes());
const router = new Router();
router.get('/users/:id', (ctx) => {
  ctx.body = { id: ctx.params.id };
});
app.use(router.routes());
app.listen(Number(process.env.PORT), '127.0.0.1');
