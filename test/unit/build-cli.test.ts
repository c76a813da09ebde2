// edgewan-build CLI: bad usage exits 2 with a message saying what is allowed; a bad manifest
// exits 1 naming the file and JSON pointer; nothing is written to --out in either case.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main, parseArgs } from '../../scripts/cli.ts';
import { REPO_ROOT } from '../../scripts/paths.ts';

const dir = mkdtempSync(join(tmpdir(), 'ewA-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'bin/edgewan-build.mjs'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 120_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('flags parse: comma lists, repeats, = form', () => {
  const p = parseArgs([
    'build',
    '--arch',
    'x64,arm64',
    '--arch=armhf',
    '--target',
    'none',
    '--out=/tmp/x',
    '--json',
  ]);
  assert.deepEqual(p.flags.get('--arch'), ['x64', 'arm64', 'armhf']);
  assert.deepEqual(p.flags.get('--out'), ['/tmp/x']);
  assert.equal(p.json, true);
});

/** main() in-process (faster than a child per case), capturing what it writes. */
async function inProcess(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, {
    out: {
      write: (s: string) => {
        out += s;
      },
    },
    err: {
      write: (s: string) => {
        err += s;
      },
    },
  });
  return { code, out, err };
}

test('unknown verb, flag, arch and target exit 2 with what is allowed', async () => {
  const out = join(dir, 'out-usage');
  let r = cli(['frobnicate']);
  assert.equal(r.code, 2, 'the real executable exits 2');
  assert.match(r.err, /unknown command "frobnicate": use build, push or inspect/);
  r = await inProcess(['build', '--arhc', 'x64', '--out', out]);
  assert.equal(r.code, 2);
  assert.match(r.err, /unknown option "--arhc" for "build" \(allowed: --arch, --target/);
  r = await inProcess(['build', '--arch', 'mips', '--out', out]);
  assert.equal(r.code, 2);
  assert.match(r.err, /unknown architecture "mips": use one of x64, arm64, armv7/);
  r = await inProcess(['build', '--target', 'solaris', '--arch', 'x64', '--out', out]);
  assert.equal(r.code, 2);
  assert.match(r.err, /unknown target "solaris": use one of debian, raspbian/);
  r = await inProcess(['build', '--out']);
  assert.equal(r.code, 2);
  assert.match(r.err, /option --out needs a value/);
  r = await inProcess(['inspect']);
  assert.equal(r.code, 2);
  assert.match(r.err, /inspect takes exactly one FILE/);
  assert.equal(existsSync(out), false, 'nothing written on bad usage');
});

test('bad manifest: exit 1, file and JSON pointer named, nothing written; --json error object', () => {
  const m = join(dir, 'edgewan.build.json');
  writeFileSync(m, JSON.stringify({ arches: ['x64'], service: { memoryMax: 'lots' } }));
  const out = join(dir, 'out-manifest');
  const r = cli(['build', '--manifest', m, '--out', out, '--json']);
  assert.equal(r.code, 1);
  assert.match(r.err, new RegExp(`${m.replace(/[.]/g, '\\.')}: /service/memoryMax: "lots" does not match`));
  const doc = JSON.parse(r.out) as { error: { code: string; message: string } };
  assert.equal(doc.error.code, 'EDGEWAN_ERR_BUILD_MANIFEST');
  assert.equal(existsSync(out), false);
});

test('--help prints usage and exits 0', async () => {
  const r = await inProcess(['--help']);
  assert.equal(r.code, 0);
  assert.match(r.out, /Usage: edgewan-build <command>/);
});
