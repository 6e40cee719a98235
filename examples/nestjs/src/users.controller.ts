import { Controller, Get, Inject, Param } from '@nestjs/common';
import { UserCache } from './cache.js';
import { Database, type User } from './database.js';
import { ApiError } from './errors.js';

/** The largest user id PostgreSQL's `integer` holds: larger ones are unknown users, not errors. */
const MAX_ID = 2 ** 31 - 1;

@Controller('api/v1/users')
export class UsersController {
  constructor(
    @Inject(Database) private readonly database: Database,
    @Inject(UserCache) private readonly userCache: UserCache,
  ) {}

  @Get(':id')
  async get(@Param('id') raw: string): Promise<User> {
    const id = Number(raw);
    const user =
      Number.isInteger(id) && id >= 1 && id <= MAX_ID
        ? await this.userCache.get(String(id), () => this.database.findUser(id))
        : null;
    if (!user) throw new ApiError(404, 'User not found');
    return user;
  }
}
