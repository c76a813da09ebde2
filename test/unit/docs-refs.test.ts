// Everything the repository cites must be in the repository (issue #18, "Docs in the repo"):
// no tracked file may point at the team's private notes or at paths outside the checkout, and
// every relative markdown link in docs/ and README.md must reach a tracked file (and, with a
// #fragment, a heading of it). Section citations of docs/platform-notes.md (§N) and
// docs/contract.md ("Section") must name a section that exists. Each failure lists file:line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');

/** Tracked files (repository-relative, '/'-separated), node_modules left out. */
function trackedFiles(): string[] {
  const r = spawnSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 << 20 });
  let files: string[];
  if (r.status === 0) {
    files = r.stdout.split('\0').filter(Boolean);
  } else {
    // not a git checkout (e.g. an unpacked tarball): every file but build and dependency trees
    files = [];
    const skip = new Set(['.git', 'node_modules', 'dist', 'test-artifacts']);
    const walk = (dir: string) => {
      for (const name of readdirSync(join(ROOT, dir))) {
        if (skip.has(name)) continue;
        const rel = dir ? `${dir}/${name}` : name;
        if (statSync(join(ROOT, rel)).isDirectory()) walk(rel);
        else files.push(rel);
      }
    };
    walk('');
  }
  return files.filter((f) => !f.split('/').includes('node_modules') && existsSync(join(ROOT, f)));
}

const FILES = trackedFiles();
const TRACKED = new Set(FILES);
const TRACKED_DIRS = new Set(
  FILES.flatMap((f) =>
    f
      .split('/')
      .slice(0, -1)
      .map((_, i, a) => a.slice(0, i + 1).join('/')),
  ),
);

function text(file: string): string | undefined {
  const buf = readFileSync(join(ROOT, file));
  if (buf.subarray(0, 8000).includes(0)) return undefined; // binary
  return buf.toString('utf8');
}

function lineOf(s: string, offset: number): number {
  let n = 1;
  for (let i = 0; i < offset; i++) if (s.charCodeAt(i) === 10) n++;
  return n;
}

// Built from pieces so this file does not cite what it forbids.
const FORBIDDEN: ReadonlyArray<{ re: RegExp; what: string }> = [
  {
    re: new RegExp(`${'INTER'}${'FACES'}\\.md`, 'g'),
    what: 'cites the team notes on interfaces (use docs/contract.md)',
  },
  {
    re: new RegExp(`\\b${'FAC'}${'TS'}(?:\\s*§|\\.md)`, 'g'),
    what: 'cites the team notes on facts (use docs/platform-notes.md §N)',
  },
  { re: new RegExp(`\\.\\./${'sha'}${'red'}\\b`, 'g'), what: 'points at a path outside the repository' },
  { re: new RegExp(`/${'wo'}${'rk'}/`, 'g'), what: 'points at a path outside the repository' },
];

test('no tracked file cites documents or paths outside the repository', () => {
  const bad: string[] = [];
  for (const f of FILES) {
    const s = text(f);
    if (s === undefined) continue;
    for (const { re, what } of FORBIDDEN) {
      for (const m of s.matchAll(re))
        bad.push(`${f}:${lineOf(s, m.index)}: ${what}: ${JSON.stringify(m[0])}`);
    }
  }
  bad.sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  assert.equal(
    bad.length,
    0,
    `${bad.length} reference(s) to documents outside the repository:\n  ${bad.join('\n  ')}\n`,
  );
});

/** The text with fenced code blocks and inline code blanked out (offsets and newlines kept). */
function withoutCode(md: string): string {
  const blank = (m: string) => m.replace(/[^\n]/g, ' ');
  return md
    .replace(/^( {0,3})(`{3,}|~{3,})[^\n]*\n[\s\S]*?(?:\n {0,3}\2[^\n]*(?=\n|$)|$)/gm, blank)
    .replace(/(`+)(?!`)[\s\S]*?[^`]\1(?!`)/g, blank);
}

/** GitHub's heading anchors of a markdown file. */
function anchors(md: string): Set<string> {
  const out = new Set<string>();
  const seen = new Map<string, number>();
  for (const m of withoutCode(md).matchAll(/^ {0,3}#{1,6}[ \t]+(.*?)[ \t#]*$/gm)) {
    const raw = md
      .slice(m.index, m.index + m[0].length)
      .replace(/^ {0,3}#{1,6}[ \t]+/, '')
      .replace(/[ \t#]*$/, '');
    const slug = raw
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\p{M} _-]/gu, '')
      .replace(/ /g, '-');
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    out.add(n ? `${slug}-${n}` : slug);
  }
  return out;
}

function headings(md: string): Set<string> {
  const out = new Set<string>();
  for (const m of withoutCode(md).matchAll(/^ {0,3}#{1,6}[ \t]+(.*?)[ \t#]*$/gm)) {
    const raw = md
      .slice(m.index, m.index + m[0].length)
      .replace(/^ {0,3}#{1,6}[ \t]+/, '')
      .replace(/[ \t#]*$/, '');
    out.add(raw.replace(/`/g, '').trim());
  }
  return out;
}

