import { describe, expect, it } from 'vitest';
import { queryParamsToRedact } from '../src/tracing/instrumentations.js';

describe('queryParamsToRedact', () => {
  it('covers the log redaction keys as written, lower-cased and camelCased, plus OpenTelemetry defaults', () => {
    const names = queryParamsToRedact(['Session_Key']);
    for (const name of [
      'access_token',
      'accessToken',
      'api_key',
      'apiKey',
      'password',
      'token',
      'Session_Key',
      'session_key',
      'sessionKey',
      'sig',
      'AWSAccessKeyId',
    ]) {
      expect(names, name).toContain(name);
    }
  });
});
