// Config loader: schema completeness, defaults, every kind of bad input reported at once with
// pointer/value/allowed, JSON line and column, env overrides, the semantic checks, freezing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, resolveDocument, ConfigError, CONFIG_SCHEMA } from '../src/config/index.ts';

const DEFAULT = join(process.cwd(), 'engine/schema/default-config.json');
const FIXED = { env: { EDGEWAN_MEMORY_LIMIT: '128MiB', EDGEWAN_STATE_DIR: tmpdir() } };
const DIR_ONLY = { env: { EDGEWAN_STATE_DIR: tmpdir() } };

function problemsOf(f: () => unknown): ConfigError {
  try { f(); } catch (e) { if (e instanceof ConfigError) return e; throw e; }
  assert.fail('expected a ConfigError');
}

function tempFile(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'ewB-cfg-'));
  const f = join(dir, 'edgewan.json');
  writeFileSync(f, text);
  return f;
}

test('every schema field has a default and a description; objects reject unknown keys', () => {
  const missing: string[] = [];
  const walk = (s: Record<string, any>, p: string, needDefault: boolean) => {
    if (p && needDefault && s.default === undefined) missing.push(`${p}: default`);
    if (p && typeof s.description !== 'string') missing.push(`${p}: description`);
    if (s.type === 'object' && s.additionalProperties !== false) missing.push(`${p}: additionalProperties`);
    // a required key has no default (ajv would fill it in and "required" could never fire)
    const req = (o: Record<string, any>) => new Set<string>(o.required ?? []);
    for (const [k, v] of Object.entries((s.properties ?? {}) as Record<string, any>)) walk(v, `${p}/${k}`, !req(s).has(k));
    if (s.items?.properties) for (const [k, v] of Object.entries(s.items.properties as Record<string, any>)) walk(v, `${p}/N/${k}`, !req(s.items).has(k));
  };
  walk(CONFIG_SCHEMA as Record<string, any>, '', false);
  assert.deepEqual(missing, []);
});

test('the shipped default config is an edge with no peer, DNS off, admin on 127.0.0.1:9617', () => {
  const r = loadConfig(DEFAULT, FIXED);
  assert.equal(r.config.role, 'edge');
  assert.equal(r.config.tunnel.connect, null);
  assert.equal(r.config.dns.enabled, false);
  assert.equal(r.config.admin.listen, '127.0.0.1:9617');
  assert.equal(r.budgets.heapCapMiB, 64);
  assert.ok(Object.isFrozen(r.config) && Object.isFrozen(r.config.supervisor.backoffMs));
  assert.throws(() => { (r.config as any).role = 'core'; });
});

test('all problems are reported at once with pointer, value and what is allowed', () => {
  const f = tempFile(JSON.stringify({ role: 'edgy', bogus: 1, admin: { listen: 5 }, memory: { limit: '12 parsecs' }, forwards: [{ listen: 'x' }] }));
  const e = problemsOf(() => loadConfig(f, DIR_ONLY));
  const byPointer = Object.fromEntries(e.problems.map((p) => [p.pointer, p]));
  assert.deepEqual(Object.keys(byPointer).sort(), ['/admin/listen', '/bogus', '/forwards/0/listen', '/forwards/0/target', '/memory/limit', '/role']);
  assert.equal(byPointer['/role'].value, 'edgy');
  assert.match(byPointer['/role'].allowed ?? '', /"edge", "core"/);
  assert.equal(byPointer['/bogus'].code, 'EDGEWAN_ERR_CONFIG_UNKNOWN_KEY');
  assert.match(byPointer['/bogus'].allowed ?? '', /role, stateDir, memory/);
  assert.equal(byPointer['/forwards/0/target'].code, 'EDGEWAN_ERR_CONFIG_MISSING');
  const text = e.format();
  assert.ok(text.includes(`${f}#/role`), text);
  assert.ok(!/\n\s+at /.test(text), 'no stack trace');
  rmSync(f);
});

test('malformed JSON names line and column', () => {
  for (const [text, line, column] of [['{\n  "role": "edge",\n}', 3, 1], ['{"a" 1}', 1, 6], ['[1,]', 1, 4], ['{\n "x": 1 // c\n}', 2, 9], ['', 1, 1]] as const) {
    const e = problemsOf(() => loadConfig(tempFile(text), FIXED));
    assert.equal(e.problems[0].code, 'EDGEWAN_ERR_CONFIG_JSON');
    assert.match(e.problems[0].message, new RegExp(`line ${line}, column ${column}:`), `${JSON.stringify(text)}: ${e.problems[0].message}`);
  }
});

