// NestJS 12 on @nestjs/platform-express with @obs (run under --import @obs/register), wired as the
// @obs/nestjs README does: ObservabilityModule.forRoot() in the root module, the @obs logger as Nest's
// logger, Nest's shutdown hooks. The handler writes no log line: @obs writes one completion line per request.
import 'reflect-metadata';
import { Controller, Get, Module, Param } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ObservabilityModule, ObsLoggerService } from '@obs/nestjs';

class UsersController {
  get(id) {
    return { id };
  }
}
Param('id')(UsersController.prototype, 'get', 0);
Get(':id')(UsersController.prototype, 'get', Object.getOwnPropertyDescriptor(UsersController.prototype, 'get'));
Controller('users')(UsersController);

class AppModule {}
Module({ imports: [ObservabilityModule.forRoot()], controllers: [UsersController] })(AppModule);

const app = await NestFactory.create(AppModule, { bufferLogs: true });
app.useLogger(app.get(ObsLoggerService));
app.enableShutdownHooks();
await app.listen(Number(process.env.PORT), '127.0.0.1');
