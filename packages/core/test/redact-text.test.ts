import { describe, expect, it } from 'vitest';
import { REDACTED } from '../src/logging/redact.js';
import { createTextRedaction } from '../src/logging/redact-text.js';

const { redactString, scrubUrl, scrubQuery } = createTextRedaction();
const JWT =
  'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c';

describe('redactString: secret shapes in free text (issue 15, item 13)', () => {
  const cases: [label: string, input: string, expected: string][] = [
    [
      'an interpolated JSON body',
      'Login failed for {"email": "a@b.c", "password": "hunter2"}',
      `Login failed for {"email": "a@b.c", "password": "${REDACTED}"}`,
    ],
    [
      'a util.inspect-ed object',
      "bad request { user: 'ann', apiKey: 'k-123', card_number: '4111111111111111' }",
      `bad request { user: 'ann', apiKey: '${REDACTED}', card_number: '${REDACTED}' }`,
    ],
    [
      'an ORM query log with bound values',
      "Executing (default): UPDATE users SET password = 'hunter2' WHERE id = 1",
      `Executing (default): UPDATE users SET password = '${REDACTED}' WHERE id = 1`,
    ],
    [
      'a driver error with a connection string',
      'connect ECONNREFUSED postgres://app:s3cret@db.internal:5432/app',
      `connect ECONNREFUSED postgres://app:${REDACTED}@db.internal:5432/app`,
    ],
    [
      'a mysql connection URI in an error',
      'Cannot connect to mysql://root:toor@127.0.0.1/test?ssl=true',
      `Cannot connect to mysql://root:${REDACTED}@127.0.0.1/test?ssl=true`,
    ],
    [
      'a bearer token in free text',
      'upstream answered 401 to Authorization: Bearer abc.DEF-123_xyz',
      `upstream answered 401 to Authorization: ${REDACTED} ${REDACTED}`,
    ],
    ['a bearer token without a header name', 'sent bearer 0123456789abcdef', `sent bearer ${REDACTED}`],
    ['a Basic credential', 'retry with Basic dXNlcjpwYXNz', `retry with Basic ${REDACTED}`],
    ['a JWT anywhere', `session ${JWT} expired`, `session ${REDACTED} expired`],
    [
      'key=value pairs in a URL inside a message',
      'GET https://api.example.com/v1?access_token=abc&page=2&Password=pw failed',
      `GET https://api.example.com/v1?access_token=${REDACTED}&page=2&Password=${REDACTED} failed`,
    ],
    ['a JSON number under a secret key, as a JSON string', '{"pin":1234,"n":1}', `{"pin":"${REDACTED}","n":1}`],
    ['a private key pair', 'private_key=MIIEvQIBADANBg', `private_key=${REDACTED}`],
    [
      'a JSON string inside a JSON string',
      '{"body":"{\\"token\\":\\"abc\\"}"}',
      `{"body":"{\\"token\\":\\"${REDACTED}\\"}"}`,
    ],
    [
      'payment and identity keys',
      'cvv=123 iban=DE89370400440532013000 ssn: 078-05-1120',
      `cvv=${REDACTED} iban=${REDACTED} ssn: ${REDACTED}`,
    ],
  ];
  for (const [label, input, expected] of cases) {
    it(`redacts ${label}`, () => {
      expect(redactString(input)).toBe(expected);
    });
  }

  for (const clean of [
    'request completed',
    'looking up user 42',
    'Basic authentication is required',
    'bearer of bad news',
    'user: ann, role: admin',
    'password policy updated',
    'at Object.<anonymous> (file:///app/src/login.js:10:5)',
    'postgres://app@db:5432/app',
  ]) {
    it(`returns ${JSON.stringify(clean)} unchanged, as the same string`, () => {
      expect(redactString(clean)).toBe(clean);
    });
  }

  it('redacts keys added with OBS_REDACT_KEYS', () => {
    expect(createTextRedaction(['tenant_secret_code']).redactString('tenant_secret_code=42')).toBe(
      `tenant_secret_code=${REDACTED}`,
    );
    expect(redactString('tenant_secret_code=42')).toBe('tenant_secret_code=42');
  });

  it('fails closed on an unterminated quoted value', () => {
    expect(redactString('{"password": "never closed\nnext line')).toBe(`{"password": "${REDACTED}\nnext line`);
  });

  it('can be turned off (OBS_REDACT_STRINGS=false); URLs and query strings are still scrubbed', () => {
    const off = createTextRedaction([], { strings: false });
    expect(off.redactString('password=hunter2')).toBe('password=hunter2');
    expect(off.scrubUrl('https://u:p@h/x?token=t')).toBe(`https://u:${REDACTED}@h/x?token=${REDACTED}`);
  });
});

describe('scrubUrl and scrubQuery: one key rule for every output (issue 15, item 12)', () => {
  it('redacts the parameters logs and Sentry redact, whatever their case', () => {
    expect(scrubQuery('access_token=a&Password=b&private_key=c&page=2&PRIVATE-KEY=d')).toBe(
      `access_token=${REDACTED}&Password=${REDACTED}&private_key=${REDACTED}&page=2&PRIVATE-KEY=${REDACTED}`,
    );
  });

  it('redacts query, fragment and userinfo, keeping the rest as written', () => {
    expect(scrubUrl('https://ann:pw@h.example/p?x=1&apiKey=k#access_token=t&state=s')).toBe(
      `https://ann:${REDACTED}@h.example/p?x=1&apiKey=${REDACTED}#access_token=${REDACTED}&state=s`,
    );
  });

  it('keeps what OpenTelemetry redacts by default (presigned URL signatures)', () => {
    expect(scrubQuery('X-Amz-Signature=s&sig=t&X-Goog-Signature=u&AWSAccessKeyId=v&a=1')).toBe(
      `X-Amz-Signature=${REDACTED}&sig=${REDACTED}&X-Goog-Signature=${REDACTED}&AWSAccessKeyId=${REDACTED}&a=1`,
    );
  });
});
