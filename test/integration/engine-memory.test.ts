// memory.limit "auto" end to end: the engine reads a (fake) cgroup v2 limit, derives the heap
// cap and budgets, and when the limit changes under it (like `docker update --memory`) resizes
// the DNS cache live — no restart — while the heap cap in force stays as started.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startEngine, waitFor } from '../helpers/engine.ts';

const MiB = 2 ** 20;

test('a changed cgroup limit resizes component budgets live', async () => {
  const cg = mkdtempSync(join(tmpdir(), 'ewB-cgroup-'));
  mkdirSync(join(cg, 'proc/self'), { recursive: true });
  mkdirSync(join(cg, 'sys/svc'), { recursive: true });
  writeFileSync(join(cg, 'proc/self/cgroup'), '0::/svc\n');
  writeFileSync(join(cg, 'sys/svc/memory.max'), `${128 * MiB}\n`);
  const eng = await startEngine({
    config: {
      memory: { limit: 'auto' },
      dns: {
        enabled: true,
        listen: [`127.0.0.1:${await freePort()}`],
        upstreams: ['127.0.0.1:9'],
        records: [{ name: 'a.branch.lan', type: 'A', value: '10.0.0.1' }],
      },
    },
    env: { EDGEWAN_TEST_CGROUP_ROOT: cg, EDGEWAN_TEST_MEMORY_INTERVAL_MS: '200', NODE_OPTIONS: '' },
  });
  const status = async () => JSON.parse((await eng.get('/status')).body);
  const dnsOf = (s: { components: Array<{ name: string }> }) =>
    s.components.find((c) => c.name === 'dns') as unknown as {
      state: string;
      restarts: number;
      budgetBytes: number;
      status: { cache?: { budgetBytes: number } };
    };
  try {
    let s = await status();
    assert.equal(s.memory.limitBytes, 128 * MiB);
    assert.equal(s.memory.limitSource, 'cgroup-v2');
    assert.equal(s.memory.heapCapBytes, 64 * MiB);
    await waitFor(eng, async () => dnsOf(await status()).state === 'running', 'dns running');
    assert.equal(dnsOf(await status()).status.cache?.budgetBytes, 5 * MiB); // 0.0625 x (128 - 48 MiB runtime reserve)

    writeFileSync(join(cg, 'sys/svc/memory.max'), `${256 * MiB}\n`);
    await waitFor(eng, async () => (await status()).memory.limitBytes === 256 * MiB, 'the new limit');
    s = await status();
    const dns = dnsOf(s);
    assert.equal(s.memory.budgets.dns, 13 * MiB); // 0.0625 x (256 - 48 MiB)
    assert.equal(dns.budgetBytes, 13 * MiB);
    assert.equal(dns.status.cache?.budgetBytes, 13 * MiB, 'the DNS cache itself was resized');
    assert.equal(dns.restarts, 0, 'resized without a restart');
    assert.equal(s.memory.heapCapBytes, 64 * MiB, 'the heap cap in force does not change at run time');
    assert.match(
      (await eng.get('/metrics')).body,
      /^edgewan_memory_limit_bytes\{source="cgroup-v2"\} 268435456$/m,
    );
    assert.match(eng.output(), /resizing caches/);
  } finally {
    assert.equal(await eng.stop(), 0);
  }
});
