// Memory policy against fake cgroup trees (v2, v1, the v1/v2 hybrid of these machines, none),
// budgets and heap cap, the heap-flag test, and the live resize on a changed limit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  cgroupLimit,
  computeBudgets,
  hasHeapFlag,
  heapCapMiB,
  MIN_LIMIT,
  resolveLimit,
  shareBase,
  type Budgets,
  type CgroupRoots,
} from '../src/memory/policy.ts';
import { checkMemory } from '../src/memory/watch.ts';
import { createLogger } from '../src/log/logger.ts';

const MiB = 2 ** 20;
const GiB = 2 ** 30;

function fakeRoots(procCgroup: string, files: Record<string, string>, total = 8 * GiB): CgroupRoots {
  const root = mkdtempSync(join(tmpdir(), 'ewB-cg-'));
  mkdirSync(join(root, 'proc/self'), { recursive: true });
  writeFileSync(join(root, 'proc/self/cgroup'), procCgroup);
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(join(root, 'sys', rel, '..'), { recursive: true });
    writeFileSync(join(root, 'sys', rel), text);
  }
  return { proc: join(root, 'proc'), sys: join(root, 'sys'), totalmem: () => total };
}

test('cgroup v2: memory.max of the process cgroup, smallest on the way up', () => {
  const r = fakeRoots('0::/system.slice/edgewan.service\n', {
    'memory.max': 'max\n',
    'system.slice/memory.max': `${512 * MiB}\n`,
    'system.slice/edgewan.service/memory.max': `${128 * MiB}\n`,
  });
  assert.deepEqual(cgroupLimit(r), { bytes: 128 * MiB, source: 'cgroup-v2' });
  const parent = fakeRoots('0::/a/b\n', { 'a/memory.max': `${96 * MiB}\n`, 'a/b/memory.max': 'max\n' });
  assert.deepEqual(cgroupLimit(parent), { bytes: 96 * MiB, source: 'cgroup-v2' });
});

test('hybrid (v1 memory controller, v2 at unified/) and plain v1 read memory.limit_in_bytes', () => {
  const r = fakeRoots('5:memory:/docker/abc\n1:name=systemd:/\n0::/\n', {
    'unified/cgroup.controllers': '',
    'memory/memory.limit_in_bytes': '9223372036854771712\n',
    'memory/docker/abc/memory.limit_in_bytes': `${64 * MiB}\n`,
  });
  assert.deepEqual(cgroupLimit(r), { bytes: 64 * MiB, source: 'cgroup-v1' });
});

test('no limit: a quarter of physical memory; explicit limits win', () => {
  const r = fakeRoots('4:memory:/\n', { 'memory/memory.limit_in_bytes': '9223372036854771712\n' }, 4 * GiB);
  assert.equal(cgroupLimit(r), undefined);
  assert.deepEqual(resolveLimit('auto', r), { bytes: GiB, source: 'physical' });
  assert.deepEqual(resolveLimit(100 * MiB, r), { bytes: 100 * MiB, source: 'config' });
});

test('budgets and heap cap from the limit', () => {
  assert.equal(heapCapMiB(128 * MiB), 64);
  assert.equal(heapCapMiB(100 * MiB + 1), 50);
  // shares are of what the runtime leaves: 128 MiB - 48 MiB reserve = 80 MiB
  assert.equal(shareBase(128 * MiB), 80 * MiB);
  const { budgets } = computeBudgets(
    { bytes: 128 * MiB, source: 'config' },
    { chunkMemory: 0.25, dns: 0.0625, buffers: 4 * MiB },
  );
  assert.ok(budgets);
  assert.equal(budgets.chunkMemory, 20 * MiB);
  assert.equal(budgets.dns, 5 * MiB);
  assert.equal(budgets.buffers, 4 * MiB, 'a size stays a size');
  assert.equal(budgets.heapCapMiB, 64);
  // the default split at 96 MiB (bench:tunnel): 48 MiB to share
  const d = computeBudgets(
    { bytes: 96 * MiB, source: 'config' },
    { chunkMemory: 0.125, dns: 0.0625, buffers: 0.125 },
  ).budgets!;
  assert.deepEqual([d.chunkMemory, d.dns, d.buffers], [6 * MiB, 3 * MiB, 6 * MiB]);
  // small limits: never less than a quarter of the limit to share
  assert.equal(shareBase(MIN_LIMIT), MIN_LIMIT / 4);
  assert.equal(
    computeBudgets({ bytes: MIN_LIMIT, source: 'config' }, { chunkMemory: 0.5, dns: 0, buffers: 0.25 })
      .budgets!.chunkMemory,
    4 * MiB,
  );
});

test('budgets over 75% of what the runtime leaves are rejected, sizes included', () => {
  // 96 MiB leaves 48 MiB: 40 MiB of cache alone is more than 36 MiB (it was accepted as 42% of the whole limit)
  const over = computeBudgets(
    { bytes: 96 * MiB, source: 'config' },
    { chunkMemory: 40 * MiB, dns: 0, buffers: 0 },
  );
  assert.equal(over.budgets, undefined);
  assert.equal(over.problems[0].code, 'EDGEWAN_ERR_CONFIG_BUDGET');
  assert.match(
    over.problems[0].message,
    /more than 75% of the 48.0 MiB the runtime leaves of the 96.0 MiB limit/,
  );
  assert.match(String(over.problems[0].allowed), /at most 36.0 MiB/);
  assert.ok(
    computeBudgets({ bytes: 96 * MiB, source: 'config' }, { chunkMemory: 36 * MiB, dns: 0, buffers: 0 })
      .budgets,
  );
});

test('NODE_OPTIONS heap flag detection', () => {
  assert.equal(hasHeapFlag(undefined), false);
  assert.equal(hasHeapFlag('--enable-source-maps'), false);
  assert.equal(hasHeapFlag('--max-old-space-size=64'), true);
  assert.equal(hasHeapFlag('--trace-gc --max-old-space-size 96'), true);
});

test('a changed cgroup limit recomputes budgets and keeps the heap cap in force', () => {
  const roots = fakeRoots('0::/svc\n', { 'svc/memory.max': `${256 * MiB}\n` });
  const split = { chunkMemory: 0.25, dns: 0.0625, buffers: 0.125 };
  let cur: Budgets = computeBudgets({ bytes: 128 * MiB, source: 'cgroup-v2' }, split).budgets!;
  const applied: Budgets[] = [];
  const lines: string[] = [];
  const opts = {
    log: createLogger({
      write: (l) => {
        lines.push(l);
      },
    }),
    memory: () => ({ limit: 'auto' as const, split }),
    roots,
    current: () => cur,
    apply: (b: Budgets) => {
      applied.push(b);
      cur = b;
    },
  };
  const next = checkMemory(opts);
  assert.ok(next);
  assert.equal(next.limitBytes, 256 * MiB);
  assert.equal(next.chunkMemory, 52 * MiB, '0.25 x (256 - 48) MiB');
  assert.equal(next.heapCapMiB, 64, 'V8 cannot change its heap cap at run time');
  assert.equal(applied.length, 1);
  assert.equal(checkMemory(opts), undefined, 'unchanged limit: nothing to do');
  assert.ok(lines.some((l) => l.includes('only after a restart')));
});
