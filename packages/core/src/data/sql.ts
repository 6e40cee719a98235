/**
 * SQL text for spans: literal values replaced by `?`, and a low-cardinality summary (operation and
 * tables) for span names and metric labels. No maintained sanitizer applies here:
 * `@opentelemetry/sql-common` only adds sqlcommenter comments, instrumentation-pg puts the text on
 * spans as written, and instrumentation-mysql2 formats the bound values into it unless masking is on.
 *
 * This is a tokenizer, not a parser: it knows strings, quoted identifiers, comments, numbers and
 * PostgreSQL dollar quoting, which is all sanitising needs. The summary reads the table that follows
 * FROM, JOIN, INTO, UPDATE and TABLE; a statement it cannot read gets no table, never a wrong guess
 * from inside a string.
 */

/** SQL dialects with different quoting rules. */
export type SqlDialect = 'postgresql' | 'mysql';

/** What {@link summarizeSql} reads from a statement. */
export interface SqlSummary {
  /** The statement's first keyword, upper-cased (`SELECT`, `INSERT`, ...); for `WITH ...`, the main statement's. */
  operation?: string;
  /** Tables named after FROM, JOIN, INTO, UPDATE or TABLE, in order, without duplicates. */
  tables: string[];
  /** `db.query.summary`: the operation followed by the tables (`SELECT users orders`), at most 255 characters. */
  summary?: string;
}

type Token =
  | { kind: 'word'; text: string }
  | { kind: 'ident'; text: string }
  | { kind: 'literal' }
  | { kind: 'param'; text: string }
  | { kind: 'punct'; text: string }
  | { kind: 'space' };

const WORD_START = /[A-Za-z_\u0080-\uffff]/;
const WORD_PART = /[A-Za-z0-9_$\u0080-\uffff]/;
const DIGIT = /[0-9]/;
/** String-literal prefixes: E'..' (escape), B'..'/X'..' (bit, hex), N'..' (national), U&'..' is rare enough to skip. */
const LITERAL_PREFIXES = new Set(['e', 'b', 'x', 'n']);

function readQuoted(sql: string, start: number, quote: string, backslashEscapes: boolean): number {
  let i = start + 1;
  while (i < sql.length) {
    const c = sql[i];
    if (backslashEscapes && c === '\\') {
      i += 2;
      continue;
    }
    if (c === quote) {
      if (sql[i + 1] === quote) {
        i += 2; // doubled quote inside the literal
        continue;
      }
      return i + 1;
    }
    i++;
  }
  return sql.length; // unterminated: the rest is the literal
}

