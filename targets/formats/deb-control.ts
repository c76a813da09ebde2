// Debian control-file syntax (deb822): rendering the binary package's control file, the
// apt Packages and Release paragraphs, and parsing them back for our reader and tests.
// Spec: Debian Policy §5 (control files), deb822(5). Field order is the order given.

/** Ordered fields; undefined values are left out. */
export type ControlFields = ReadonlyArray<readonly [string, string | number | undefined]>;

export class ControlError extends Error {
  readonly code = 'EDGEWAN_ERR_FORMAT_CONTROL';
}

/**
 * Multi-line field value: the first line stays on the field line, later lines are indented
 * by one space and empty lines become " ." (Policy §5.6.13 for Description).
 */
function foldValue(name: string, value: string): string {
  const lines = value.replace(/\s+$/, '').split('\n');
  if (lines[0].trim() === '' && name === 'Description')
    throw new ControlError('Description needs a synopsis line');
  return lines
    .map((l, i) => {
      if (i === 0) return l.trimEnd();
      const t = l.trimEnd();
      return t === '' ? ' .' : ` ${t.replace(/^ /, '')}`;
    })
    .join('\n');
}

/** One paragraph, newline-terminated. */
export function renderControl(fields: ControlFields): string {
  const seen = new Set<string>();
  let out = '';
  for (const [name, raw] of fields) {
    if (raw === undefined) continue;
    if (!/^[!-9;-~][!-9;-~]*$/.test(name) || name.startsWith('#') || name.startsWith('-')) {
      throw new ControlError(`invalid control field name "${name}"`);
    }
    const key = name.toLowerCase();
    if (seen.has(key)) throw new ControlError(`duplicate control field "${name}"`);
    seen.add(key);
    const value = String(raw);
    if (value.trim() === '') throw new ControlError(`control field "${name}" is empty`);
    out += `${name}: ${foldValue(name, value)}\n`;
  }
  return out;
}

/** Parse paragraphs separated by blank lines; continuation lines are kept with "\n". */
export function parseControl(text: string): Array<Record<string, string>> {
  const paras: Array<Record<string, string>> = [];
  let cur: Record<string, string> | undefined;
  let last: string | undefined;
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    if (line.trim() === '') {
      cur = undefined;
      last = undefined;
      return;
    }
    if (line.startsWith('#')) return;
    if (/^[ \t]/.test(line)) {
      if (!cur || !last) throw new ControlError(`control line ${i + 1}: continuation line without a field`);
      cur[last] += `\n${line.slice(1)}`;
      return;
    }
    const m = /^([^:\s]+):[ \t]*(.*)$/.exec(line);
    if (!m)
      throw new ControlError(`control line ${i + 1}: expected "Field: value", got "${line.slice(0, 60)}"`);
    if (!cur) {
      cur = {};
      paras.push(cur);
    }
    cur[m[1]] = m[2];
    last = m[1];
  });
  return paras;
}

/** Package names: Policy §5.6.1. */
export function checkPackageName(name: string): void {
  if (!/^[a-z0-9][a-z0-9+.-]+$/.test(name)) {
    throw new ControlError(
      `package name "${name}" is not a valid Debian package name (lowercase letters, digits, + - .; at least 2 characters)`,
    );
  }
}

/** Debian versions: Policy §5.6.12, [epoch:]upstream[-revision]. */
export function checkDebVersion(version: string): void {
  const m = /^(?:(\d+):)?([0-9][A-Za-z0-9.+~:-]*?)(?:-([A-Za-z0-9+.~]+))?$/.exec(version);
  if (!m || (!m[1] && m[2].includes(':')) || (!m[3] && m[2].includes('-'))) {
    throw new ControlError(
      `version "${version}" is not a valid Debian version ([epoch:]upstream[-revision], upstream starting with a digit)`,
    );
  }
}

/** "Name <email>" as Policy §5.6.2 wants for Maintainer. */
export function checkMaintainer(m: string): void {
  if (!/^[^<>,\n]+ <[^<>@\s]+@[^<>\s]+>$/.test(m)) {
    throw new ControlError(`maintainer "${m}" must look like "Full Name <user@example.org>"`);
  }
}
