import { describe, expect, it } from 'vitest';
import { errorMessage, errorStatus } from '../src/http/errors.js';

describe('errorStatus / errorMessage', () => {
  it('takes a 4xx/5xx status or statusCode, else 500', () => {
    expect(errorStatus({ status: 400 })).toBe(400);
    expect(errorStatus({ statusCode: 503 })).toBe(503);
    expect(errorStatus({ status: 200 })).toBe(500);
    expect(errorStatus(new Error('x'))).toBe(500);
    expect(errorStatus(null)).toBe(500);
  });

  it('shows status text for client errors and nothing internal for server errors', () => {
    expect(errorMessage(400)).toBe('Bad Request');
    expect(errorMessage(500)).toBe('Internal server error');
    expect(errorMessage(599)).toBe('Internal server error');
    expect(errorMessage(499)).toBe('Error');
  });
});
