// The UCI → engine JSON translator (targets/formats/openwrt/files/uci2json.sh) run by the system
// shell against the procd/UCI stand-ins: the default UCI file translates into JSON the engine
// schema accepts; every bad value is refused with its UCI option name; nothing half-done.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Ajv from 'ajv';
import { openwrtPayload } from '../../targets/formats/openwrt/files.ts';
import { standInInputs } from './openwrt-fixture.ts';
import { heapFlags as engineHeapFlags } from '../../engine/src/memory/reexec.ts';
import { heapCapMiB } from '../../engine/src/memory/policy.ts';
import { loadConfig } from '../../engine/src/config/load.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const STUBS = join(ROOT, 'test/acceptance/5x-openwrt-stubs');
const inputs = standInInputs();
const payload = openwrtPayload(inputs, 'node');
const file = (p: string) => payload.files.find((f) => f.path === p && f.type === 'file') as { data: Buffer };
const DEFAULT_UCI = file('etc/config/edgewan').data.toString();
const schema = JSON.parse(readFileSync(join(ROOT, 'engine/schema/config.schema.json'), 'utf8'));
const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);

interface Result {
  status: number | null;
  json?: Record<string, any>;
  stderr: string;
  vars: Record<string, string>;
}

function translate(uci: string, shell = 'sh'): Result {
  const dir = mkdtempSync(join(tmpdir(), 'ewF-uci-'));
  try {
    writeFileSync(join(dir, 'edgewan'), uci);
    writeFileSync(join(dir, 'uci2json.sh'), file('usr/share/edgewan/uci2json.sh').data);
    const script = `. ${STUBS}/functions.sh; logger() { for m; do :; done; echo "$m" >&2; }
      . ${dir}/uci2json.sh
      if uci2json_load edgewan; then uci2json_write -; rc=0; else rc=1; fi
      echo "VARS $UCI_ENABLED $UCI_STATE_DIR $UCI_MEMORY_MAX_BYTES $UCI_GRACE_S $UCI_PRIV_PORT" >&2; exit $rc`;
    const r = spawnSync(
      shell === 'busybox' ? 'busybox' : shell,
      [...(shell === 'busybox' ? ['sh'] : []), '-c', script],
      { encoding: 'utf8', env: { PATH: process.env.PATH, UCI_CONFIG_DIR: dir } },
    );
    // a missing shell is a missing tool, not a translator failure (npm test installs busybox-static)
    if (r.error) throw new Error(`cannot run ${shell}: ${r.error.message} (apt-get install busybox-static)`);
    const v = /VARS (\S*) (\S*) (\S*) (\S*) (\S*)/.exec(r.stderr) ?? [];
    return {
      status: r.status,
      stderr: r.stderr,
      json: r.status === 0 ? JSON.parse(r.stdout) : undefined,
      vars: { enabled: v[1], stateDir: v[2], memoryMaxBytes: v[3], graceS: v[4], privPort: v[5] },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const withOpts = (extra: string) =>
  DEFAULT_UCI.replace("config edgewan 'main'\n", `config edgewan 'main'\n${extra}`);
const setOpt = (name: string, value: string) =>
  DEFAULT_UCI.replace(new RegExp(`option ${name} '[^']*'`), `option ${name} '${value}'`);

test('the shipped UCI file translates into JSON the engine schema accepts', () => {
  const r = translate(DEFAULT_UCI);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(validate(r.json), JSON.stringify(validate.errors));
  assert.equal(r.json!.role, 'edge');
  assert.equal(r.json!.stateDir, '/tmp/edgewan');
  assert.deepEqual(r.json!.admin, { listen: '127.0.0.1:9617', token: null });
  assert.equal(r.json!.dns.enabled, false);
  assert.equal(r.json!.tunnel, undefined);
  assert.deepEqual(r.vars, {
    enabled: '1',
    stateDir: '/tmp/edgewan',
    memoryMaxBytes: String(128 * 1048576),
    graceS: '5',
    privPort: '0',
  });
});

test('options, lists and forward sections map to the engine config', () => {
  let uci = setOpt('tunnel_connect', 'core.example.net:9618');
  uci = uci
    .replace("option psk ''", "option psk 's3\"cr\\et'")
    .replace("option dns '0'", "option dns '1'")
    .replace(
      "list dns_listen '127.0.0.1:5353'",
      "list dns_listen '0.0.0.0:53'\n\tlist dns_upstream '9.9.9.9:53'",
    )
    .replace("option memory_max '128MiB'", "option memory_max '256MiB'")
    .replace("option grace_s '5'", "option grace_s '10'");
  uci += "\nconfig forward 'web'\n\toption listen '127.0.0.1:8080'\n\toption target '10.0.0.10:80'\n";
  const r = translate(uci);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(validate(r.json), JSON.stringify(validate.errors));
  assert.deepEqual(r.json!.tunnel, { connect: 'core.example.net:9618', auth: { psk: 's3"cr\\et' } });
  assert.deepEqual(r.json!.dns, { enabled: true, listen: ['0.0.0.0:53'], upstreams: ['9.9.9.9:53'] });
  assert.deepEqual(r.json!.forwards, [
    { listen: '127.0.0.1:8080', target: '10.0.0.10:80', direction: 'edge-to-core' },
  ]);
  assert.equal(r.json!.supervisor.graceS, 10);
  assert.equal(r.vars.memoryMaxBytes, String(256 * 1048576));
  assert.equal(r.vars.privPort, '1', 'port 53 needs the bind capability');
});

const BAD: [string, string, RegExp][] = [
  ['role', setOpt('role', 'hub'), /edgewan\.main\.role='hub': use one of: edge core/],
  ['log_level', setOpt('log_level', 'loud'), /edgewan\.main\.log_level='loud'/],
  [
    'admin_listen',
    setOpt('admin_listen', '127.0.0.1'),
    /edgewan\.main\.admin_listen='127\.0\.0\.1': use HOST:PORT/,
  ],
  [
    'admin_listen port',
    setOpt('admin_listen', '127.0.0.1:70000'),
    /admin_listen='127\.0\.0\.1:70000': the port must be 1-65535/,
  ],
  ['memory_max', setOpt('memory_max', '12 potatoes'), /edgewan\.main\.memory_max='12 potatoes'/],
  ['memory_max small', setOpt('memory_max', '16MiB'), /memory_max='16MiB': at least 32MiB/],
  ['grace_s', setOpt('grace_s', 'soon'), /edgewan\.main\.grace_s='soon'/],
  [
    'state_dir',
    setOpt('state_dir', 'relative/dir'),
    /edgewan\.main\.state_dir='relative\/dir': use an absolute path/,
  ],
  ['enabled', setOpt('enabled', 'maybe'), /edgewan\.main\.enabled='maybe': use 1 or 0/],
  ['unknown option', withOpts("\toption rol 'core'\n"), /edgewan\.main\.rol='core': unknown option/],
  ['unknown section', `${DEFAULT_UCI}\nconfig tunnel 'x'\n`, /unknown section type 'tunnel'/],
  [
    'forward',
    `${DEFAULT_UCI}\nconfig forward 'f'\n\toption listen '127.0.0.1:1'\n\toption target 'nowhere'\n`,
    /edgewan\.f\.target='nowhere'/,
  ],
  [
    'dns list',
    DEFAULT_UCI.replace("list dns_listen '127.0.0.1:5353'", "list dns_listen 'localhost'"),
    /edgewan\.main\.dns_listen='localhost'/,
  ],
];

for (const [what, uci, message] of BAD) {
  test(`a bad ${what} is refused with its option name`, () => {
    const r = translate(uci);
    assert.equal(r.status, 1, `expected refusal, got JSON ${JSON.stringify(r.json)}`);
    assert.match(r.stderr, message);
  });
}

test('enabled 0 translates but tells the init script not to start', () => {
  const r = translate(setOpt('enabled', '0'));
  assert.equal(r.status, 0);
  assert.equal(r.vars.enabled, '0');
});

test('procd heap flags (init.sh, sh arithmetic) equal the engine re-exec flags for any memory limit', () => {
  const init = readFileSync(join(ROOT, 'targets/formats/openwrt/files/init.sh'), 'utf8');
  // the init script's own lines, from `heap=` to the last clamp, run by the real sh
  const start = init.indexOf('\theap=$((UCI_MEMORY_MAX_BYTES');
  const end = init.indexOf('\tprocd_open_instance', start);
  assert.ok(start > 0 && end > start, 'init.sh no longer computes heap/semi the way this test expects');
  const lines = init.slice(start, end);
  for (const mib of [32, 48, 64, 96, 127, 128, 130, 200, 256, 512, 1024, 4096]) {
    const r = spawnSync(
      'sh',
      [
        '-c',
        `UCI_MEMORY_MAX_BYTES=${mib * 1048576}\n${lines}\necho "--max-old-space-size=$heap --max-semi-space-size=$semi"`,
      ],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), engineHeapFlags(heapCapMiB(mib * 1048576)), `memory limit ${mib} MiB`);
  }
});

// Fleet (issue 16 item 7) and interception (issue 17) options. Both shells: the router's
// busybox ash and the build host's dash (offline roots).
const FLEET_EDGE = `config edgewan 'main'
	option role 'edge'
	option state_dir '/tmp/edgewan'
	list tunnel_connect 'core-a.example.net:9618'
	list tunnel_connect '[fd00::1]:9618'
	option failback_s '060'
	option key_dir '/etc/edgewan/keys'
	option ca '/etc/edgewan/keys/ca.crt'
	option intercept '1'
	list intercept_interface 'br-lan'

config intercept 'dc'
	list destination '10.20.0.0/16'
	list destination 'fd00:20::/48'
	list port '443'
	list port '08000-8100'
	option exclude '10.20.9.0/24'

config intercept 'mail'
	option destination '10.30.0.5'
	option port '25'
`;
const FLEET_CORE = `config edgewan 'main'
	option role 'core'
	option state_dir '/tmp/edgewan'
	option tunnel_listen '[::]:9618'
	option key_dir '/etc/edgewan/fleet'
	option ca '/etc/edgewan/fleet/ca.crt'
	option revoked '/etc/edgewan/fleet/revoked.txt'
	option socks_listen '127.0.0.1:1080'

config forward 'web17'
	option listen '127.0.0.1:8443'
	option target '10.1.0.5:443'
	option direction 'core-to-edge'
	option edge 'branch-17'
`;

/** The engine's own loader (schema + cross-field rules; files are not read here). */
function engineAccepts(json: unknown): void {
  const dir = mkdtempSync(join(tmpdir(), 'ewF-uci-cfg-'));
  try {
    writeFileSync(join(dir, 'c.json'), JSON.stringify(json));
    loadConfig(join(dir, 'c.json'), { checkFiles: false, checkStateDir: false });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

for (const shell of ['sh', 'busybox']) {
  test(`${shell}: fleet edge options (core list, failback, key dir, CA) and intercept sections map to the engine config`, () => {
    const r = translate(FLEET_EDGE, shell);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(validate(r.json), JSON.stringify(validate.errors));
    engineAccepts(r.json);
    assert.deepEqual(r.json!.tunnel, {
      connect: ['core-a.example.net:9618', '[fd00::1]:9618'],
      failbackS: 60,
      auth: { keyDir: '/etc/edgewan/keys', ca: '/etc/edgewan/keys/ca.crt' },
    });
    assert.deepEqual(r.json!.intercept, {
      enabled: true,
      interfaces: ['br-lan'],
      failClosed: false,
      port: 9618,
      rules: [
        {
          destinations: ['10.20.0.0/16', 'fd00:20::/48'],
          ports: [443, '8000-8100'],
          exclude: ['10.20.9.0/24'],
        },
        { destinations: ['10.30.0.5'], ports: [25] },
      ],
    });
  });

  test(`${shell}: a fleet core's CA, revocation list and a core-to-edge forward naming its edge`, () => {
    const r = translate(FLEET_CORE, shell);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(validate(r.json), JSON.stringify(validate.errors));
    engineAccepts(r.json);
    assert.deepEqual(r.json!.tunnel, {
      listen: '[::]:9618',
      auth: {
        keyDir: '/etc/edgewan/fleet',
        ca: '/etc/edgewan/fleet/ca.crt',
        revoked: '/etc/edgewan/fleet/revoked.txt',
      },
    });
    assert.deepEqual(r.json!.forwards, [
      { listen: '127.0.0.1:8443', target: '10.1.0.5:443', direction: 'core-to-edge', edge: 'branch-17' },
    ]);
    assert.equal(r.json!.intercept, undefined, 'no intercept object unless asked for');
  });
}

test('a single tunnel_connect option stays a string; intercept_fail_closed and intercept_port reach the config', () => {
  const r = translate(
    FLEET_EDGE.replace(/\tlist tunnel_connect '\[fd00::1\]:9618'\n/, '').replace(
      "option intercept '1'",
      "option intercept '1'\n\toption intercept_fail_closed '1'\n\toption intercept_port '9700'",
    ),
  );
  assert.equal(r.status, 0, r.stderr);
  engineAccepts(r.json);
  assert.equal(r.json!.tunnel.connect, 'core-a.example.net:9618');
  assert.equal(r.json!.intercept.failClosed, true);
  assert.equal(r.json!.intercept.port, 9700);
});

const FLEET_BAD: [string, string, RegExp][] = [
  [
    'edge name',
    FLEET_CORE.replace("'branch-17'", "'Branch_17'"),
    /edgewan\.web17\.edge='Branch_17': use an edge name/,
  ],
  ['edge name dash', FLEET_CORE.replace("'branch-17'", "'-b'"), /edgewan\.web17\.edge='-b'/],
  [
    'relative ca',
    FLEET_CORE.replace("option ca '/etc/edgewan/fleet/ca.crt'", "option ca 'ca.crt'"),
    /edgewan\.main\.ca='ca\.crt': use an absolute path/,
  ],
  [
    'relative revoked',
    FLEET_CORE.replace("'/etc/edgewan/fleet/revoked.txt'", "'revoked.txt'"),
    /edgewan\.main\.revoked='revoked\.txt'/,
  ],
  [
    'failback_s',
    FLEET_EDGE.replace("'060'", "'soon'"),
    /edgewan\.main\.failback_s='soon': use whole seconds, 0-86400/,
  ],
  ['failback_s range', FLEET_EDGE.replace("'060'", "'90000'"), /failback_s='90000'/],
  [
    'core list item',
    FLEET_EDGE.replace("'[fd00::1]:9618'", "'core-b'"),
    /edgewan\.main\.tunnel_connect='core-b': use HOST:PORT/,
  ],
  [
    'intercept without sections',
    FLEET_EDGE.slice(0, FLEET_EDGE.indexOf('config intercept')),
    /edgewan\.main\.intercept='1': add at least one 'config intercept' section/,
  ],
  [
    'intercept bool',
    FLEET_EDGE.replace("option intercept '1'", "option intercept 'yes please'"),
    /edgewan\.main\.intercept='yes please': use 1 or 0/,
  ],
  [
    'destination',
    FLEET_EDGE.replace("'10.20.0.0/16'", "'dc.example.net'"),
    /edgewan\.dc\.destination='dc\.example\.net': use an IPv4\/IPv6 network/,
  ],
  [
    'port',
    FLEET_EDGE.replace("list port '443'", "list port 'https'"),
    /edgewan\.dc\.port='https': use a TCP port 1-65535 or a range/,
  ],
  ['port range', FLEET_EDGE.replace("'08000-8100'", "'9000-8000'"), /edgewan\.dc\.port='9000-8000'/],
  ['port 0', FLEET_EDGE.replace("option port '25'", "option port '0'"), /edgewan\.mail\.port='0'/],
  [
    'section without port',
    FLEET_EDGE.replace("\toption port '25'\n", ''),
    /edgewan\.mail\.port='': an intercept section needs at least one 'list port'/,
  ],
  [
    'intercept option',
    FLEET_EDGE.replace('option exclude', 'option excludes'),
    /edgewan\.dc\.excludes='10\.20\.9\.0\/24': unknown option/,
  ],
  [
    'interface',
    FLEET_EDGE.replace("'br-lan'", "'br lan'"),
    /edgewan\.main\.intercept_interface='br lan': use an interface name/,
  ],
  [
    'intercept_port',
    FLEET_EDGE.replace("option intercept '1'", "option intercept '1'\n\toption intercept_port '70000'"),
    /intercept_port='70000': use a TCP port 1-65535/,
  ],
];

for (const shell of ['sh', 'busybox']) {
  for (const [what, uci, message] of FLEET_BAD) {
    test(`${shell}: a bad ${what} is refused with its option name`, () => {
      const r = translate(uci, shell);
      assert.equal(r.status, 1, `expected refusal, got JSON ${JSON.stringify(r.json)}`);
      assert.match(r.stderr, message);
    });
  }
}

/** start_service of the shipped init script under busybox ash with the procd stand-ins; returns procd's log. */
function procdStart(
  uci: string,
  withConntrack: boolean,
): { status: number | null; log: string; stderr: string } {
  const dir = mkdtempSync(join(tmpdir(), 'ewF-procd-'));
  try {
    mkdirSync(join(dir, 'usr/share/edgewan'), { recursive: true });
    mkdirSync(join(dir, 'bin'));
    writeFileSync(join(dir, 'usr/share/edgewan/uci2json.sh'), file('usr/share/edgewan/uci2json.sh').data);
    writeFileSync(join(dir, 'init'), file('etc/init.d/edgewan').data);
    writeFileSync(
      join(dir, 'edgewan'),
      uci.replace("option state_dir '/tmp/edgewan'", `option state_dir '${dir}/state'`),
    );
    writeFileSync(join(dir, 'engine'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
    if (withConntrack) writeFileSync(join(dir, 'bin/conntrack'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
    // PATH holds only busybox applets (as on a router) and, if asked, the conntrack stand-in
    mkdirSync(join(dir, 'tools'));
    const busybox = spawnSync('sh', ['-c', 'command -v busybox'], { encoding: 'utf8' }).stdout.trim();
    for (const a of ['sh', 'mkdir', 'chown', 'chmod', 'mv', 'rm', 'cat', 'sed', 'printf'])
      symlinkSync(busybox, join(dir, 'tools', a));
    const script = `. ${STUBS}/functions.sh; logger() { for m; do :; done; echo "$m" >&2; }
      IPKG_INSTROOT=${dir}; . ${dir}/init; . ${STUBS}/procd.sh
      _rec() { echo "$*" >> ${dir}/procd.log; }
      PROG=${dir}/engine RUNDIR=${dir}/run RUNCONF=${dir}/run/edgewan.json
      start_service`;
    const r = spawnSync(join(dir, 'tools/sh'), ['-c', script], {
      encoding: 'utf8',
      env: { PATH: `${withConntrack ? `${dir}/bin:` : ''}${dir}/tools`, UCI_CONFIG_DIR: dir },
    });
    let log = '';
    try {
      log = readFileSync(join(dir, 'procd.log'), 'utf8');
    } catch {
      /* nothing registered */
    }
    return { status: r.status, log, stderr: r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('procd: interception with conntrack installed runs as edgewan with the CAP_NET_ADMIN capabilities file', () => {
  const r = procdStart(FLEET_EDGE, true);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.log, /^param user edgewan$/m);
  assert.match(r.log, /^param capabilities \/etc\/capabilities\/edgewan-intercept\.json$/m);
  const caps = JSON.parse(file('etc/capabilities/edgewan-intercept.json').data.toString());
  for (const set of ['bounding', 'effective', 'ambient', 'permitted', 'inheritable']) {
    assert.deepEqual(caps[set], ['CAP_NET_BIND_SERVICE', 'CAP_NET_ADMIN'], set);
  }
});

test('procd: interception without conntrack runs as root (and says why); no interception: edgewan, no capabilities', () => {
  const r = procdStart(FLEET_EDGE, false);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /conntrack is not installed, so the engine runs as root/);
  assert.match(r.log, /^param user root$/m);
  assert.doesNotMatch(r.log, /capabilities/, 'root needs no capabilities file');
  const plain = procdStart(FLEET_CORE, true);
  assert.equal(plain.status, 0, plain.stderr);
  assert.match(plain.log, /^param user edgewan$/m);
  assert.doesNotMatch(plain.log, /capabilities/);
});
