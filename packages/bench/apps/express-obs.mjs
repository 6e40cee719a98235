// Express 5 with @obs (run under --import @obs/register): one completion line per request on
// stdout (the runner sends stdout to a file), server span per request, /metrics.
// For ablations (run.mjs --variant): BENCH_NO_ROUTES=1 leaves out obsRoutes(), BENCH_NO_OBSERVE=1
// leaves out observe().
import { errorHandler, notFound, observe, obsRoutes } from '@obs/express';
import express from 'express';

const app = express();
if (!process.env.BENCH_NO_OBSERVE) app.use(observe());
if (!process.env.BENCH_NO_ROUTES) app.use(obsRoutes());
app.get('/users/:id', (req, res) => {
  res.json({ id: req.params.id });
});
app.use(notFound());
app.use(errorHandler());
app.listen(Number(process.env.PORT), '127.0.0.1');
