import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { publishRoot, removeRootTree } from '../../images/disk/root-tree.ts';
import { needRoot } from '../helpers/tools.ts';

test('removeRootTree unmounts a leftover bind mount instead of deleting through it', (t) => {
  if (!needRoot(t)) return;
  const base = mkdtempSync(join(tmpdir(), 'ew-roottree-'));
  const host = join(base, 'host-shm'); // stands in for the host's /dev/shm
  const tree = join(base, 'root.tmp-1');
  mkdirSync(host);
  writeFileSync(join(host, 'precious'), 'keep me');
  mkdirSync(join(tree, 'dev/shm'), { recursive: true });
  assert.equal(spawnSync('mount', ['--bind', host, join(tree, 'dev/shm')]).status, 0, 'bind mount');
  try {
    removeRootTree(tree);
    assert.equal(existsSync(tree), false);
    assert.equal(readFileSync(join(host, 'precious'), 'utf8'), 'keep me');
  } finally {
    spawnSync('umount', ['-l', join(tree, 'dev/shm')]);
    rmSync(base, { recursive: true, force: true });
  }
});

test('publishRoot stamps and moves a finished root into place, replacing a stale one', () => {
  const base = mkdtempSync(join(tmpdir(), 'ew-roottree-'));
  try {
    const tmp = join(base, 'r.tmp-1');
    const dir = join(base, 'r');
    mkdirSync(tmp);
    writeFileSync(join(tmp, 'etc'), 'new');
    mkdirSync(dir);
    writeFileSync(join(dir, 'etc'), 'stale');
    assert.equal(publishRoot(tmp, dir, 'key1'), dir);
    assert.equal(readFileSync(join(dir, '.complete'), 'utf8'), 'key1\n');
    assert.equal(readFileSync(join(dir, 'etc'), 'utf8'), 'new');
    assert.equal(existsSync(tmp), false);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});
