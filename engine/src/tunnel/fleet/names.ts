// Edge names in a fleet: one DNS label (RFC 1123 §2.1: letters, digits and hyphens, 1-63
// characters, no hyphen first or last), lower case only so that "Branch1" and "branch1" can
// never be two edges. The CA checks a name before it signs, the core again on every
// certificate it accepts, and the config checks forwards[].edge with the same function.

/** null when `name` is a usable edge name, else why not (one sentence). */
export function edgeNameProblem(name: unknown): string | null {
  if (typeof name !== 'string' || name.length === 0)
    return 'an edge name is one DNS label and cannot be empty';
  if (name.length > 63)
    return `"${name.slice(0, 20)}…" is ${name.length} characters long; a DNS label has at most 63`;
  if (/[A-Z]/.test(name))
    return `"${name}" has upper-case letters; edge names are lower case${edgeNameProblem(name.toLowerCase()) ? '' : ` (try "${name.toLowerCase()}")`}`;
  if (!/^[a-z0-9-]+$/.test(name))
    return `"${name}" may only hold a-z, 0-9 and "-" (one DNS label: no dots, spaces or other characters)`;
  if (name.startsWith('-') || name.endsWith('-'))
    return `"${name}" starts or ends with "-", which a DNS label may not`;
  return null;
}
