// Config errors: each problem names the file, the JSON pointer, the bad value and what is
// allowed. All problems are collected and reported at once; the CLI exits 78 on them and never
// prints a stack trace.
import type { EngineErrorCode } from '../errors.ts';
import { locateJsonError } from './json-locate.ts';

export interface ConfigProblem {
  /** EDGEWAN_ERR_CONFIG_<WHAT>, from the catalogue (engine/src/errors.ts) */
  code: EngineErrorCode;
  /** JSON pointer into the document ("" for the whole document). */
  pointer: string;
  message: string;
  /** The offending value, when there is one. */
  value?: unknown;
  /** What would be accepted. */
  allowed?: string;
  /** Environment variable the value came from, if any. */
  env?: string;
}

export class ConfigError extends Error {
  readonly code: EngineErrorCode;
  readonly file: string | null;
  readonly problems: readonly ConfigProblem[];

  constructor(file: string | null, problems: ConfigProblem[]) {
    const head = problems.length === 1 ? problems[0].code : 'EDGEWAN_ERR_CONFIG_INVALID';
    super(`${file ?? '(defaults)'}: ${problems.length} config problem(s)`);
    this.name = 'ConfigError';
    this.code = head;
    this.file = file;
    this.problems = problems;
  }

  /** Human-readable report, one problem per line, for stderr. */
  format(): string {
    const where = this.file ?? '(built-in defaults)';
    const lines = [
      `edgewan: invalid configuration in ${where} (${this.problems.length} problem${this.problems.length === 1 ? '' : 's'}):`,
    ];
    for (const p of this.problems) {
      let line = `  ${p.code} ${where}#${p.pointer || '/'}: ${p.message}`;
      if (p.value !== undefined) line += `; got ${renderValue(p.value)}`;
      if (p.env) line += ` (from ${p.env})`;
      if (p.allowed) line += `; allowed: ${p.allowed}`;
      lines.push(line);
    }
    lines.push(
      `fix the file (see "edgewan print-schema" or docs/config.md), then run "edgewan check-config ${this.file ?? 'FILE'}"`,
    );
    return `${lines.join('\n')}\n`;
  }
}

function renderValue(v: unknown): string {
  const s = JSON.stringify(v);
  if (s === undefined) return String(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/** Line and column (1-based) of a character offset, for malformed JSON. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let last = -1;
  for (let i = 0; i < offset && i < text.length; i += 1) {
    if (text.charCodeAt(i) === 10) {
      line += 1;
      last = i;
    }
  }
  return { line, column: offset - last };
}

/** A problem with line and column for a text JSON.parse rejected. */
export function jsonSyntaxProblem(text: string, err: Error): ConfigProblem {
  const found = locateJsonError(text);
  const pos = found ? lineColumn(text, found.offset) : undefined;
  return {
    code: 'EDGEWAN_ERR_CONFIG_JSON',
    pointer: '',
    message: pos
      ? `malformed JSON at line ${pos.line}, column ${pos.column}: ${found!.reason}`
      : `malformed JSON: ${err.message}`,
    allowed: 'a JSON object (no comments, no trailing commas)',
  };
}
