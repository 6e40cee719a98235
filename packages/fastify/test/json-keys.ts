/**
 * Finds duplicate keys in a JSON text, which `JSON.parse` silently collapses (the last one wins): a
 * log line with two `request_id` keys parses fine and still confuses every log pipeline.
 */

/** The duplicate keys of every object in `text`, as dotted paths (`a.b` for `{"a":{"b":1,"b":2}}`). */
export function duplicateKeys(text: string): string[] {
  JSON.parse(text); // throws on anything that is not JSON, so the scanner below may trust the syntax
  let i = 0;
  const dups: string[] = [];
  const skipWs = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i] as string)) i++;
  };
  const readString = (): string => {
    const start = i;
    i++; // opening quote
    while (text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    i++; // closing quote
    return JSON.parse(text.slice(start, i)) as string;
  };
  const readValue = (path: string): void => {
    skipWs();
    const c = text[i];
    if (c === '{') {
      i++;
      const seen = new Set<string>();
      skipWs();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        skipWs();
        const key = readString();
        if (seen.has(key)) dups.push(`${path}${key}`);
        seen.add(key);
        skipWs();
        i++; // colon
        readValue(`${path}${key}.`);
        skipWs();
        if (text[i++] === '}') return;
      }
    }
    if (c === '[') {
      i++;
      skipWs();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (;;) {
        readValue(`${path}[].`);
        skipWs();
        if (text[i++] === ']') return;
      }
    }
    if (c === '"') {
      readString();
      return;
    }
    while (i < text.length && !',]} \t\n\r'.includes(text[i] as string)) i++;
  };
  readValue('');
  return dups;
}

/** The JSON lines of a process's stdout (lines starting with `{`). */
export function jsonLines(stdout: string): string[] {
  return stdout.split('\n').filter((line) => line.startsWith('{'));
}
