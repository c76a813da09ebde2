// Admin endpoint on port 0: health and readiness rules, token beyond loopback, Prometheus text
// shape, /status contents, and a status page that references nothing outside itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { get } from 'node:http';
import { createAdmin } from '../src/admin/server.ts';
import { renderMetrics } from '../src/admin/metrics.ts';
import { STATUS_PAGE } from '../src/admin/page.ts';
import { StatusSource } from '../src/admin/status.ts';
import type { ChildInfo } from '../src/supervisor/supervisor.ts';
import type { ComponentContext } from '../src/supervisor/component.ts';
import { createLogger } from '../src/log/logger.ts';
import type { Budgets } from '../src/memory/policy.ts';

const budgets: Budgets = {
  limitBytes: 128 << 20,
  limitSource: 'config',
  heapCapMiB: 64,
  chunkMemory: 32 << 20,
  dns: 8 << 20,
  buffers: 16 << 20,
};

function fetchText(
  port: number,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string; type: string }> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => {
        body += d;
      });
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body, type: String(res.headers['content-type']) }),
      );
    }).on('error', reject);
  });
}

function ctx(): ComponentContext {
  const ac = new AbortController();
  return {
    log: createLogger({ write: () => {} }),
    signal: ac.signal,
    budgetBytes: () => 0,
    budgets: () => budgets,
    degraded: () => {},
    healthy: () => {},
    unconfigured: () => {},
    fail: (e) => {
      throw e;
    },
  };
}

function setup(listen: string, token: string | null, state: { failed: boolean }) {
  const comps = (): ChildInfo[] => [
    {
      name: 'dns',
      state: state.failed ? 'failed' : 'running',
      reason: null,
      restarts: 2,
      lastError: null,
      sinceMs: Date.now(),
      budgetBytes: 8 << 20,
      status: { hitRatio: 0.5 },
      metrics: [{ name: 'dns_queries_total', help: 'Queries.', type: 'counter', value: 7 }],
    },
  ];
  const source = new StatusSource({
    role: () => 'edge',
    startedAt: Date.now() - 3000,
    budgets: () => budgets,
    components: comps,
    ready: () => !state.failed,
    restartsInPeriod: () => 2,
  });
  return createAdmin({ listen, token, source, ready: () => !state.failed });
}

test('healthz, readyz, metrics, status and the page on loopback', async () => {
  const state = { failed: false };
  const admin = setup('127.0.0.1:0', null, state);
  await admin.start(ctx());
  const port = admin.address()!.port;
  try {
    assert.equal((await fetchText(port, '/healthz')).status, 200);
    assert.equal((await fetchText(port, '/readyz')).status, 200);
    state.failed = true;
    assert.equal((await fetchText(port, '/readyz')).status, 503);
    assert.equal(
      (await fetchText(port, '/healthz')).status,
      200,
      'a failed component does not make the process unhealthy',
    );
    const m = await fetchText(port, '/metrics');
    assert.match(m.type, /^text\/plain; version=0\.0\.4/);
    assert.match(
      m.body,
      /^# HELP edgewan_component_restarts_total .+\n# TYPE edgewan_component_restarts_total counter\nedgewan_component_restarts_total\{component="dns"\} 2$/m,
    );
    assert.match(m.body, /^edgewan_dns_queries_total 7$/m);
    assert.match(m.body, /^edgewan_memory_budget_bytes\{budget="chunkMemory"\} 33554432$/m);
    assert.match(m.body, /^edgewan_component_state\{component="dns",state="failed"\} 1$/m);
    for (const line of m.body.trim().split('\n')) if (!line.startsWith('#')) assert.match(line, /^edgewan_/);
    const s = JSON.parse((await fetchText(port, '/status')).body);
    assert.equal(s.role, 'edge');
    assert.equal(s.ready, false);
    assert.equal(s.components[0].name, 'dns');
    assert.equal(s.memory.heapCapBytes, 64 << 20);
    assert.ok(s.uptimeS >= 3);
    const page = await fetchText(port, '/');
    assert.match(page.type, /^text\/html/);
    assert.equal((await fetchText(port, '/nope')).status, 404);
  } finally {
    await admin.stop(500);
  }
});

