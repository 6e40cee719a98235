// Bare Express 5: one GET /users/:id JSON route, one pino line per request to /dev/null.
import express from 'express';
import pino from 'pino';

const log = pino(pino.destination({ dest: '/dev/null', sync: false }));
const app = express();
app.get('/users/:id', (req, res) => {
  log.info({ user: req.params.id }, 'looking up user');
  res.json({ id: req.params.id });
});
app.listen(Number(process.env.PORT), '127.0.0.1');
