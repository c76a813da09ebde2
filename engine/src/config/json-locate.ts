// Locates the first syntax error of a JSON text. JSON.parse's messages differ between Node
// 18, 20 and 22 and some carry no position at all ("Unexpected token ']'"), so the config
// loader re-scans a text JSON.parse rejected to report a stable line, column and reason.

export interface JsonSyntaxError {
  offset: number;
  reason: string;
}

export function locateJsonError(text: string): JsonSyntaxError | undefined {
  let i = 0;
  const fail = (reason: string): never => {
    throw { offset: i, reason } as JsonSyntaxError;
  };
  const ws = () => {
    while (i < text.length && ' \t\r\n'.includes(text[i])) i += 1;
  };
  const describe = () =>
    i >= text.length
      ? 'end of file'
      : text[i] === '/'
        ? '"/" (comments are not allowed in JSON)'
        : JSON.stringify(text[i]);
  const literal = (word: string) => {
    if (text.startsWith(word, i)) i += word.length;
    else fail(`unexpected ${describe()}`);
  };
  const string = () => {
    i += 1; // opening quote
    while (i < text.length) {
      const c = text[i];
      if (c === '"') {
        i += 1;
        return;
      }
      if (c === '\\') {
        const n = text[i + 1];
        if (n === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) {
            i += 1;
            fail('bad \\u escape');
          }
          i += 6;
        } else if (n !== undefined && '"\\/bfnrt'.includes(n)) i += 2;
        else {
          i += 1;
          fail('bad escape in string');
        }
      } else if (c.charCodeAt(0) < 0x20) fail('control character in string (escape it, e.g. \\n)');
      else i += 1;
    }
    fail('unterminated string');
  };
  const number = () => {
    const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(text.slice(i));
    if (!m) fail(`unexpected ${describe()}`);
    i += m![0].length;
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i += 1;
      ws();
      if (text[i] === '}') {
        i += 1;
        return;
      }
      for (;;) {
        ws();
        if (text[i] !== '"')
          fail(
            text[i] === '}'
              ? 'trailing comma before }'
              : `expected a double-quoted property name, found ${describe()}`,
          );
        string();
        ws();
        if (text[i] !== ':') fail(`expected ':' after property name, found ${describe()}`);
        i += 1;
        value();
        ws();
        if (text[i] === ',') {
          i += 1;
          continue;
        }
        if (text[i] === '}') {
          i += 1;
          return;
        }
        fail(`expected ',' or '}', found ${describe()}`);
      }
    }
    if (c === '[') {
      i += 1;
      ws();
      if (text[i] === ']') {
        i += 1;
        return;
      }
      for (;;) {
        ws();
        if (text[i] === ']') fail('trailing comma before ]');
        value();
        ws();
        if (text[i] === ',') {
          i += 1;
          continue;
        }
        if (text[i] === ']') {
          i += 1;
          return;
        }
        fail(`expected ',' or ']', found ${describe()}`);
      }
    }
    if (c === '"') return string();
    if (c === 't') return literal('true');
    if (c === 'f') return literal('false');
    if (c === 'n') return literal('null');
    if (c === '/') fail('comments are not allowed in JSON');
    return number();
  };
  try {
    if (text.charCodeAt(0) === 0xfeff) i = 1;
    value();
    ws();
    if (i < text.length) fail(`unexpected ${describe()} after the end of the document`);
    return undefined;
  } catch (e) {
    if (typeof e === 'object' && e !== null && 'offset' in e) return e as JsonSyntaxError;
    throw e;
  }
}
