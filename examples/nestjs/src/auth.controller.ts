import { randomBytes } from 'node:crypto';
import { Body, Controller, HttpCode, Logger, Post } from '@nestjs/common';
import { ApiError } from './errors.js';

const VALID_EMAIL = 'ada@example.com';
const VALID_PASSWORD = 'correct horse battery staple';

@Controller('api/v1/auth')
export class AuthController {
  // Nest's Logger, which app.useLogger(ObsLoggerService) turns into @obs JSON lines
  readonly #logger = new Logger(AuthController.name);

  @Post('login')
  @HttpCode(200)
  login(@Body() body: unknown): { token: string } {
    const { email, password } = (body ?? {}) as { email?: unknown; password?: unknown };
    this.#logger.log('Login attempt', { email });
    if (email !== VALID_EMAIL || password !== VALID_PASSWORD) {
      this.#logger.warn('Login failed', { email });
      throw new ApiError(401, 'Invalid credentials');
    }
    const token = randomBytes(24).toString('hex');
    this.#logger.log('Login successful', { email });
    return { token };
  }
}
