// The Raspberry Pi branch-box image (images/branch-box-rpi-arm64.json) is built and
// inspected, not booted (no Pi board emulation boots Debian's arm64 kernel from the GPU
// firmware): the MBR and filesystems through our reader (edgewan-build inspect) and sfdisk,
// the FAT firmware partition through mtools (boot loader files, Pi 3/4 device trees, the
// kernel/initrd config.txt names, cmdline.txt's root=), and the root partition through
// debugfs (our package installed, fstab, raspi-firmware's defaults), all without mounting.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { inspectDisk } from '../../images/disk/inspect.ts';
import { wantedDefinitions } from '../../images/disk/index.ts';
import { ROOT } from '../helpers/engine.ts';
import { needTool, unavailable } from '../helpers/tools.ts';
import { sh } from './9x-disk-vm.ts';

const DIST = process.env.EDGEWAN_TEST_DIST || join(ROOT, 'dist');
const DEFAULT_CONFIG = JSON.parse(
  readFileSync(join(ROOT, 'engine/schema/default-config.json'), 'utf8'),
) as Record<string, unknown>;
const IMAGES = wantedDefinitions(DEFAULT_CONFIG).filter((d) => d.board === 'rpi');

interface Part {
  index: number;
  type: string;
  bootable: boolean;
  partuuid: string;
  offset: number;
  size: number;
  fs: { type: string; uuid: string; label: string } | null;
}

for (const def of IMAGES) {
  test(
    `disk image ${def.name}: MBR, Pi firmware partition as raspi-firmware lays it out, root with our package`,
    { timeout: 300_000 },
    async (t) => {
      for (const [tool, pkg] of [
        ['mdir', 'mtools'],
        ['debugfs', 'e2fsprogs'],
        ['sfdisk', 'fdisk'],
      ])
        if (!needTool(t, tool, pkg)) return;
      const img = join(DIST, 'disk', `${def.name}.img`);
      if (!existsSync(img)) {
        unavailable(t, `${img} missing: the build stage must build the disk target`);
        return;
      }
      const info = (await inspectDisk(img)) as { table: string; diskId: string; partitions: Part[] };
      assert.equal(info.table, 'dos', 'a Pi 3 boot ROM reads only MBR');
      const [fw, root, data] = info.partitions;
      assert.equal(info.partitions.length, 3);
      assert.deepEqual(
        [fw.type, fw.bootable, fw.fs?.type, fw.fs?.label],
        ['0x0c', true, 'vfat', 'RASPIFIRM'],
      );
      assert.deepEqual([root.type, root.fs?.type, root.fs?.label], ['0x83', 'ext4', 'root']);
      assert.deepEqual([data.type, data.fs?.type, data.fs?.label], ['0x83', 'ext4', 'data']);
      assert.equal(data.partuuid, `${info.diskId}-03`);
      // sfdisk agrees with our reader
      const sf = JSON.parse(sh('sfdisk', ['--json', img])) as {
        partitiontable: { label: string; id: string; partitions: { start: number }[] };
      };
      assert.equal(sf.partitiontable.label, 'dos');
      assert.equal(sf.partitiontable.id, `0x${info.diskId}`);
      assert.deepEqual(
        sf.partitiontable.partitions.map((p) => p.start * 512),
        [fw.offset, root.offset, data.offset],
      );

      // the firmware partition, read in place by mtools at its byte offset
      const fat = `${img}@@${fw.offset}`;
      const env = { ...process.env, MTOOLS_SKIP_CHECK: '1' };
      const mt = (cmd: string, ...args: string[]) => {
        const r = spawnSync(cmd, ['-i', fat, ...args], { encoding: 'utf8', env });
        assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`);
        return r.stdout;
      };
      const files = mt('mdir', '-b', '::/')
        .split('\n')
        .map((l) => l.trim().replace(/^::\//, ''))
        .filter(Boolean);
      for (const f of [
        'bootcode.bin',
        'start4.elf',
        'fixup4.dat',
        'start.elf',
        'fixup.dat',
        'config.txt',
        'cmdline.txt',
        'bcm2711-rpi-4-b.dtb',
        'bcm2837-rpi-3-b.dtb',
      ]) {
        assert.ok(files.includes(f), `${f} on the firmware partition (has: ${files.join(' ')})`);
      }
      const config = mt('mtype', '::/config.txt');
      assert.match(config, /^arm_64bit=1$/m);
      const kernel = /^kernel=(vmlinuz-\S+)$/m.exec(config)?.[1];
      const initrd = /^initramfs (initrd\.img-\S+)/m.exec(config)?.[1];
      assert.ok(kernel && files.includes(kernel), `config.txt names a kernel on the partition: ${kernel}`);
      assert.ok(initrd && files.includes(initrd), `config.txt names an initrd on the partition: ${initrd}`);
      assert.equal(
        kernel.slice('vmlinuz-'.length),
        initrd.slice('initrd.img-'.length),
        'kernel and initrd of one version',
      );
      const cmdline = mt('mtype', '::/cmdline.txt');
      assert.match(
        cmdline,
        new RegExp(` root=UUID=${root.fs!.uuid} `),
        `cmdline.txt boots our root partition: ${cmdline}`,
      );
      assert.match(cmdline, / console=ttyS1,115200 /);
      assert.doesNotMatch(cmdline, /cma=/, 'no CMA (breaks Pi 4 boot)');

      // the root partition, extracted (sparse) and read with debugfs
      const work = mkdtempSync(join(tmpdir(), 'ewI-rpi-'));
      try {
        const part = join(work, 'root.part');
        sh('dd', [
          `if=${img}`,
          `of=${part}`,
          'bs=4M',
          `skip=${root.offset}`,
          `count=${root.size}`,
          'iflag=skip_bytes,count_bytes',
          'conv=sparse',
          'status=none',
        ]);
        const cat = (p: string) => sh('debugfs', ['-R', `cat ${p}`, part]);
        const status = cat('/var/lib/dpkg/status').split('\n\n');
        const ours = status.find((s) => /^Package: edgewan$/m.test(s));
        assert.ok(ours, 'edgewan is in the dpkg database');
        assert.match(ours, /^Status: install ok installed$/m);
        assert.match(ours, /^Architecture: arm64$/m);
        assert.ok(
          status.some(
            (s) => /^Package: raspi-firmware$/m.test(s) && /^Status: install ok installed$/m.test(s),
          ),
        );
        assert.match(cat('/etc/fstab'), new RegExp(`^UUID=${fw.fs!.uuid}\\t/boot/firmware\\tvfat\\t`, 'm'));
        const defaults = cat('/etc/default/raspi-firmware');
        assert.match(
          defaults,
          new RegExp(`^ROOTPART=UUID=${root.fs!.uuid}$`, 'm'),
          'kernel updates on the box keep root=',
        );
        assert.match(
          sh('debugfs', ['-R', `ls -l /lib/modules`, part]),
          new RegExp(kernel.slice('vmlinuz-'.length)),
          'modules of the booted kernel',
        );
        // ls -p: /inode/mode/uid/gid/name/size/ per entry
        const below = sh('debugfs', ['-R', 'ls -p /boot/firmware', part])
          .split('\n')
          .map((l) => l.split('/')[5])
          .filter((n) => n && n !== '.' && n !== '..');
        assert.deepEqual(below, [], 'the root keeps only the empty /boot/firmware mount point');
        assert.match(
          cat('/usr/lib/edgewan/firstboot'),
          /label: gpt/,
          'first boot grows the data partition on MBR too',
        );
      } finally {
        rmSync(work, { recursive: true, force: true });
      }
    },
  );
}
