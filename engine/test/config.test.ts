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
  try {
    f();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
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
    for (const [k, v] of Object.entries((s.properties ?? {}) as Record<string, any>))
      walk(v, `${p}/${k}`, !req(s).has(k));
    if (s.items?.properties)
      for (const [k, v] of Object.entries(s.items.properties as Record<string, any>))
        walk(v, `${p}/N/${k}`, !req(s.items).has(k));
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
  assert.throws(() => {
    (r.config as any).role = 'core';
  });
});

test('all problems are reported at once with pointer, value and what is allowed', () => {
  const f = tempFile(
    JSON.stringify({
      role: 'edgy',
      bogus: 1,
      admin: { listen: 5 },
      memory: { limit: '12 parsecs' },
      forwards: [{ listen: 'x' }],
    }),
  );
  const e = problemsOf(() => loadConfig(f, DIR_ONLY));
  const byPointer = Object.fromEntries(e.problems.map((p) => [p.pointer, p]));
  assert.deepEqual(Object.keys(byPointer).sort(), [
    '/admin/listen',
    '/bogus',
    '/forwards/0/listen',
    '/forwards/0/target',
    '/memory/limit',
    '/role',
  ]);
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
  for (const [text, line, column] of [
    ['{\n  "role": "edge",\n}', 3, 1],
    ['{"a" 1}', 1, 6],
    ['[1,]', 1, 4],
    ['{\n "x": 1 // c\n}', 2, 9],
    ['', 1, 1],
  ] as const) {
    const e = problemsOf(() => loadConfig(tempFile(text), FIXED));
    assert.equal(e.problems[0].code, 'EDGEWAN_ERR_CONFIG_JSON');
    assert.match(
      e.problems[0].message,
      new RegExp(`line ${line}, column ${column}:`),
      `${JSON.stringify(text)}: ${e.problems[0].message}`,
    );
  }
});

test('a missing file is a config error naming it', () => {
  const e = problemsOf(() => loadConfig('/nonexistent/edgewan.json', FIXED));
  assert.equal(e.problems[0].code, 'EDGEWAN_ERR_CONFIG_READ');
  assert.match(e.format(), /ENOENT/);
});

test('environment overrides apply before validation and are named in errors', () => {
  const r = resolveDocument({ role: 'edge' }, null, {
    env: {
      ...FIXED.env,
      EDGEWAN_ROLE: 'core',
      EDGEWAN_LOG_LEVEL: 'debug',
      EDGEWAN_ADMIN_LISTEN: '127.0.0.1:1234',
      EDGEWAN_MEMORY_LIMIT: '268435456',
    },
    checkFiles: false,
  });
  assert.equal(r.config.role, 'core');
  assert.equal(r.config.log.level, 'debug');
  assert.equal(r.config.admin.listen, '127.0.0.1:1234');
  assert.equal(r.config.memory.limit, 268435456);
  assert.deepEqual([...r.envApplied].sort(), [
    'EDGEWAN_ADMIN_LISTEN',
    'EDGEWAN_LOG_LEVEL',
    'EDGEWAN_MEMORY_LIMIT',
    'EDGEWAN_ROLE',
    'EDGEWAN_STATE_DIR',
  ]);
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
  const e = problemsOf(() =>
    resolveDocument({ stateDir: join(file, 'sub') }, null, { env: { EDGEWAN_MEMORY_LIMIT: '128MiB' } }),
  );
  assert.equal(e.problems[0].code, 'EDGEWAN_ERR_CONFIG_STATE_DIR');
});

test('impossible budgets are rejected; sizes are turned into bytes', () => {
  const e = problemsOf(() =>
    resolveDocument({ memory: { limit: '128MiB', split: { chunkMemory: '60MiB' } } }, null, DIR_ONLY),
  );
  assert.ok(
    e.problems.some((p) => p.code === 'EDGEWAN_ERR_CONFIG_BUDGET' && /heap cap is 64 MiB/.test(p.message)),
    e.format(),
  );
  const over = problemsOf(() =>
    resolveDocument(
      { memory: { limit: '128MiB', split: { chunkMemory: 0.5, buffers: 0.5 } } },
      null,
      DIR_ONLY,
    ),
  );
  assert.ok(
    over.problems.some((p) => p.code === 'EDGEWAN_ERR_CONFIG_BUDGET' && /more than 75%/.test(p.message)),
    over.format(),
  );
  const small = problemsOf(() => resolveDocument({ memory: { limit: '16MiB' } }, null, DIR_ONLY));
  assert.equal(small.problems[0].code, 'EDGEWAN_ERR_CONFIG_MEMORY_LIMIT');
  const r = resolveDocument(
    {
      memory: { limit: '256MiB', split: { chunkMemory: '64MiB' } },
      caches: { chunkDisk: { maxSize: '1GiB' } },
    },
    null,
    DIR_ONLY,
  );
  assert.equal(r.budgets.chunkMemory, 64 * 2 ** 20);
  assert.equal(r.budgets.dns, 13 * 2 ** 20, '0.0625 of the 208 MiB the runtime leaves of 256 MiB');
  assert.equal(r.config.caches.chunkDisk.maxSize, 2 ** 30);
});

