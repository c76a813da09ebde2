// Supervisor: restart with exponential backoff, degraded/unconfigured states, escalation past
// the intensity limit, uncaught faults attributed to the component's async context, resize and
// stop order. Small real delays (tens of ms), no timing assertions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Supervisor } from '../src/supervisor/supervisor.ts';
import type { Component, ComponentContext } from '../src/supervisor/component.ts';
import { createLogger } from '../src/log/logger.ts';
import type { Budgets } from '../src/memory/policy.ts';
import { parseFaultSpec, standIn, withFault } from '../src/supervisor/fault.ts';

const budgets: Budgets = {
  limitBytes: 128 << 20,
  limitSource: 'config',
  heapCapMiB: 64,
  chunkMemory: 32 << 20,
  dns: 8 << 20,
  buffers: 16 << 20,
};
const policy = { maxRestarts: 3, periodS: 60, backoffMs: { initial: 5, max: 20 }, graceS: 1 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

function make(escalations: string[], p = policy): Supervisor {
  return new Supervisor({
    log: createLogger({ write: () => {} }),
    policy: () => p,
    budgets: () => budgets,
    onEscalate: (r) => {
      escalations.push(r);
    },
  });
}

test('a failing start is retried until it succeeds; restarts are counted', async () => {
  let starts = 0;
  const c: Component = {
    name: 'flaky',
    async start() {
      starts += 1;
      if (starts < 3) throw new Error('port in use');
    },
    async stop() {},
  };
  const esc: string[] = [];
  const sup = make(esc);
  sup.add(c, { budget: ['chunkMemory', 'buffers'] });
  await until(() => sup.snapshot()[0].state === 'running', 'running');
  const info = sup.snapshot()[0];
  assert.equal(info.restarts, 2);
  assert.equal(info.budgetBytes, 48 << 20);
  assert.match(info.lastError ?? '', /port in use/);
  assert.deepEqual(esc, []);
  await sup.stopAll(100);
});

test('more than maxRestarts within the period escalates, and the component shows failed', async () => {
  const esc: string[] = [];
  const sup = make(esc);
  sup.add(standIn('ok'));
  sup.add(withFault(standIn('bad'), parseFaultSpec('bad:run:1')!));
  await until(() => esc.length === 1, 'escalation');
  assert.match(esc[0], /more than 3 restarts within 60 s \(last: bad/);
  const bad = sup.snapshot().find((c) => c.name === 'bad')!;
  assert.equal(bad.state, 'failed');
  assert.equal(bad.restarts, 3);
  assert.equal(sup.anyFailed(), true);
  assert.equal(sup.snapshot().find((c) => c.name === 'ok')!.state, 'running');
  await sup.stopAll(100);
});

test('degraded, healthy and unconfigured are reported without restarts', async () => {
  let ctx!: ComponentContext;
  const c: Component = {
    name: 'link',
    async start(x) {
      ctx = x;
      x.unconfigured('no peer');
    },
    async stop() {},
  };
  const sup = make([]);
  sup.add(c);
  await until(() => sup.snapshot()[0].state === 'unconfigured', 'unconfigured');
  assert.equal(sup.snapshot()[0].reason, 'no peer');
  ctx.degraded('upstream down');
  assert.equal(sup.snapshot()[0].state, 'degraded');
  ctx.healthy();
  assert.equal(sup.snapshot()[0].state, 'running');
  assert.equal(sup.anyFailed(), false);
  await sup.stopAll(100);
});

test('an uncaught error inside a component is attributed to it and restarts only it', async () => {
  const sup = make([]);
  let starts = 0;
  let thrown: Error | undefined;
  const c: Component = {
    name: 'crashy',
    async start() {
      starts += 1;
      if (starts === 1)
        setTimeout(() => {
          try {
            throw new Error('boom');
          } catch (e) {
            thrown = e as Error;
            assert.equal(sup.faultInContext(thrown), true);
          }
        }, 1);
    },
    async stop() {},
  };
  sup.add(c);
  await until(() => starts === 2 && sup.snapshot()[0].state === 'running', 'restart after the fault');
  assert.equal(sup.snapshot()[0].restarts, 1);
  assert.equal(
    sup.faultInContext(new Error('outside')),
    false,
    'no component owns code outside their contexts',
  );
  await sup.stopAll(100);
});

test('resize reaches components; stopAll stops the last added first', async () => {
  const order: string[] = [];
  const sizes: number[] = [];
  const mk = (name: string): Component => ({
    name,
    async start() {},
    async stop() {
      order.push(name);
    },
    resize: (b) => {
      sizes.push(b);
    },
  });
  const sup = make([]);
  sup.add(mk('admin'));
  sup.add(mk('dns'), { budget: ['dns'] });
  await until(() => sup.snapshot().every((c) => c.state === 'running'), 'running');
  sup.resize();
  assert.deepEqual(sizes, [0, 8 << 20]);
  await sup.stopAll(100);
  assert.deepEqual(order, ['dns', 'admin']);
});
