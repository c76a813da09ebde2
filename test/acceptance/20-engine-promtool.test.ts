// /metrics of a running engine (with a restarting component
// and DNS on, so component series exist) through Prometheus's own exposition parser and
// linter: `promtool check metrics`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { needTool } from '../helpers/tools.ts';
import { freePort, ROOT, startEngine, waitFor } from '../helpers/engine.ts';

test('promtool check metrics accepts /metrics', async (t) => {
  if (!needTool(t, 'promtool', 'prometheus')) return;
  const eng = await startEngine({
    // DNS on (a local record; the upstream is a closed port) so its metrics are checked too
    config: {
      supervisor: { backoffMs: { initial: 200, max: 400 }, maxRestarts: 50 },
      dns: {
        enabled: true,
        listen: [`127.0.0.1:${await freePort()}`],
        upstreams: ['127.0.0.1:9'],
        records: [{ name: 'printer.branch.lan', type: 'A', value: '10.0.0.5' }],
      },
    },
    env: { EDGEWAN_TEST_FAIL: 'probe:start:0:2' },
  });
  try {
    await waitFor(
      eng,
      async () =>
        /edgewan_component_restarts_total\{component="probe"\} 2/.test((await eng.get('/metrics')).body),
      'probe restarts in /metrics',
    );
    const { body } = await eng.get('/metrics');
    mkdirSync(join(ROOT, 'test-artifacts'), { recursive: true });
    writeFileSync(join(ROOT, 'test-artifacts/engine-metrics.txt'), body);
    const r = spawnSync('promtool', ['check', 'metrics'], { input: body, encoding: 'utf8' });
    assert.equal(r.status, 0, `promtool: ${r.stdout}${r.stderr}`);
    assert.equal(`${r.stdout}${r.stderr}`.trim(), '', 'no lint findings');
    for (const name of [
      'edgewan_process_resident_memory_bytes',
      'edgewan_memory_limit_bytes',
      'edgewan_memory_budget_bytes',
      'edgewan_component_state',
      'edgewan_ready',
    ]) {
      assert.match(body, new RegExp(`^# TYPE ${name} `, 'm'), name);
    }
  } finally {
    assert.equal(await eng.stop(), 0);
  }
});