test('duplicate keys and deep nesting are config errors with a pointer, never a stack overflow', () => {
  const dup = problemsOf(() =>
    loadConfig(tempFile('{"dns": {"listen": [], "enabled": true, "enabled": false}}'), FIXED),
  );
  assert.equal(dup.problems[0].code, 'EDGEWAN_ERR_CONFIG_DUPLICATE_KEY');
  assert.equal(dup.problems[0].pointer, '/dns/enabled');
  // escaped spellings of the same key are the same key
  const esc = problemsOf(() => loadConfig(tempFile('{"role": "edge", "r\\u006fle": "core"}'), FIXED));
  assert.equal(esc.problems[0].pointer, '/role');
  // the same key in sibling objects is fine
  loadConfig(
    tempFile(
      '{"forwards": [{"listen": "127.0.0.1:1", "target": "a:1"}, {"listen": "127.0.0.1:2", "target": "a:1"}]}',
    ),
    FIXED,
  );
  for (const text of [
    `{"x": ${'['.repeat(300_000)}${']'.repeat(300_000)}}`,
    '['.repeat(300_000),
    `{"a": ${'{"a": '.repeat(100_000)}`,
  ]) {
    const e = problemsOf(() => loadConfig(tempFile(text), FIXED));
    assert.equal(e.problems[0].code, 'EDGEWAN_ERR_CONFIG_DEPTH', e.format());
    assert.match(e.problems[0].message, /nested deeper than 32 levels \(at line 1, column \d+\)/);
  }
  // 32 levels are fine as JSON (the schema then rejects the unknown key)
  const ok = problemsOf(() => loadConfig(tempFile(`{"x": ${'['.repeat(31)}${']'.repeat(31)}}`), FIXED));
  assert.equal(ok.problems[0].code, 'EDGEWAN_ERR_CONFIG_UNKNOWN_KEY');
});

test('memory.limit and sizes stay within what V8 and exact integers take', async () => {
  const { heapFlags } = await import('../src/memory/reexec.ts');
  for (const limit of ['99999999999999GiB', 1e30, 2 ** 41]) {
    const e = problemsOf(() => resolveDocument({ memory: { limit } }, null, DIR_ONLY));
    assert.equal(e.problems[0].pointer, '/memory/limit', e.format());
  }
  const r = resolveDocument({ memory: { limit: 2 ** 40 } }, null, DIR_ONLY);
  assert.equal(heapFlags(r.budgets.heapCapMiB), '--max-old-space-size=524288 --max-semi-space-size=16');
  const disk = problemsOf(() =>
    resolveDocument({ caches: { chunkDisk: { maxSize: '999999999999GiB' } } }, null, FIXED),
  );
  assert.equal(disk.problems[0].pointer, '/caches/chunkDisk/maxSize');
});

test('listen conflicts: same port and protocol with the same host or a covering wildcard', () => {
  const conflict = (a: string, b: string) => {
    try {
      resolveDocument({ socks: { listen: a }, forwards: [{ listen: b, target: 'x:1' }] }, null, FIXED);
      return false;
    } catch (e) {
      if (
        e instanceof ConfigError &&
        e.problems.some(
          (p) => p.code === 'EDGEWAN_ERR_CONFIG_LISTEN_CONFLICT' && p.pointer === '/forwards/0/listen',
        )
      )
        return true;
      throw e;
    }
  };
  assert.equal(conflict('127.0.0.1:1080', '127.0.0.1:1080'), true);
  assert.equal(conflict('0.0.0.0:1080', '127.0.0.1:1080'), true);
  assert.equal(conflict('[::]:1080', '127.0.0.1:1080'), true, 'a dual-stack wildcard covers IPv4 too');
  assert.equal(conflict('[::]:1080', '[::1]:1080'), true);
  assert.equal(conflict('0.0.0.0:1080', '[::1]:1080'), false);
  assert.equal(conflict('127.0.0.1:1080', '127.0.0.2:1080'), false);
  assert.equal(conflict('127.0.0.1:1080', '127.0.0.1:1081'), false);
  assert.equal(conflict('127.0.0.1:0', '127.0.0.1:0'), false, 'port 0: the kernel picks two ports');
  // DNS binds UDP too, but UDP alone never meets a TCP listener: only TCP overlaps count
  const dnsOnly = resolveDocument(
    {
      dns: { enabled: true, listen: ['127.0.0.1:5353'], upstreams: ['127.0.0.1:53'] },
      forwards: [{ listen: '127.0.0.1:5354', target: 'x:1' }],
    },
    null,
    FIXED,
  );
  assert.equal(dnsOnly.config.dns.listen[0], '127.0.0.1:5353');
  // a forward of the other direction is bound by the peer, not here
  resolveDocument(
    {
      socks: { listen: '127.0.0.1:1080' },
      forwards: [{ listen: '127.0.0.1:1080', target: 'x:1', direction: 'core-to-edge' }],
    },
    null,
    FIXED,
  );
});
