/**
 * Built-in dependency checks. Each takes the client the app already has (duck-typed: @obs imports no
 * driver; they are optional peer dependencies) and returns a {@link HealthCheck} for
 * `obs.health.add()`.
 */
export { type AmqpConnectionLike, amqpCheck } from './amqp.js';
export type { CheckOptions } from './common.js';
export { type HttpCheckOptions, httpCheck } from './http.js';
export { type MysqlCheckOptions, type MysqlQueryable, mysqlCheck } from './mysql.js';
export { type PgQueryable, type PostgresCheckOptions, postgresCheck } from './postgres.js';
export { type RedisPingable, redisCheck } from './redis.js';
export type { KnexLike, MikroOrmLike, PrismaLike, SqlClient, SqlQueryable } from './sql-client.js';