function tokenize(sql: string, dialect: SqlDialect): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < sql.length) {
    const c = sql[i] as string;
    const next = sql[i + 1];
    if (/\s/.test(c)) {
      while (i < sql.length && /\s/.test(sql[i] as string)) i++;
      tokens.push({ kind: 'space' });
    } else if (c === '-' && next === '-') {
      while (i < sql.length && sql[i] !== '\n') i++;
      tokens.push({ kind: 'space' });
    } else if (c === '#' && dialect === 'mysql') {
      while (i < sql.length && sql[i] !== '\n') i++;
      tokens.push({ kind: 'space' });
    } else if (c === '/' && next === '*') {
      const end = sql.indexOf('*/', i + 2);
      i = end === -1 ? sql.length : end + 2;
      tokens.push({ kind: 'space' });
    } else if (c === "'") {
      // MySQL honours backslash escapes by default; PostgreSQL only in E'..' strings (handled below)
      i = readQuoted(sql, i, "'", dialect === 'mysql');
      tokens.push({ kind: 'literal' });
    } else if (c === '"') {
      const end = readQuoted(sql, i, '"', dialect === 'mysql');
      // PostgreSQL (and standard SQL): a quoted identifier. MySQL's default mode: a string.
      if (dialect === 'mysql') tokens.push({ kind: 'literal' });
      else tokens.push({ kind: 'ident', text: sql.slice(i, end) });
      i = end;
    } else if (c === '`') {
      const end = readQuoted(sql, i, '`', false);
      tokens.push({ kind: 'ident', text: sql.slice(i, end) });
      i = end;
    } else if (c === '$' && next !== undefined && DIGIT.test(next)) {
      let j = i + 1;
      while (j < sql.length && DIGIT.test(sql[j] as string)) j++;
      tokens.push({ kind: 'param', text: sql.slice(i, j) });
      i = j;
    } else if (c === '$' && dialect === 'postgresql') {
      // dollar quoting: $$...$$ or $tag$...$tag$
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i));
      if (tag) {
        const end = sql.indexOf(tag[0], i + tag[0].length);
        i = end === -1 ? sql.length : end + tag[0].length;
        tokens.push({ kind: 'literal' });
      } else {
        tokens.push({ kind: 'punct', text: c });
        i++;
      }
    } else if (DIGIT.test(c) || (c === '.' && next !== undefined && DIGIT.test(next))) {
      if (c === '0' && (next === 'x' || next === 'X')) {
        i += 2;
        while (i < sql.length && /[0-9A-Fa-f]/.test(sql[i] as string)) i++;
      } else {
        while (i < sql.length && /[0-9.]/.test(sql[i] as string)) i++;
        if (sql[i] === 'e' || sql[i] === 'E') {
          const exp = /^[eE][+-]?[0-9]+/.exec(sql.slice(i));
          if (exp) i += exp[0].length;
        }
      }
      tokens.push({ kind: 'literal' });
    } else if (WORD_START.test(c)) {
      let j = i + 1;
      while (j < sql.length && WORD_PART.test(sql[j] as string)) j++;
      const word = sql.slice(i, j);
      if (sql[j] === "'" && LITERAL_PREFIXES.has(word.toLowerCase())) {
        // E'..' takes backslash escapes in PostgreSQL
        i = readQuoted(sql, j, "'", dialect === 'mysql' || word.toLowerCase() === 'e');
        tokens.push({ kind: 'literal' });
      } else {
        tokens.push({ kind: 'word', text: word });
        i = j;
      }
    } else {
      tokens.push({ kind: 'punct', text: c });
      i++;
    }
  }
  return tokens;
}

function render(tokens: readonly Token[]): string {
  let out = '';
  for (const t of tokens) {
    if (t.kind === 'space') out += ' ';
    else if (t.kind === 'literal') out += '?';
    else out += t.text;
  }
  return out.replace(/ {2,}/g, ' ').trim();
}

/**
 * The statement with every literal value (strings, numbers, hex and bit strings, dollar-quoted
 * bodies) replaced by `?`, comments removed and whitespace collapsed. Placeholders (`$1`, `?`),
 * identifiers, keywords, `NULL`, `TRUE` and `FALSE` are kept. Idempotent.
 * @param dialect `mysql` treats `"..."` as a string and honours backslash escapes; `postgresql`
 *   (default) treats `"..."` as an identifier and knows `$$` quoting
 */
export function sanitizeSql(sql: string, dialect: SqlDialect = 'postgresql'): string {
  return render(tokenize(sql, dialect));
}

