// Compiled by `tsc -p tsconfig.json` (the typecheck script), never run: the Koa context and state
// types that @obs/koa adds, as a TypeScript app sees them.
import Router from '@koa/router';
import Koa from 'koa';
import { errorHandler, logErrors, matchedRoute, type ObsLogger, observe, obsRoutes } from '../src/index.js';

const app = logErrors(new Koa());
app.use(observe({ logErrors: false }));
app.use(errorHandler({ emptyErrors: false }));
app.use(obsRoutes({ metricsPath: false }));
const router = new Router();
router.get('/users/:id', (ctx) => {
  const log: ObsLogger = ctx.log;
  const id: string = ctx.state.requestId;
  const route: string | undefined = matchedRoute(ctx);
  log.info({ id, route }, 'typed');
  ctx.body = { id };
});
app.use(router.routes());

export { app };

// An app with its own state and context types takes the same middleware.
interface MyState {
  user?: string;
}
interface MyContext {
  tenant: string;
}
const typed = logErrors(new Koa<MyState, MyContext>());
typed.use(observe());
typed.use(errorHandler());
typed.use(obsRoutes());
typed.use(async (ctx, next) => {
  const tenant: string = ctx.tenant;
  const user: string | undefined = ctx.state.user;
  ctx.log.info({ tenant, user }, 'typed context');
  await next();
});

export { typed };