const MARKDOWN = FILES.filter((f) => f === 'README.md' || (f.startsWith('docs/') && f.endsWith('.md')));

test('relative markdown links in docs/ and README.md reach tracked files and headings', () => {
  const bad: string[] = [];
  for (const f of MARKDOWN) {
    const md = readFileSync(join(ROOT, f), 'utf8');
    const plain = withoutCode(md);
    const links = [
      ...plain.matchAll(/\]\(\s*<?([^()\s<>]+)>?(?:\s+(?:"[^"]*"|'[^']*'))?\s*\)/g),
      ...plain.matchAll(/^ {0,3}\[[^\]\n]+\]:[ \t]*<?(\S+?)>?(?:[ \t]+.*)?$/gm),
    ];
    for (const m of links) {
      const target = m[1];
      if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('/')) continue; // URLs, absolute
      const at = `${f}:${lineOf(md, m.index)}`;
      const [pathPart, fragment] = target.split('#', 2) as [string, string | undefined];
      const path = decodeURIComponent(pathPart.split('?')[0]);
      const resolved =
        path === '' ? f : posix.normalize(posix.join(posix.dirname(f), path)).replace(/\/$/, '');
      if (resolved === '..' || resolved.startsWith('../')) {
        bad.push(`${at}: link "${target}" leaves the repository`);
        continue;
      }
      if (!TRACKED.has(resolved) && !TRACKED_DIRS.has(resolved) && resolved !== '.') {
        bad.push(`${at}: link "${target}": ${resolved} is not a file in the repository`);
        continue;
      }
      if (fragment && resolved.endsWith('.md') && TRACKED.has(resolved)) {
        const have = anchors(readFileSync(join(ROOT, resolved), 'utf8'));
        if (!have.has(decodeURIComponent(fragment).toLowerCase()))
          bad.push(`${at}: link "${target}": ${resolved} has no heading #${fragment}`);
      }
    }
  }
  assert.equal(bad.length, 0, `${bad.length} broken relative link(s):\n  ${bad.join('\n  ')}\n`);
});

test('citations of docs/platform-notes.md §N and docs/contract.md "Section" name existing sections', () => {
  const notes = readFileSync(join(ROOT, 'docs/platform-notes.md'), 'utf8');
  const sections = new Set([...withoutCode(notes).matchAll(/^## (\d+)\. /gm)].map((m) => m[1]));
  const contract = headings(readFileSync(join(ROOT, 'docs/contract.md'), 'utf8'));
  const bad: string[] = [];
  const self = 'test/unit/docs-refs.test.ts'; // its own patterns and comments are not citations
  for (const f of FILES.filter((x) => x !== self)) {
    const s = text(f);
    if (s === undefined) continue;
    // `platform-notes.md §1, §3, §7` and `[platform-notes.md §2](…)`
    for (const m of s.matchAll(/platform-notes\.md((?:,?\s*(?:\/\/|\*|#)?\s*§\d+)+)/g)) {
      for (const n of m[1].matchAll(/§(\d+)/g)) {
        if (!sections.has(n[1]))
          bad.push(`${f}:${lineOf(s, m.index)}: docs/platform-notes.md has no §${n[1]}`);
      }
    }
    // `docs/contract.md, "Runtimes"`, `docs/contract.md "Memory\n// limit and heap cap"`
    for (const m of s.matchAll(
      /contract\.md\)?,? ?(?:\n\s*(?:\/\/|\*|#)?\s*)?(["'])([^"'\n]+(?:\n\s*(?:\/\/|\*|#)?\s*[^"'\n]+)*)\1/g,
    )) {
      const name = m[2].replace(/\n\s*(?:\/\/|\*|#)?\s*/g, ' ').trim();
      if (!contract.has(name))
        bad.push(`${f}:${lineOf(s, m.index)}: docs/contract.md has no section "${name}"`);
    }
  }
  assert.equal(
    bad.length,
    0,
    `${bad.length} citation(s) of sections that do not exist:\n  ${bad.join('\n  ')}\n`,
  );
});

// The checks above must see the files they guard.
test('the reference docs exist and are tracked', () => {
  for (const f of ['docs/contract.md', 'docs/platform-notes.md', 'docs/bench/dns.md']) {
    assert.ok(TRACKED.has(f) || existsSync(join(ROOT, f)), `${f} is missing`);
  }
});