test('a missing file is a config error naming it', () => {
  const e = problemsOf(() => loadConfig('/nonexistent/edgewan.json', FIXED));
  assert.equal(e.problems[0].code, 'EDGEWAN_ERR_CONFIG_READ');
  assert.match(e.format(), /ENOENT/);
});

test('environment overrides apply before validation and are named in errors', () => {
  const r = resolveDocument({ role: 'edge' }, null, { env: { ...FIXED.env, EDGEWAN_ROLE: 'core', EDGEWAN_LOG_LEVEL: 'debug', EDGEWAN_ADMIN_LISTEN: '127.0.0.1:1234', EDGEWAN_MEMORY_LIMIT: '268435456' } });
  assert.equal(r.config.role, 'core');
  assert.equal(r.config.log.level, 'debug');
  assert.equal(r.config.admin.listen, '127.0.0.1:1234');
  assert.equal(r.config.memory.limit, 268435456);
  assert.deepEqual([...r.envApplied].sort(), ['EDGEWAN_ADMIN_LISTEN', 'EDGEWAN_LOG_LEVEL', 'EDGEWAN_MEMORY_LIMIT', 'EDGEWAN_ROLE', 'EDGEWAN_STATE_DIR']);
  const e = problemsOf(() => resolveDocument({}, null, { env: { ...FIXED.env, EDGEWAN_LOG_LEVEL: 'loud' } }));
  assert.equal(e.problems[0].env, 'EDGEWAN_LOG_LEVEL');
});

test('admin beyond loopback needs a token', () => {
  const e = problemsOf(() => resolveDocument({ admin: { listen: '0.0.0.0:9617' } }, null, FIXED));
  assert.equal(e.problems[0].code, 'EDGEWAN_ERR_CONFIG_ADMIN_TOKEN');
  assert.equal(e.problems[0].pointer, '/admin/token');
  resolveDocument({ admin: { listen: '0.0.0.0:9617', token: 'a-long-enough-token' } }, null, FIXED);
  resolveDocument({ admin: { listen: '[::1]:9617' } }, null, FIXED);
});

test('an unwritable state dir is rejected', () => {
  const file = tempFile('{}');
  const e = problemsOf(() => resolveDocument({ stateDir: join(file, 'sub') }, null, { env: { EDGEWAN_MEMORY_LIMIT: '128MiB' } }));
  assert.equal(e.problems[0].code, 'EDGEWAN_ERR_CONFIG_STATE_DIR');
});

test('impossible budgets are rejected; sizes are turned into bytes', () => {
  const e = problemsOf(() => resolveDocument({ memory: { limit: '128MiB', split: { chunkMemory: '60MiB' } } }, null, DIR_ONLY));
  assert.ok(e.problems.some((p) => p.code === 'EDGEWAN_ERR_CONFIG_BUDGET' && /heap cap is 64 MiB/.test(p.message)), e.format());
  const over = problemsOf(() => resolveDocument({ memory: { limit: '128MiB', split: { chunkMemory: 0.5, buffers: 0.5 } } }, null, DIR_ONLY));
  assert.ok(over.problems.some((p) => p.code === 'EDGEWAN_ERR_CONFIG_BUDGET' && /more than 75%/.test(p.message)), over.format());
  const small = problemsOf(() => resolveDocument({ memory: { limit: '16MiB' } }, null, DIR_ONLY));
  assert.equal(small.problems[0].code, 'EDGEWAN_ERR_CONFIG_MEMORY_LIMIT');
  const r = resolveDocument({ memory: { limit: '256MiB', split: { chunkMemory: '64MiB' } }, caches: { chunkDisk: { maxSize: '1GiB' } } }, null, DIR_ONLY);
  assert.equal(r.budgets.chunkMemory, 64 * 2 ** 20);
  assert.equal(r.budgets.dns, 13 * 2 ** 20, '0.0625 of the 208 MiB the runtime leaves of 256 MiB');
  assert.equal(r.config.caches.chunkDisk.maxSize, 2 ** 30);
});
