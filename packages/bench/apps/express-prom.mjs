// Express 5 with express-prom-bundle (prom-client) and pino-http (one line per request, /dev/null).
import express from 'express';
import promBundle from 'express-prom-bundle';
import pino from 'pino';
import pinoHttp from 'pino-http';

const app = express();
app.use(promBundle({ includeMethod: true, includePath: true, includeStatusCode: true }));
app.use(pinoHttp({ logger: pino(pino.destination({ dest: '/dev/null', sync: false })) }));
app.get('/users/:id', (req, res) => {
  res.json({ id: req.params.id });
});
app.listen(Number(process.env.PORT), '127.0.0.1');
