// Bare NestJS 12 on @nestjs/platform-express: one GET /users/:id JSON route, one pino line per request
// to /dev/null, Nest's own logger off. Plain ESM: the decorators are applied by calling them.
import 'reflect-metadata';
import { Controller, Get, Module, Param } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import pino from 'pino';

const log = pino(pino.destination({ dest: '/dev/null', sync: false }));

class UsersController {
  get(id) {
    log.info({ user: id }, 'looking up user');
    return { id };
  }
}
Param('id')(UsersController.prototype, 'get', 0);
Get(':id')(UsersController.prototype, 'get', Object.getOwnPropertyDescriptor(UsersController.prototype, 'get'));
Controller('users')(UsersController);

class AppModule {}
Module({ controllers: [UsersController] })(AppModule);

const app = await NestFactory.create(AppModule, { logger: false });
await app.listen(Number(process.env.PORT), '127.0.0.1');
