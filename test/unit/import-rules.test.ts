// The layering rules as a test, on the import graph read from the source (test/helpers/
// imports.ts): no import circles; the engine never imports builder code; a target never
// imports another target, only targets/formats/ and the shared targets/*.ts modules (and the
// engine↔package contract); codec/ and cache/ import no I/O module. Each failure names the
// offending import as file:line → what it imports.
//
// The engine still has circles in files other work is changing; they are listed below as
// known debt. The test also fails when a listed entry no longer exists, so the list can
// only shrink: delete the entry in the change that removes the circle.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { engineFolder, fileCircles, folderCircles, importEdges, type Edge } from '../helpers/imports.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const EDGES = importEdges(ROOT);
const at = (e: Edge) => `${e.from}:${e.line} → ${e.to}`;

/** File circles still in the engine (each a sorted group). */
const KNOWN_FILE_CIRCLES: readonly string[][] = [
  ['engine/src/tunnel/link.ts', 'engine/src/tunnel/stream.ts'],
];

/**
 * Engine folder imports that close folder loops (config ⇄ memory, config ⇄ tunnel, tunnel ⇄
 * proxy, …): without them the folders form no loop. config reaches up into the features whose
 * rules it checks; tunnel starts proxy listeners while proxy splices onto tunnel streams.
 */
const KNOWN_FOLDER_EDGES: readonly string[] = [
  'engine/src/config → engine/src/dns',
  'engine/src/config → engine/src/intercept',
  'engine/src/config → engine/src/memory',
  'engine/src/config → engine/src/tunnel',
  'engine/src/tunnel → engine/src/proxy',
];

/** I/O imports in the pure folders: the disk chunk store. */
const KNOWN_IO: readonly string[] = ['engine/src/cache/disk.ts → node:fs'];

const IO_MODULES = new Set([
  'node:fs',
  'node:fs/promises',
  'node:net',
  'node:dgram',
  'node:http',
  'node:https',
  'node:http2',
  'node:tls',
  'node:child_process',
  'node:dns',
  'node:dns/promises',
  'node:worker_threads',
  'node:cluster',
]);

const key = (group: readonly string[]) => group.join(' ⇄ ');

test('no import circles between files, apart from the known engine ones', () => {
  const found = fileCircles(EDGES).map(key);
  const known = KNOWN_FILE_CIRCLES.map(key);
  const fresh = found.filter((c) => !known.includes(c));
  assert.deepEqual(
    fresh,
    [],
    `new import circles:\n  ${fresh.join('\n  ')}\n${fresh.map((c) => circleEdges(c.split(' ⇄ '))).join('\n')}`,
  );
  const gone = known.filter((c) => !found.includes(c));
  assert.deepEqual(gone, [], 'known circles that no longer exist: delete them from KNOWN_FILE_CIRCLES');
});

test('engine folders form no loop once the known back edges are left out', () => {
  const folderEdge = (e: Edge) => {
    const a = engineFolder(e.from);
    const b = e.to.startsWith('node:') ? undefined : engineFolder(e.to);
    return a && b && a !== b ? `${a} → ${b}` : undefined;
  };
  const present = new Set(EDGES.map(folderEdge).filter((x): x is string => x !== undefined));
  const gone = KNOWN_FOLDER_EDGES.filter((k) => !present.has(k));
  assert.deepEqual(
    gone,
    [],
    'known folder back edges that no longer exist: delete them from KNOWN_FOLDER_EDGES',
  );
  const rest = EDGES.filter((e) => {
    const f = folderEdge(e);
    return !f || !KNOWN_FOLDER_EDGES.includes(f);
  });
  const loops = folderCircles(rest, engineFolder);
  const where = loops.map((group) =>
    EDGES.filter((e) => {
      const f = folderEdge(e);
      return f && group.includes(engineFolder(e.from)!) && group.includes(engineFolder(e.to)!);
    })
      .map(at)
      .join('\n    '),
  );
  assert.deepEqual(loops.map(key), [], `engine folder loops, through:\n    ${where.join('\n    ')}`);
});

test('the engine imports no builder or test code', () => {
  const bad = EDGES.filter(
    (e) => e.from.startsWith('engine/') && /^(targets|scripts|images|test|bin)\//.test(e.to),
  );
  assert.deepEqual(bad.map(at), []);
});

/** The target folder a file belongs to (targets/<name>/ but formats, images/<name>/), else undefined. */
function targetOf(file: string): string | undefined {
  const m = /^(targets\/(?!formats\/)[^/]+|images\/[^/]+)\//.exec(file);
  return m ? m[1] : undefined;
}

test('targets import no other target, no scripts/ and no engine source', () => {
  const bad: string[] = [];
  for (const e of EDGES) {
    if (!/^(targets|images)\//.test(e.from) || e.to.startsWith('node:')) continue;
    const mine = targetOf(e.from);
    const theirs = targetOf(e.to);
    if (theirs && theirs !== mine)
      bad.push(`${at(e)} (${mine ?? 'a shared module'} imports the ${theirs} target)`);
    if (/^(scripts|test|bin)\//.test(e.to)) bad.push(`${at(e)} (builder code below the composition root)`);
    if (e.to.startsWith('engine/') && e.to !== 'engine/contract.ts' && !e.to.startsWith('engine/schema/')) {
      bad.push(`${at(e)} (engine source: targets get the built engine; the contract is engine/contract.ts)`);
    }
  }
  assert.deepEqual(bad, []);
});

test('codec/ and cache/ import no I/O module, apart from the known disk store', () => {
  const io = EDGES.filter((e) => /^engine\/src\/(codec|cache)\//.test(e.from) && IO_MODULES.has(e.to)).map(
    (e) => `${e.from} → ${e.to}`,
  );
  const fresh = [...new Set(io)].filter((x) => !KNOWN_IO.includes(x));
  assert.deepEqual(fresh.map((x) => EDGES.filter((e) => `${e.from} → ${e.to}` === x).map(at)).flat(), []);
  const gone = KNOWN_IO.filter((k) => !io.includes(k));
  assert.deepEqual(gone, [], 'known I/O imports that no longer exist: delete them from KNOWN_IO');
});

/** The imports that make up a circle, for the failure message. */
function circleEdges(group: string[]): string {
  return EDGES.filter((e) => group.includes(e.from) && group.includes(e.to))
    .map((e) => `    ${at(e)}`)
    .join('\n');
}
