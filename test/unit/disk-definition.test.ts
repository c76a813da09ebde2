// Disk image definitions and layout (images/disk): the shipped definitions are valid, bad
// input fails fast with file + JSON pointer, the layout is fixed and sane.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { checkFits } from '../../images/disk/assemble.ts';
import { mountUnit } from '../../images/disk/customize.ts';
import { checkDefinition, definitionFiles, loadDefinition } from '../../images/disk/definition.ts';
import { planLayout, sfdiskScript } from '../../images/disk/layout.ts';
import { rootKey, rootSpec } from '../../images/disk/rootfs.ts';
import { rootName } from '../../images/disk/roots.ts';
import { piTwin } from '../../images/disk/rpi-root.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const DEFAULT = JSON.parse(readFileSync(join(ROOT, 'engine/schema/default-config.json'), 'utf8')) as Record<
  string,
  unknown
>;
const amd64 = () =>
  JSON.parse(readFileSync(join(ROOT, 'images/branch-box-amd64.json'), 'utf8')) as Record<string, any>;

test('the shipped definitions are valid and their configs keep the contract defaults', () => {
  const files = definitionFiles();
  assert.deepEqual(
    files.map((f) => f.split('/').pop()),
    ['branch-box-amd64.json', 'branch-box-arm64.json', 'branch-box-rpi-arm64.json'],
  );
  for (const f of files) {
    const d = loadDefinition(f, DEFAULT);
    assert.equal((d.config.admin as { listen: string }).listen, '127.0.0.1:9617');
    assert.equal(d.config.role, 'edge');
    assert.equal((d.config.dns as { enabled: boolean }).enabled, false);
  }
});

test('a config overlay that fails the engine schema names the file and the pointer', () => {
  const raw = amd64();
  raw.config = { admin: { listen: '127.0.0.1:9617', tokn: 'x' } };
  assert.throws(
    () => checkDefinition('images/x.json', raw, DEFAULT),
    (e: Error & { code?: string }) => {
      assert.equal(e.code, 'EDGEWAN_ERR_DISK_CONFIG');
      assert.match(e.message, /images\/x\.json: \/config\/admin\/tokn: unknown key/);
      return true;
    },
  );
  raw.config = { role: 'router' };
  assert.throws(
    () => checkDefinition('images/x.json', raw, DEFAULT),
    /\/config\/role: "router" is not allowed/,
  );
});

test('definition errors: unknown key, bad package name, partition below its minimum', () => {
  const cases: Array<[(r: Record<string, any>) => void, RegExp]> = [
    [
      (r) => {
        r.extra = 1;
      },
      /\/extra: unknown key/,
    ],
    [
      (r) => {
        r.packages = ['Bad Name'];
      },
      /\/packages\/0: must match pattern/,
    ],
    [
      (r) => {
        r.sizes.rootMiB = 100;
      },
      /\/sizes\/rootMiB: must be >= 256/,
    ],
    [
      (r) => {
        r.arch = 'armv7';
      },
      /\/arch: "armv7" is not allowed/,
    ],
    [
      (r) => {
        delete r.firstBoot;
      },
      /missing required key "firstBoot"/,
    ],
    [
      (r) => {
        r.board = 'rpi';
      },
      /\/board: "rpi" images are arm64/,
    ],
    [
      (r) => {
        r.board = 'pi';
      },
      /\/board: "pi" is not allowed/,
    ],
  ];
  for (const [mutate, re] of cases) {
    const raw = amd64();
    mutate(raw);
    assert.throws(
      () => checkDefinition('images/x.json', raw, DEFAULT),
      (e: Error & { code?: string }) => {
        assert.equal(e.code, 'EDGEWAN_ERR_DISK_DEFINITION');
        assert.match(e.message, re);
        return true;
      },
    );
  }
});