/** Keywords after which a table name follows. */
const TABLE_INTRODUCERS = new Set(['FROM', 'JOIN', 'INTO', 'UPDATE', 'TABLE']);
/** Words that may sit between an introducer and the table, or that are never a table. */
const SKIP_AFTER_INTRODUCER = new Set(['IF', 'NOT', 'EXISTS', 'ONLY', 'LATERAL', 'IGNORE', 'LOW_PRIORITY', 'TEMP']);
const MAIN_STATEMENTS = new Set(['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'MERGE']);
/** Words that end a table reference (so an alias is never read as a second table). */
const CLAUSE_WORDS = new Set([
  'WHERE',
  'SET',
  'VALUES',
  'VALUE',
  'SELECT',
  'ON',
  'USING',
  'GROUP',
  'ORDER',
  'LIMIT',
  'OFFSET',
  'HAVING',
  'WINDOW',
  'RETURNING',
  'JOIN',
  'INNER',
  'LEFT',
  'RIGHT',
  'FULL',
  'CROSS',
  'NATURAL',
  'OUTER',
  'UNION',
  'EXCEPT',
  'INTERSECT',
  'FOR',
  'AS',
  'FROM',
  'DEFAULT',
  'ADD',
  'DROP',
  'ALTER',
  'RENAME',
  'OWNER',
  'PARTITION',
]);

function unquote(name: string): string {
  const first = name[0];
  if ((first === '"' || first === '`') && name.endsWith(first) && name.length >= 2) return name.slice(1, -1);
  return name;
}

type Significant = Exclude<Token, { kind: 'space' }>;

/** A (possibly schema-qualified) name starting at `i`; returns it and the index after it. */
function readName(tokens: readonly Significant[], i: number): { name: string; next: number } | undefined {
  const parts: string[] = [];
  let j = i;
  for (;;) {
    const t = tokens[j];
    if (!t || (t.kind !== 'word' && t.kind !== 'ident')) break;
    if (t.kind === 'word' && parts.length === 0 && CLAUSE_WORDS.has(t.text.toUpperCase())) break;
    parts.push(unquote(t.text));
    const dot = tokens[j + 1];
    if (dot?.kind === 'punct' && dot.text === '.') j += 2;
    else {
      j += 1;
      break;
    }
  }
  return parts.length > 0 ? { name: parts.join('.'), next: j } : undefined;
}

/**
 * The operation and tables of a statement, for `db.operation.name`, `db.collection.name` and
 * `db.query.summary`. Works on raw or sanitised text. Sub-queries in parentheses are read too.
 */
export function summarizeSql(sql: string, dialect: SqlDialect = 'postgresql'): SqlSummary {
  const tokens = tokenize(sql, dialect).filter((t): t is Significant => t.kind !== 'space');
  const firstWord = tokens.find((t) => t.kind === 'word');
  let operation = firstWord && /^[A-Za-z]{1,20}$/.test(firstWord.text) ? firstWord.text.toUpperCase() : undefined;
  const tables: string[] = [];
  // One entry per open parenthesis: true when it holds a statement (a sub-query or CTE body), false
  // for a function call or a list, where FROM is part of the syntax (`EXTRACT(YEAR FROM ts)`).
  const parens: boolean[] = [];
  let sawWithMain = false;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i] as Significant;
    if (t.kind === 'punct') {
      if (t.text === '(') {
        const inner = tokens[i + 1];
        parens.push(inner?.kind === 'word' && ['SELECT', 'WITH', 'VALUES'].includes(inner.text.toUpperCase()));
      } else if (t.text === ')') parens.pop();
      continue;
    }
    if (t.kind !== 'word') continue;
    const word = t.text.toUpperCase();
    // WITH cte AS (...) SELECT ...: the operation is the first main statement outside the CTE bodies
    if (operation === 'WITH' && !sawWithMain && parens.length === 0 && MAIN_STATEMENTS.has(word)) {
      operation = word;
      sawWithMain = true;
    }
    if (!TABLE_INTRODUCERS.has(word)) continue;
    if (parens.length > 0 && !parens[parens.length - 1]) continue;
    // DELETE/SELECT ... FROM a, b: a comma list of tables, each maybe with an alias
    let j = i + 1;
    while (tokens[j]?.kind === 'word' && SKIP_AFTER_INTRODUCER.has((tokens[j] as { text: string }).text.toUpperCase()))
      j++;
    for (;;) {
      const read = readName(tokens, j);
      if (!read) break;
      // DUAL is MySQL's and Oracle's no-table placeholder (`SELECT 1 FROM DUAL`)
      if (!tables.includes(read.name) && read.name.toUpperCase() !== 'DUAL') tables.push(read.name);
      j = read.next;
      if (word !== 'FROM') break;
      // skip an alias: `users u` or `users AS u`
      const maybeAs = tokens[j];
      if (maybeAs?.kind === 'word' && maybeAs.text.toUpperCase() === 'AS') j++;
      const alias = tokens[j];
      if ((alias?.kind === 'word' && !CLAUSE_WORDS.has(alias.text.toUpperCase())) || alias?.kind === 'ident') j++;
      const comma = tokens[j];
      if (comma?.kind === 'punct' && comma.text === ',') j++;
      else break;
    }
  }
  let summary: string | undefined;
  if (operation) {
    summary = [operation, ...tables].join(' ');
    if (summary.length > 255) summary = summary.slice(0, 255);
  }
  return { operation, tables, summary };
}
