// The engine as a real process: a failing component restarts (visible in /metrics) and then
// escalates to exit 70 while admin keeps serving; an uncaught exception in a component is
// contained; a port in use is a component failure; the heap cap reaches V8.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { startEngine, waitFor } from '../helpers/engine.ts';

const FAST = { supervisor: { maxRestarts: 5, periodS: 60, backoffMs: { initial: 300, max: 1000 } } };

function restartsOf(metrics: string, component: string): number {
  const m = new RegExp(`^edgewan_component_restarts_total\\{component="${component}"\\} (\\d+)$`, 'm').exec(
    metrics,
  );
  return m ? Number(m[1]) : -1;
}

test('a failing component restarts with backoff, shows in /metrics, then the engine exits 70', async () => {
  const eng = await startEngine({ config: FAST, env: { EDGEWAN_TEST_FAIL: 'probe:run:150' } });
  try {
    await waitFor(
      eng,
      async () => restartsOf((await eng.get('/metrics')).body, 'probe') >= 2,
      'two restarts in /metrics',
    );
    // the admin endpoint survives the component's crashes
    assert.equal((await eng.get('/healthz')).status, 200);
    const status = JSON.parse((await eng.get('/status')).body);
    const probe = status.components.find((c: { name: string }) => c.name === 'probe');
    assert.match(probe.lastError, /EDGEWAN_ERR_TEST_FAULT/);
    assert.equal(await eng.exited, 70);
    assert.match(eng.output(), /more than 5 restarts within 60 s/);
  } finally {
    await eng.stop();
  }
});

test('an uncaught exception inside a component restarts only that component', async () => {
  const eng = await startEngine({ config: FAST, env: { EDGEWAN_TEST_FAIL: 'probe:throw:100:1' } });
  try {
    await waitFor(
      eng,
      async () => {
        const s = JSON.parse((await eng.get('/status')).body);
        const p = s.components.find((c: { name: string }) => c.name === 'probe');
        return p.restarts === 1 && p.state === 'running';
      },
      'probe restarted once and running',
    );
    assert.equal((await eng.get('/readyz')).status, 200);
    assert.equal(await eng.stop(), 0);
  } finally {
    await eng.stop();
  }
});

test('a port in use is a component failure: retried, then exit 70 (not 78)', async () => {
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
  const port = (blocker.address() as { port: number }).port;
  const eng = await startEngine({
    config: { ...FAST, admin: { listen: `127.0.0.1:${port}` } },
    waitReady: false,
  });
  try {
    assert.equal(await eng.exited, 70);
    assert.match(eng.output(), /EADDRINUSE/);
    assert.equal((eng.output().match(/"msg":"component failed"/g) ?? []).length, 6);
  } finally {
    blocker.close();
    await eng.stop();
  }
});

test('the heap cap reaches V8 (re-exec with NODE_OPTIONS when none is set)', async () => {
  const eng = await startEngine({ env: { NODE_OPTIONS: '' } });
  try {
    const s = JSON.parse((await eng.get('/status')).body);
    assert.equal(s.memory.limitBytes, 128 * 2 ** 20);
    assert.equal(s.memory.heapCapBytes, 64 * 2 ** 20);
    // V8's own default would be ~4 GiB; with the flags it stays inside the 128 MiB limit
    assert.ok(s.memory.v8HeapLimitBytes < s.memory.limitBytes, `V8 heap limit ${s.memory.v8HeapLimitBytes}`);
    assert.match(eng.output(), /"nodeOptions":"--max-old-space-size=64 --max-semi-space-size=4"/);
  } finally {
    assert.equal(await eng.stop(), 0);
  }
});
