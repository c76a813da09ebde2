// The status page in Debian's headless chromium (playwright-core, no downloaded browser): the
// values it shows equal the /status document it fetched, it makes no request outside the
// admin endpoint, and a screenshot is kept in test-artifacts/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createSocket } from 'node:dgram';
import dnsPacket from 'dns-packet';
import { chromium } from 'playwright-core';
import { needTool } from '../helpers/tools.ts';
import { freePort, ROOT, startEngine } from '../helpers/engine.ts';

async function queryOnce(port: number): Promise<void> {
  const sock = createSocket('udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no DNS answer')), 3000);
      sock.once('message', () => {
        clearTimeout(t);
        resolve();
      });
      sock.send(
        dnsPacket.encode({
          type: 'query',
          id: 7,
          flags: dnsPacket.RECURSION_DESIRED,
          questions: [{ type: 'A', name: 'printer.branch.lan' }],
        }),
        port,
        '127.0.0.1',
      );
    });
  } finally {
    sock.close();
  }
}

test('status page shows /status, stays on the admin origin, screenshot kept', async (t) => {
  if (!needTool(t, 'chromium')) return;
  // DNS on with a local record so the page also shows what a real component reports
  const dnsPort = await freePort();
  const eng = await startEngine({
    env: { EDGEWAN_TEST_FAIL: 'probe:start:0:1' },
    config: {
      supervisor: { backoffMs: { initial: 100, max: 200 } },
      dns: {
        enabled: true,
        listen: [`127.0.0.1:${dnsPort}`],
        upstreams: ['127.0.0.1:9'],
        records: [{ name: 'printer.branch.lan', type: 'A', value: '10.0.0.5' }],
      },
    },
  });
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
    ],
  });
  try {
    // some DNS traffic so the page has component figures that move, then let the probe
    // restart once and the history gather a few samples
    for (let i = 0; i < 3; i += 1) {
      await queryOnce(dnsPort);
      await new Promise((r) => setTimeout(r, 1500));
    }
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const origin = `http://127.0.0.1:${eng.port}`;
    const requests: string[] = [];
    page.on('request', (r) => {
      requests.push(r.url());
    });
    const statusResponse = page.waitForResponse((r) => r.url() === `${origin}/status`);
    await page.goto(`${origin}/`);
    const status = await (await statusResponse).json();
    await page.waitForFunction("document.querySelector('#comps tr') !== null");
    // a string, not a function: tsx's esbuild would inject its __name helper into a function
    const shown = (await page.evaluate(`(() => {
      const v = (k) => JSON.parse(document.querySelector('[data-k="' + k + '"]').getAttribute('data-v'));
      const comps = [...document.querySelectorAll('#comps tr')].map((tr) => ({
        name: tr.getAttribute('data-component'),
        state: tr.querySelector('[data-f="state"]').getAttribute('data-v'),
        restarts: Number(tr.querySelector('[data-f="restarts"]').getAttribute('data-v')),
        budgetBytes: Number(tr.querySelector('[data-f="budgetBytes"]').getAttribute('data-v')),
      }));
      const budgets = Object.fromEntries([...document.querySelectorAll('#budgets tr')].map((tr) => [tr.getAttribute('data-budget'), Number(tr.querySelector('[data-v]').getAttribute('data-v'))]));
      return {
        role: v('role'), version: v('version'), uptimeS: v('uptimeS'), ready: v('ready'),
        limit: v('memory.limitBytes'), rss: v('memory.rssBytes'), heapCap: v('memory.heapCapBytes'),
        uptimeText: document.querySelector('[data-k="uptimeS"]').textContent, comps, budgets,
        charts: document.querySelectorAll('#charts svg').length,
      };
    })()`)) as {
      role: string;
      version: string;
      uptimeS: number;
      ready: boolean;
      limit: number;
      rss: number;
      heapCap: number;
      uptimeText: string | null;
      comps: Array<{ name: string; state: string; restarts: number; budgetBytes: number }>;
      budgets: Record<string, number>;
      charts: number;
    };
    // the page rendered exactly the document it fetched (the first poll)
    assert.equal(shown.role, status.role);
    assert.equal(shown.version, status.version);
    assert.equal(shown.uptimeS, status.uptimeS);
    assert.equal(shown.ready, status.ready);
    assert.equal(shown.limit, status.memory.limitBytes);
    assert.equal(shown.rss, status.memory.rssBytes);
    assert.equal(shown.heapCap, status.memory.heapCapBytes);
    assert.deepEqual(shown.budgets, status.memory.budgets);
    assert.deepEqual(
      shown.comps,
      status.components.map((c: Record<string, unknown>) => ({
        name: c.name,
        state: c.state,
        restarts: c.restarts,
        budgetBytes: c.budgetBytes,
      })),
    );
    assert.ok(shown.comps.some((c) => c.name === 'probe' && c.restarts === 1));
    assert.match(shown.uptimeText ?? '', /\d+s$/);
    assert.ok(shown.charts >= 2, 'memory charts drawn');
    assert.ok(requests.length >= 2);
    for (const u of requests) assert.ok(u.startsWith(`${origin}/`), `external request: ${u}`);
    mkdirSync(join(ROOT, 'test-artifacts'), { recursive: true });
    await page.screenshot({ path: join(ROOT, 'test-artifacts/engine-status-page.png'), fullPage: true });
  } finally {
    await browser.close();
    assert.equal(await eng.stop(), 0);
  }
});
