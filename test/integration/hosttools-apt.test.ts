// Host tools against the real apt-get (as root): a package the mirror does not have, and the
// dpkg lock held by another process, each end in one clear HostToolsError naming what was
// being installed and the command to run — no stack trace, nothing installed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { ensureHostTools, HostToolsError } from '../../scripts/hosttools.ts';
import { needRoot, needTool } from '../helpers/tools.ts';

const NO_SUCH = 'edgewan-no-such-package-for-tests';
const need = { kind: 'cmd' as const, what: 'edgewan-no-such-command', pkg: NO_SUCH, for: 'hosttools test' };

test('a package the apt sources do not have: one paragraph naming it and the command', (t) => {
  if (!needRoot(t) || !needTool(t, 'apt-get', 'apt')) return;
  assert.throws(
    () => ensureHostTools([need], { env: process.env, log: () => {}, lockTimeoutS: 5 }),
    (e: Error) => {
      assert.ok(e instanceof HostToolsError, String(e));
      assert.match(e.message, new RegExp(`do not have ${NO_SUCH}`));
      assert.match(e.message, new RegExp(`apt-get install -y --no-install-recommends ${NO_SUCH}`));
      assert.doesNotMatch(e.message, /\n\s+at /);
      return true;
    },
  );
});

test('the dpkg frontend lock held by another process: says so and what to do', async (t) => {
  if (!needRoot(t) || !needTool(t, 'apt-get', 'apt') || !needTool(t, 'python3')) return;
  // apt takes fcntl locks (not flock): hold the same lock the way a running apt-get would
  const holder = spawn(
    'python3',
    [
      '-c',
      [
        'import fcntl, sys, time',
        "f = open('/var/lib/dpkg/lock-frontend', 'w')",
        'fcntl.lockf(f, fcntl.LOCK_EX)',
        "print('locked', flush=True)",
        'time.sleep(60)',
      ].join('\n'),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  try {
    const [line] = (await once(holder.stdout!, 'data')) as [Buffer];
    assert.equal(line.toString().trim(), 'locked');
    // a package apt knows, so only the lock stands in the way
    const real = {
      kind: 'cmd' as const,
      what: 'edgewan-no-such-command',
      pkg: 'hello',
      for: 'hosttools test',
    };
    assert.throws(
      () => ensureHostTools([real], { env: process.env, log: () => {}, lockTimeoutS: 2 }),
      (e: Error) => {
        assert.ok(e instanceof HostToolsError, String(e));
        assert.match(e.message, /another apt-get or dpkg process holds the package lock/);
        assert.match(e.message, /apt-get install -y --no-install-recommends hello/);
        return true;
      },
    );
  } finally {
    holder.kill('SIGKILL');
  }
});
