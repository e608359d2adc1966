/**
 * Where a JSON text first goes wrong. Node 20's JSON.parse messages do not always carry a
 * position ("Unexpected token '}', ... is not valid JSON"), and a user repairing a damaged NVRAM
 * file needs line and column. This is a small RFC 8259 syntax scanner used only after
 * JSON.parse has already failed, so speed does not matter.
 */
export interface JsonSyntaxProblem {
  offset: number;
  line: number;
  column: number;
  /** True when the text simply ends too early (a truncated write). */
  truncated: boolean;
  message: string;
}

class Stop extends Error {
  constructor(
    readonly offset: number,
    readonly truncated: boolean,
    message: string,
  ) {
    super(message);
  }
}

export function findJsonSyntaxProblem(text: string): JsonSyntaxProblem | null {
  let i = 0;
  const n = text.length;
  const ws = (): void => {
    while (i < n && ' \t\r\n'.includes(text[i]!)) i++;
  };
  const fail = (msg: string): never => {
    if (i >= n) throw new Stop(n, true, 'unexpected end of file');
    throw new Stop(i, false, `${msg}, found ${JSON.stringify(text[i])}`);
  };
  const literal = (word: string): void => {
    for (const ch of word) {
      if (text[i] !== ch) fail(`expected '${word}'`);
      i++;
    }
  };
  const string = (): void => {
    i++; // opening quote
    for (;;) {
      if (i >= n) fail('unterminated string');
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return;
      }
      if (c < 0x20) fail('control character in string');
      if (c === 0x5c) {
        i++;
        if (i >= n) fail('unterminated escape');
        const e = text[i]!;
        if (e === 'u') {
          for (let k = 0; k < 4; k++) {
            i++;
            if (!/[0-9a-fA-F]/.test(text[i] ?? '')) fail('bad \\u escape');
          }
          i++;
          continue;
        }
        if (!'"\\/bfnrt'.includes(e)) fail('bad escape');
      }
      i++;
    }
  };
  const number = (): void => {
    const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(text.slice(i));
    if (!m || m[0].length === 0 || m[0] === '-') fail('bad number');
    i += m![0].length;
  };
  const value = (depth: number): void => {
    if (depth > 512) fail('nesting too deep');
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') return void i++;
      for (;;) {
        ws();
        if (text[i] !== '"') fail('expected a property name in double quotes');
        string();
        ws();
        if (text[i] !== ':') fail("expected ':'");
        i++;
        value(depth + 1);
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') return void i++;
        fail("expected ',' or '}'");
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') return void i++;
      for (;;) {
        value(depth + 1);
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') return void i++;
        fail("expected ',' or ']'");
      }
    }
    if (c === '"') return string();
    if (c === 't') return literal('true');
    if (c === 'f') return literal('false');
    if (c === 'n') return literal('null');
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return number();
    fail('expected a JSON value');
  };
  try {
    value(0);
    ws();
    if (i < n) fail('unexpected data after the end of the JSON value');
    return null;
  } catch (e) {
    if (!(e instanceof Stop)) throw e;
    const before = text.slice(0, e.offset);
    const line = before.split('\n').length;
    const column = e.offset - before.lastIndexOf('\n');
    return { offset: e.offset, line, column, truncated: e.truncated, message: e.message };
  }
}
