// What JSON.parse lets through but a config must not have: a key given twice in one object
// (JSON.parse keeps the last silently, so the first is a setting that never applies) and
// nesting deeper than any config needs (hundreds of thousands of levels overflow the stack of
// the recursive code after JSON.parse: "Maximum call stack size exceeded", exit 70). One pass
// without recursion, before JSON.parse, so it is safe on any input; a text it cannot follow
// (malformed) is left to JSON.parse and locateJsonError, which then never nest deeper than
// MAX_DEPTH either.
import { lineColumn, type ConfigProblem } from './errors.ts';
import { escapePointer } from './validate.ts';

/** Deepest nesting accepted; the schema's deepest field (/dns/records/N/value) is at 4. */
export const MAX_DEPTH = 32;

interface Frame {
  array: boolean;
  keys: Set<string>;
  key: string | null;
  index: number;
}

export function scanJson(text: string): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const stack: Frame[] = [];
  const pointer = () =>
    stack.map((f) => `/${f.array ? String(f.index) : escapePointer(f.key ?? '')}`).join('');
  const at = (offset: number) => {
    const p = lineColumn(text, offset);
    return `line ${p.line}, column ${p.column}`;
  };
  let expectKey = false;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '"') {
      const start = i;
      i += 1;
      while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
      if (i >= text.length) return problems; // unterminated: JSON.parse reports it
      i += 1;
      const top = stack[stack.length - 1];
      if (expectKey && top && !top.array) {
        let key: string;
        try {
          key = JSON.parse(text.slice(start, i)) as string;
        } catch {
          return problems;
        }
        top.key = key;
        if (top.keys.has(key)) {
          problems.push({
            code: 'EDGEWAN_ERR_CONFIG_DUPLICATE_KEY',
            pointer: pointer(),
            message: `key "${key}" appears more than once in the same object (again at ${at(start)}); only the last would apply`,
            allowed: 'each key once per object',
          });
        }
        top.keys.add(key);
        expectKey = false;
      }
      continue;
    }
    if (c === '{' || c === '[') {
      if (stack.length >= MAX_DEPTH) {
        problems.push({
          code: 'EDGEWAN_ERR_CONFIG_DEPTH',
          pointer: pointer(),
          message: `nested deeper than ${MAX_DEPTH} levels (at ${at(i)})`,
          allowed: `at most ${MAX_DEPTH} levels of objects and arrays (a config needs 4)`,
        });
        return problems;
      }
      stack.push({ array: c === '[', keys: new Set(), key: null, index: 0 });
      expectKey = c === '{';
    } else if (c === '}' || c === ']') {
      stack.pop();
      expectKey = false;
    } else if (c === ',') {
      const top = stack[stack.length - 1];
      if (top?.array) top.index += 1;
      expectKey = !!top && !top.array;
    }
    i += 1;
  }
  return problems;
}
