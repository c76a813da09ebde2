// The systemd-resolved hook of the Debian packages (targets/formats/apt/resolved.ts), run for real
// with /bin/sh against the engine's own `print-config` (from source), a real bound UDP port
// and a stand-in systemctl that records its calls. Paths under /run and /etc are redirected
// into a temp dir; everything else is the shipped script. The full set-up with a running
// systemd-resolved is test/acceptance/43-deb-resolved.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolvedHook } from '../../targets/formats/apt/resolved.ts';
import { renderUnit } from '../../targets/formats/apt/systemd.ts';
import { info, tempDir } from './deb-fixture.ts';

const ROOT = join(import.meta.dirname, '..', '..');

function setup() {
  const dir = tempDir();
  const pkg = info();
  const hook = resolvedHook(pkg);
  const stub = join(dir, 'stub');
  mkdirSync(stub);
  // the engine from source stands in for /usr/bin/acmewan
  writeFileSync(
    join(stub, 'acmewan'),
    `#!/bin/sh\ncd ${ROOT} && exec ${process.execPath} --import tsx engine/src/main.ts "$@"\n`,
    { mode: 0o755 },
  );
  writeFileSync(join(stub, 'systemctl'), `#!/bin/sh\necho "$*" >>${join(dir, 'systemctl.log')}\n`, {
    mode: 0o755,
  });
  const dropIn = join(dir, 'run/resolved.conf.d/acmewan-dns.conf');
  const admin = join(dir, 'etc/resolved.conf.d/acmewan-dns.conf');
  const config = join(dir, 'acmewan.json');
  const script = hook.script
    .replaceAll('/usr/bin/acmewan print-config', `${join(stub, 'acmewan')} print-config`)
    .replaceAll('/etc/acmewan/acmewan.json', config)
    .replace(`DROPIN=${hook.dropIn}`, `DROPIN=${dropIn}`)
    .replace(`ADMIN=${hook.adminDropIn}`, `ADMIN=${admin}`);
  assert.notEqual(script, hook.script);
  writeFileSync(join(dir, 'hook'), script, { mode: 0o755 });
  const run = (arg: string) => {
    // the unit's UMask=0027 is inherited; the hook must still write a world-readable drop-in
    const r = spawnSync('/bin/sh', ['-c', 'umask 077; exec /bin/sh "$0" "$1"', join(dir, 'hook'), arg], {
      encoding: 'utf8',
      env: { PATH: `${stub}:/usr/bin:/bin` },
      timeout: 60_000,
    });
    assert.equal(r.status, 0, `hook ${arg}: ${r.stderr}`);
    return r.stderr;
  };
  const calls = () =>
    existsSync(join(dir, 'systemctl.log'))
      ? readFileSync(join(dir, 'systemctl.log'), 'utf8').trim().split('\n')
      : [];
  const dropInText = () => (existsSync(dropIn) ? readFileSync(dropIn, 'utf8') : undefined);
  return { hook, run, calls, dropInText, config, admin, dir, dropIn };
}

test('resolved hook: a runtime drop-in only while DNS is enabled and bound; fail-open on stop; admin mask', async () => {
  const s = setup();
  const sock = createSocket('udp4');
  await new Promise<void>((res) => sock.bind(0, '127.0.0.1', res));
  const port = sock.address().port;
  try {
    writeFileSync(
      s.config,
      JSON.stringify({ role: 'edge', dns: { enabled: false, listen: [`127.0.0.1:${port}`] } }),
    );
    s.run('start');
    assert.equal(s.dropInText(), undefined, 'DNS off: no drop-in');
    assert.deepEqual(s.calls(), [], 'DNS off: resolved untouched');

    writeFileSync(
      s.config,
      JSON.stringify({ role: 'edge', dns: { enabled: true, listen: [`127.0.0.1:${port}`, '[::1]:5399'] } }),
    );
    s.run('start');
    assert.match(
      s.dropInText() ?? '',
      new RegExp(`^\\[Resolve\\]\\nDNS=127\\.0\\.0\\.1:${port}\\nDomains=~\\.\\n$`, 'm'),
    );
    assert.deepEqual(s.calls(), ['--no-block try-restart systemd-resolved.service']);
    assert.equal(statSync(s.dropIn).mode & 0o777, 0o644, 'resolved reads it as its own user: world-readable');
    s.run('start');
    assert.equal(s.calls().length, 1, 'unchanged drop-in: resolved not restarted again');

    s.run('stop');
    assert.equal(s.dropInText(), undefined, 'stop removes the drop-in (fail-open)');
    assert.equal(s.calls().length, 2);
    s.run('stop');
    assert.equal(s.calls().length, 2, 'nothing to remove: resolved not restarted');

    // a wildcard listen address is reached over loopback
    writeFileSync(
      s.config,
      JSON.stringify({ role: 'edge', dns: { enabled: true, listen: [`0.0.0.0:${port}`] } }),
    );
    s.run('start');
    assert.match(s.dropInText() ?? '', new RegExp(`^DNS=127\\.0\\.0\\.1:${port}$`, 'm'));

    // the admin masks it the systemd way: the hook steps back and removes its own drop-in
    mkdirSync(join(s.admin, '..'), { recursive: true });
    symlinkSync('/dev/null', s.admin);
    s.run('start');
    assert.equal(s.dropInText(), undefined, 'masked by /etc: no runtime drop-in');
    rmSync(s.admin);

    // an invalid config (the engine will exit 78) leaves resolved alone
    writeFileSync(s.config, '{"dns": {"enabled": true, "nonsense": 1}}');
    s.run('start');
    assert.equal(s.dropInText(), undefined);
  } finally {
    sock.close();
  }
});

test('unit runs the hook as root after start, reload and stop, never failing the unit', () => {
  const u = renderUnit(info()).split('\n');
  for (const l of [
    'ExecStartPost=-+/usr/lib/acmewan/resolved-dns start',
    'ExecReload=-+/usr/lib/acmewan/resolved-dns start',
    'ExecStopPost=-+/usr/lib/acmewan/resolved-dns stop',
  ]) {
    assert.ok(u.includes(l), `unit lacks ${l}`);
  }
  assert.equal(resolvedHook(info()).path, '/usr/lib/acmewan/resolved-dns');
});
