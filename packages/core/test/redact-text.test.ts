import { describe, expect, it } from 'vitest';
import { REDACTED } from '../src/logging/redact.js';
import { createTextRedaction, urlKind } from '../src/logging/redact-text.js';

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

describe('redactString: key and value boundaries (mutation-testing edges)', () => {
  it('redacts after any run of blanks, tabs included', () => {
    expect(redactString('Authorization: Bearer   abc.DEF-123')).toBe(`Authorization: ${REDACTED}   ${REDACTED}`);
    expect(redactString('password:\thunter2')).toBe(`password:\t${REDACTED}`);
    expect(redactString('password\t= hunter2')).toBe(`password\t= ${REDACTED}`);
  });

  it('reads a key with digits, dots and dashes whole (cvv2, card.number, x-api-key)', () => {
    expect(redactString('cvv2=123 card.number=4111111111111111 x-api-key: k-1')).toBe(
      `cvv2=${REDACTED} card.number=${REDACTED} x-api-key: ${REDACTED}`,
    );
    expect(createTextRedaction(['pin_v0', 'pin_v9']).redactString('pin_v0=1 pin_v9=2')).toBe(
      `pin_v0=${REDACTED} pin_v9=${REDACTED}`,
    );
  });

  it('reads a key from its first letter, upper case included, not across blanks or |', () => {
    expect(redactString('retry for ann with pin=1234')).toBe(`retry for ann with pin=${REDACTED}`);
    expect(redactString('0pin=1234')).toBe(`0pin=${REDACTED}`);
    expect(redactString('user=ann|pin=1234')).toBe(`user=ann|pin=${REDACTED}`);
    expect(createTextRedaction(['zip_code']).redactString('ZIP_CODE=12345')).toBe(`ZIP_CODE=${REDACTED}`);
  });

  it('ends a bare value at quotes, a backslash and , ; ) } ] >, keeping them', () => {
    for (const end of ['"', "'", '\\', ',', ';', ')', '}', ']', '>']) {
      expect(redactString(`password=x${end}next`)).toBe(`password=${REDACTED}${end}next`);
    }
  });

  it('keeps a JSON number under a secret key a JSON string inside an escaped JSON string', () => {
    expect(redactString('{"body":"{\\"pin\\":1234}"}')).toBe(`{"body":"{\\"pin\\":\\"${REDACTED}\\"}"}`);
  });

  it('fails closed on an unterminated quoted value at the end of the text', () => {
    expect(redactString('password: "never closed')).toBe(`password: "${REDACTED}`);
  });

  it('leaves an empty value as it is', () => {
    expect(redactString('password=, user=ann')).toBe('password=, user=ann');
  });

  it('does not take "Basic"/"Bearer" before a capitalised or all-capitals word for a credential', () => {
    for (const clean of ['Basic Authentication failed', 'Basic HTTP authentication is required']) {
      expect(redactString(clean)).toBe(clean);
    }
  });
});

describe('urlKind, scrubQuery and scrubUrl edges (mutation-testing edges)', () => {
  it('knows the keys whose value is a URL or a query string, in any spelling', () => {
    const url = ['url', 'url.full', 'url.original', 'http.url', 'http.target', 'Referer', 'referrer'];
    url.push('http.request.header.referer', 'Location', 'from', 'to');
    expect(url.map(urlKind)).toEqual(url.map(() => 'url'));
    const query = ['query_string', 'http.query', 'url.query', 'query'];
    expect(query.map(urlKind)).toEqual(query.map(() => 'query'));
    expect(['message', 'url.path', 'http.route'].map(urlKind)).toEqual([undefined, undefined, undefined]);
  });

  it('marks a secret parameter without a value as redacted', () => {
    expect(scrubQuery('debug&token')).toBe(`debug&token=${REDACTED}`);
    expect(scrubQuery('a=1;api_key')).toBe(`a=1;api_key=${REDACTED}`);
  });

  it('matches a key with broken percent-encoding as written, and never throws', () => {
    expect(scrubQuery('password%=x&%E0%A4%A=1&page=2')).toBe(`password%=${REDACTED}&%E0%A4%A=1&page=2`);
  });

  it('redacts a query that ends with "?"', () => {
    expect(scrubQuery('token=abc&next=/search?')).toBe(`token=${REDACTED}&next=/search?`);
  });

  it('redacts the fragment of a URL without a query, keeping its path', () => {
    expect(scrubUrl('https://h.example/callback#access_token=t&state=s')).toBe(
      `https://h.example/callback#access_token=${REDACTED}&state=s`,
    );
    expect(scrubUrl('https://h.example/p')).toBe('https://h.example/p');
  });
});

describe('leaks found while mutation testing, fixed', () => {
  it('redacts a quoted value to its closing quote, past escaped quotes', () => {
    expect(redactString('{"password":"a\\"b","user":"ann"}')).toBe(`{"password":"${REDACTED}","user":"ann"}`);
    expect(redactString('{"password":"a\\\\","user":"ann"}')).toBe(`{"password":"${REDACTED}","user":"ann"}`);
    expect(redactString('{"body":"{\\"password\\":\\"a\\\\\\"b\\"}","n":1}')).toBe(
      `{"body":"{\\"password\\":\\"${REDACTED}\\"}","n":1}`,
    );
  });

  it("redacts a URL password holding '@' up to the last '@' before the host", () => {
    expect(redactString('connect postgres://app:p@ss@db:5432/app')).toBe(
      `connect postgres://app:${REDACTED}@db:5432/app`,
    );
    expect(scrubUrl('https://u:p@ss@h.example/x?y=1')).toBe(`https://u:${REDACTED}@h.example/x?y=1`);
    expect(redactString('redis://:pw@cache:6379 for ann@example.com')).toBe(
      `redis://:${REDACTED}@cache:6379 for ann@example.com`,
    );
  });

  it('redacts form parameters named with brackets (user[password], card[pin])', () => {
    expect(redactString('Parameters: user[password]=hunter2&user[name]=ann card[pin]=1234')).toBe(
      `Parameters: user[password]=${REDACTED}&user[name]=ann card[pin]=${REDACTED}`,
    );
    expect(scrubQuery('user[name]=ann&card[pin]=1234&items[0]=x&pay[card][cvv]=1')).toBe(
      `user[name]=ann&card[pin]=${REDACTED}&items[0]=x&pay[card][cvv]=${REDACTED}`,
    );
  });
});
