// The engine's command line as a real process: check-config (0 / 78 with pointers, line and
// column, never a stack trace), print-config round trip, print-schema, usage errors, --version,
// healthcheck, and signals: SIGTERM drains and exits 0, SIGHUP reloads a good file and keeps
// the running config on a bad one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { engineCommand, freePort, httpGet, ROOT, startEngine, waitFor } from '../helpers/engine.ts';

const tmp = mkdtempSync(join(tmpdir(), 'ewB-cli-'));
const ENV = { ...process.env, EDGEWAN_STATE_DIR: join(tmp, 'state'), EDGEWAN_MEMORY_LIMIT: '128MiB' };

function cli(args: string[], env: NodeJS.ProcessEnv = ENV) {
  const [cmd, ...pre] = engineCommand();
  const r = spawnSync(cmd, [...pre, ...args], { cwd: ROOT, env, encoding: 'utf8', timeout: 30000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function file(name: string, text: string): string {
  const p = join(tmp, name);
  writeFileSync(p, text);
  return p;
}

const NO_STACK = /^\s+at .+\(.+:\d+:\d+\)$/m;

test('check-config accepts the shipped default and rejects bad files with exit 78', () => {
  const ok = cli(['check-config', join(ROOT, 'engine/schema/default-config.json')]);
  assert.equal(ok.code, 0, ok.err);
  assert.match(ok.out, /^ok: .*role edge/);
  const bad = cli([
    'check-config',
    file(
      'bad.json',
      JSON.stringify({
        role: 'hub',
        admin: { listen: '0.0.0.0:9617' },
        supervisor: { maxRestarts: -1 },
        extra: true,
      }),
    ),
  ]);
  assert.equal(bad.code, 78);
  for (const p of ['#/role', '#/supervisor/maxRestarts', '#/extra'])
    assert.ok(bad.err.includes(p), `${p} in:\n${bad.err}`);
  assert.match(bad.err, /got "hub"; allowed: "edge", "core"/);
  assert.doesNotMatch(bad.err, NO_STACK);
  const json = cli([
    'check-config',
    file('broken.json', '{\n  "role": "edge",\n  "log": { "level": "info", }\n}\n'),
  ]);
  assert.equal(json.code, 78);
  assert.match(json.err, /malformed JSON at line 3, column 29/);
  const token = cli([
    'check-config',
    file('open.json', JSON.stringify({ admin: { listen: '0.0.0.0:9617' } })),
  ]);
  assert.equal(token.code, 78);
  assert.match(token.err, /EDGEWAN_ERR_CONFIG_ADMIN_TOKEN/);
  const env = cli(['check-config', join(ROOT, 'engine/schema/default-config.json')], {
    ...ENV,
    EDGEWAN_LOG_LEVEL: 'chatty',
  });
  assert.equal(env.code, 78);
  assert.match(env.err, /from EDGEWAN_LOG_LEVEL/);
  const missing = cli(['check-config', join(tmp, 'nope.json')]);
  assert.equal(missing.code, 78);
  assert.doesNotMatch(missing.err, NO_STACK);
});

test('print-config output is a complete config that passes check-config; print-schema is JSON', () => {
  const p = cli(['print-config', join(ROOT, 'engine/schema/default-config.json')]);
  assert.equal(p.code, 0, p.err);
  const doc = JSON.parse(p.out);
  assert.equal(doc.supervisor.graceS, 5);
  assert.equal(cli(['check-config', file('printed.json', p.out)]).code, 0);
  const s = cli(['print-schema']);
  assert.equal(JSON.parse(s.out).additionalProperties, false);
});

test('usage errors exit 64; --version keeps the parsed shape', () => {
  assert.equal(cli(['frobnicate']).code, 64);
  assert.equal(cli(['run']).code, 64);
  assert.match(
    cli(['--version']).out,
    /^edgewan \S+ commit=\S+ runtime=node-v\d+\.\d+\.\d+ arch=x64 platform=linux\n$/,
  );
  assert.match(cli(['--help']).out, /check-config FILE/);
});

test('run with an invalid config exits 78 before starting anything', () => {
  const r = cli(['run', '--config', file('bad-run.json', '{"memory": {"limit": "8MiB"}}')], {
    ...ENV,
    EDGEWAN_MEMORY_LIMIT: '',
  });
  assert.equal(r.code, 78);
  assert.match(r.err, /EDGEWAN_ERR_CONFIG_MEMORY_LIMIT/);
});

test('SIGTERM drains and exits 0; healthcheck follows /readyz', async () => {
  const eng = await startEngine();
  const hc = cli(['healthcheck', '--config', eng.configPath]);
  assert.equal(hc.code, 0, hc.err);
  // a wildcard listen address is dialled on 127.0.0.1; readyz needs no token
  const wild = cli(['healthcheck'], {
    ...ENV,
    EDGEWAN_ADMIN_LISTEN: `0.0.0.0:${eng.port}`,
    EDGEWAN_ADMIN_TOKEN: 'a-token-of-16-chars',
  });
  assert.equal(wild.code, 0, wild.err);
  assert.equal(await eng.stop(), 0);
  assert.match(eng.output(), /"msg":"engine stopped","exitCode":0/);
  assert.equal(cli(['healthcheck', '--config', eng.configPath]).code, 1);
});

test('SIGHUP applies a good file and keeps the running config on a bad one', async () => {
  const eng = await startEngine();
  try {
    const newPort = await freePort();
    writeFileSync(
      eng.configPath,
      JSON.stringify({
        stateDir: join(eng.dir, 'state'),
        memory: { limit: '128MiB' },
        admin: { listen: `127.0.0.1:${newPort}` },
        log: { level: 'debug' },
      }),
    );
    eng.proc.kill('SIGHUP');
    await waitFor(
      eng,
      async () => (await httpGet(newPort, '/readyz')).status === 200,
      'admin on the reloaded port',
    );
    assert.match(eng.output(), /"msg":"config reloaded".*"restarted":\["admin"\]/);
    writeFileSync(eng.configPath, '{"admin": {"listen": "127.0.0.1:1"}, oops}');
    eng.proc.kill('SIGHUP');
    await waitFor(eng, async () => /reload rejected/.test(eng.output()), 'reload rejected');
    assert.match(eng.output(), /malformed JSON at line 1, column 38/);
    assert.equal((await httpGet(newPort, '/readyz')).status, 200, 'still serving the last good config');
  } finally {
    assert.equal(await eng.stop(), 0);
  }
});

test('the shipped default config reaches /readyz = 200 with container-style env overrides', async () => {
  const port = await freePort();
  const [cmd, ...pre] = engineCommand();
  const env: NodeJS.ProcessEnv = {
    ...ENV,
    EDGEWAN_ADMIN_LISTEN: `127.0.0.1:${port}`,
    EDGEWAN_LOG_LEVEL: 'debug',
  };
  delete env.EDGEWAN_MEMORY_LIMIT; // "auto", as images run it
  const proc = spawn(cmd, [...pre, 'run', '--config', join(ROOT, 'engine/schema/default-config.json')], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  proc.stderr!.on('data', (d) => {
    log += d;
  });
  const exited = new Promise<number | null>((r) => proc.on('exit', (c) => r(c)));
  try {
    const end = Date.now() + 30000;
    let ready = 0;
    while (Date.now() < end && ready !== 200) {
      ready = await httpGet(port, '/readyz').then(
        (r) => r.status,
        () => 0,
      );
      if (ready !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(ready, 200, log);
    const s = JSON.parse((await httpGet(port, '/status')).body);
    assert.equal(s.role, 'edge');
    const states = Object.fromEntries(
      s.components.map((c: { name: string; state: string }) => [c.name, c.state]),
    );
    assert.equal(states.admin, 'running');
    assert.equal(states.dns, 'unconfigured');
    assert.equal(states.tunnel, 'unconfigured');
    assert.match(log, /"env":\["EDGEWAN_STATE_DIR","EDGEWAN_ADMIN_LISTEN","EDGEWAN_LOG_LEVEL"\]/);
  } finally {
    proc.kill('SIGTERM');
    assert.equal(await exited, 0);
  }
});