test('beyond loopback every path but /healthz and /readyz needs the bearer token', async () => {
  const admin = setup('0.0.0.0:0', 'sixteen-chars-token', { failed: false });
  await admin.start(ctx());
  const port = admin.address()!.port;
  try {
    assert.equal((await fetchText(port, '/healthz')).status, 200);
    assert.equal((await fetchText(port, '/readyz')).status, 200);
    for (const p of ['/metrics', '/status', '/']) {
      assert.equal((await fetchText(port, p)).status, 401, p);
      assert.equal((await fetchText(port, p, { authorization: 'Bearer wrong' })).status, 401, p);
      assert.equal(
        (await fetchText(port, p, { authorization: 'Bearer sixteen-chars-token' })).status,
        200,
        p,
      );
    }
  } finally {
    await admin.stop(500);
  }
});

test('the status page is self-contained', () => {
  assert.doesNotMatch(STATUS_PAGE, /(src|href)\s*=\s*["']?(https?:)?\/\//i);
  assert.doesNotMatch(STATUS_PAGE, /https?:\/\//);
  assert.doesNotMatch(STATUS_PAGE, /<link|@import/i);
});

test('summary series share one HELP/TYPE under their base name', () => {
  const text = renderMetrics([
    { name: 'rt_seconds_sum', help: 'RT.', type: 'summary', value: 1.5 },
    { name: 'rt_seconds_count', help: 'RT.', type: 'summary', value: 3 },
  ]);
  assert.equal(
    text,
    '# HELP edgewan_rt_seconds RT.\n# TYPE edgewan_rt_seconds summary\nedgewan_rt_seconds_sum 1.5\nedgewan_rt_seconds_count 3\n',
  );
});

test('metrics text: one HELP/TYPE per name, escaped labels, duplicates dropped', () => {
  const text = renderMetrics([
    { name: 'x_total', help: 'X.', type: 'counter', value: 1, labels: { a: 'q"\\\n' } },
    { name: 'x_total', help: 'X.', type: 'counter', value: 2, labels: { a: 'other' } },
    { name: 'x_total', help: 'X.', type: 'counter', value: 3, labels: { a: 'other' } },
    { name: 'bad name', help: 'no', type: 'gauge', value: 1 },
    { name: 'g', help: 'G.', type: 'gauge', value: NaN },
  ]);
  assert.equal(
    text,
    '# HELP edgewan_x_total X.\n# TYPE edgewan_x_total counter\nedgewan_x_total{a="q\\"\\\\\\n"} 1\nedgewan_x_total{a="other"} 2\n# HELP edgewan_g G.\n# TYPE edgewan_g gauge\nedgewan_g NaN\n',
  );
});

test(
  'a client pipelining requests without reading is not buffered for; connections are capped',
  { timeout: 30_000 },
  async () => {
    const { ADMIN_LIMITS } = await import('../src/admin/server.ts');
    const net = await import('node:net');
    const admin = setup('127.0.0.1:0', null, { failed: false });
    await admin.start(ctx());
    const port = admin.address()!.port;
    const socks: import('node:net').Socket[] = [];
    try {
      const c = net.connect(port, '127.0.0.1');
      socks.push(c);
      c.pause(); // never read
      c.on('error', () => {});
      c.write('GET /status HTTP/1.1\r\nhost: x\r\n\r\n'.repeat(20_000));
      let served = 0;
      for (let i = 0; i < 20; i++) {
        await new Promise((r) => setTimeout(r, 100));
        served = (admin.status!() as { requests: number }).requests;
      }
      // the responses that fit in the kernel's socket buffers, not 20,000 (measured ~2,000)
      assert.ok(
        served > 0 && served < 10_000,
        `${served} of 20,000 pipelined requests served to a client that reads nothing`,
      );
      // connection cap: the ones past maxConnections are closed at once by the server
      const extra = Array.from({ length: ADMIN_LIMITS.maxConnections + 5 }, () =>
        net.connect(port, '127.0.0.1'),
      );
      socks.push(...extra);
      const closed = await Promise.all(
        extra.map(
          (s) =>
            new Promise<boolean>((resolve) => {
              s.on('error', () => {});
              s.once('close', () => resolve(true));
              setTimeout(() => resolve(false), 2000);
            }),
        ),
      );
      assert.ok(
        closed.filter(Boolean).length >= 5,
        `${closed.filter(Boolean).length} connections past the cap of ${ADMIN_LIMITS.maxConnections} were closed`,
      );
    } finally {
      for (const s of socks) s.destroy();
      await admin.stop(500);
    }
  },
);
