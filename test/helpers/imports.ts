// The repository's import graph, read from the source text (no type checker): every relative
// `import`/`export … from`/`import()` specifier and every `node:` builtin a .ts/.mjs file
// names. test/unit/import-rules.test.ts checks the layering rules on it; run this file to
// print the graph's circles: `node --import tsx test/helpers/imports.ts [ROOT]`.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, posix, resolve } from 'node:path';

export interface Edge {
  from: string;
  to: string;
  line: number;
  typeOnly: boolean;
}

const SKIP = new Set(['node_modules', '.git', 'dist', 'test-artifacts']);
const SPEC =
  /^\s*(import|export)\s+(type\s+)?(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/gm;

/** Repository-relative paths of the source files under `root` ('/'-separated). */
export function sourceFiles(root: string, dir = ''): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(root, dir)).sort()) {
    if (SKIP.has(name)) continue;
    const rel = dir ? `${dir}/${name}` : name;
    if (statSync(join(root, rel)).isDirectory()) out.push(...sourceFiles(root, rel));
    else if (/\.(ts|mts|mjs)$/.test(name) && !name.endsWith('.d.ts')) out.push(rel);
  }
  return out;
}

/** Every import of every source file: relative ones resolved to repository paths, builtins as `node:x`. */
export function importEdges(root: string): Edge[] {
  const edges: Edge[] = [];
  for (const file of sourceFiles(root)) {
    const text = readFileSync(join(root, file), 'utf8');
    for (const m of text.matchAll(SPEC)) {
      const spec = m[3] ?? m[4];
      const line = text.slice(0, m.index).split('\n').length;
      const typeOnly = m[2] !== undefined;
      if (spec.startsWith('.'))
        edges.push({
          from: file,
          to: posix.normalize(posix.join(posix.dirname(file), spec)),
          line,
          typeOnly,
        });
      else if (spec.startsWith('node:')) edges.push({ from: file, to: spec, line, typeOnly });
    }
  }
  return edges;
}

/** Strongly connected groups of more than one node (Tarjan), each sorted, largest first. */
export function circles(nodes: Iterable<string>, next: (n: string) => Iterable<string>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    on.add(v);
    for (const w of next(v)) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const group: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        group.push(w);
      } while (w !== v);
      if (group.length > 1) out.push(group.sort());
    }
  };
  for (const n of nodes) if (!idx.has(n)) visit(n);
  return out.sort((a, b) => b.length - a.length || (a[0] < b[0] ? -1 : 1));
}

/** Circles between files. */
export function fileCircles(edges: readonly Edge[]): string[][] {
  const adj = new Map<string, Set<string>>();
  for (const e of edges)
    if (!e.to.startsWith('node:')) {
      if (!adj.has(e.from)) adj.set(e.from, new Set());
      adj.get(e.from)!.add(e.to);
    }
  return circles(adj.keys(), (n) => adj.get(n) ?? []);
}

/** Circles between the folders `folderOf` maps files to (files it maps to undefined are left out). */
export function folderCircles(
  edges: readonly Edge[],
  folderOf: (file: string) => string | undefined,
): string[][] {
  const adj = new Map<string, Set<string>>();
  for (const e of edges) {
    const a = folderOf(e.from);
    const b = e.to.startsWith('node:') ? undefined : folderOf(e.to);
    if (!a || !b || a === b) continue;
    if (!adj.has(a)) adj.set(a, new Set());
    adj.get(a)!.add(b);
  }
  return circles(adj.keys(), (n) => adj.get(n) ?? []);
}

/** engine/src/<folder> of an engine source file (files directly in engine/src are their own). */
export function engineFolder(file: string): string | undefined {
  const m = /^engine\/src\/([^/]+)\//.exec(file);
  return m ? `engine/src/${m[1]}` : undefined;
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const root = resolve(process.argv[2] ?? join(import.meta.dirname, '..', '..'));
  const edges = importEdges(root);
  const files = sourceFiles(root);
  console.log(
    `${files.length} source files, ${edges.filter((e) => !e.to.startsWith('node:')).length} relative imports`,
  );
  for (const c of fileCircles(edges)) console.log(`file circle: ${c.join(' ⇄ ')}`);
  for (const c of folderCircles(edges, engineFolder)) console.log(`engine folder loop: ${c.join(' ⇄ ')}`);
  const top = (f: string) => f.split('/')[0];
  for (const c of folderCircles(edges, (f) =>
    ['targets', 'images', 'scripts', 'engine'].includes(top(f)) ? top(f) : undefined,
  )) {
    console.log(`top-level loop: ${c.join(' ⇄ ')}`);
  }
  for (const e of edges) {
    if (top(e.from) === 'targets' && (top(e.to) === 'images' || top(e.to) === 'scripts'))
      console.log(`upward arrow: ${e.from}:${e.line} → ${e.to}`);
  }
}
