import { Controller, Get, Param } from '@nestjs/common';
import { ApiError } from './errors.js';

@Controller('api/v1/users')
export class UsersController {
  @Get(':id')
  get(@Param('id') raw: string): { id: string; name: string; email: string } {
    const id = Number(raw);
    if (!Number.isInteger(id) || id < 1 || id > 1000) throw new ApiError(404, 'User not found');
    return { id: String(id), name: `User ${id}`, email: `user${id}@example.com` };
  }
}