test('a root bigger than its partition fails with the size to use', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ewI-fit-'));
  try {
    writeFileSync(join(dir, 'big'), Buffer.alloc(3 << 20, 1));
    const d = { ...loadDefinition(definitionFiles()[0], DEFAULT) };
    d.sizes = { ...d.sizes, rootMiB: 2 };
    assert.throws(
      () => checkFits(d, dir),
      /\/sizes\/rootMiB: .* needs about [34] MiB and the partition has 2 MiB/,
    );
    d.sizes = { ...d.sizes, rootMiB: 64 };
    checkFits(d, dir);
    // a Pi's /boot/firmware moves to the FAT partition: it counts there, not in the root
    mkdirSync(join(dir, 'boot/firmware'), { recursive: true });
    writeFileSync(join(dir, 'boot/firmware/kernel'), Buffer.alloc(40 << 20, 1));
    const pi = {
      ...loadDefinition(join(ROOT, 'images/branch-box-rpi-arm64.json'), DEFAULT),
      sizes: { espMiB: 40, rootMiB: 8, dataMiB: 16 },
    };
    assert.throws(
      () => checkFits(pi, dir),
      /\/sizes\/espMiB: .* needs about 47 MiB and the firmware partition has 40 MiB/,
    );
    checkFits({ ...pi, sizes: { ...pi.sizes, espMiB: 64 } }, dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('layout: fixed GUIDs per image, aligned, non-overlapping, data last', () => {
  const [a, b] = definitionFiles().map((f) => loadDefinition(f, DEFAULT));
  const la = planLayout(a);
  assert.deepEqual(planLayout(a), la);
  const lb = planLayout(b);
  assert.notEqual(la.root.fsUuid, lb.root.fsUuid);
  assert.notEqual(la.diskGuid, lb.diskGuid);
  const parts = [la.esp, la.root, la.data];
  for (let i = 0; i < parts.length; i++) {
    assert.equal(parts[i].offset % 1048576, 0);
    if (i) assert.equal(parts[i].offset, parts[i - 1].offset + parts[i - 1].size);
  }
  assert.equal(la.size, la.data.offset + la.data.size + 1048576);
  assert.match(la.esp.fsUuid, /^[0-9A-F]{4}-[0-9A-F]{4}$/);
  const s = sfdiskScript(la);
  assert.match(s, /^label: gpt\nlabel-id: [0-9A-F-]{36}\n/);
  assert.equal(s.match(/^start=/gm)?.length, 3);
  assert.match(s, /type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709/);
});

test('Raspberry Pi layout: MBR, FAT firmware partition first, PARTUUIDs <disk id>-NN; raspi-firmware from non-free-firmware', () => {
  const d = loadDefinition(join(ROOT, 'images/branch-box-rpi-arm64.json'), DEFAULT);
  assert.equal(d.board, 'rpi');
  const l = planLayout(d);
  assert.equal(l.table, 'dos');
  assert.match(l.diskGuid, /^[0-9a-f]{8}$/);
  assert.deepEqual(
    [l.esp, l.root, l.data].map((p) => p.partuuid),
    ['01', '02', '03'].map((n) => `${l.diskGuid}-${n}`),
  );
  assert.equal(l.esp.label, 'RASPIFIRM');
  const s = sfdiskScript(l);
  assert.match(s, /^label: dos\nlabel-id: 0x[0-9a-f]{8}\n/);
  assert.match(s, /^start=2048, size=\d+, type=c, bootable$/m);
  assert.equal(s.match(/type=83$/gm)?.length, 2);
  const spec = rootSpec(d);
  assert.ok(spec.packages.includes('raspi-firmware') && spec.packages.includes('systemd-timesyncd'));
  assert.ok(spec.sources.every((x) => x.endsWith(' main non-free-firmware')));
  // the Pi root is a layer on the root of its UEFI twin, which is branch-box-arm64's root
  const arm64 = loadDefinition(join(ROOT, 'images/branch-box-arm64.json'), DEFAULT);
  assert.equal(
    rootName(piTwin(d)),
    rootName(arm64),
    'the Pi definition lists the same packages as branch-box-arm64',
  );
  assert.match(rootName(d), /^disk-bookworm-arm64-rpi-[0-9a-f]{16}$/);
  // the uefi definitions stay main-only and GPT, and default to board uefi
  const u = loadDefinition(definitionFiles()[0], DEFAULT);
  assert.equal(u.board, 'uefi');
  assert.equal(planLayout(u).table, 'gpt');
  assert.ok(rootSpec(u).sources.every((x) => x.endsWith(' main')));
});

test('root cache key follows the inputs; mount unit names are escaped like systemd-escape', () => {
  const d = loadDefinition(definitionFiles()[0], DEFAULT);
  const k = rootKey(rootSpec(d));
  assert.equal(rootKey(rootSpec({ ...d })), k);
  assert.notEqual(rootKey(rootSpec({ ...d, packages: [...d.packages, 'curl'] })), k);
  assert.equal(mountUnit('/var/lib/edgewan'), 'var-lib-edgewan.mount');
  assert.equal(mountUnit('/var/lib/my-box'), 'var-lib-my\\x2dbox.mount');
});
