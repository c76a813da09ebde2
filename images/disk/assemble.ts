// Filesystems from directories and the raw image, with no loop device and no mount:
// GRUB's removable-path EFI binary (grub-mkimage, modules from the root's grub-efi-*-bin),
// FAT32 ESP (mkfs.fat + mtools), ext4 root and data (`mke2fs -d`, fixed UUIDs and hash
// seeds, E2FSPROGS_FAKE_TIME), a GPT written by sfdisk into the image file, partitions
// copied in at their offsets. A Raspberry Pi image (board "rpi") has no GRUB: its FAT
// firmware partition gets the root's /boot/firmware as raspi-firmware laid it out.
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import type { ImageDefinition } from './definition.ts';
import { run } from './customize.ts';
import { DiskError } from './errors.ts';
import { sfdiskScript, type Layout, type Part } from './layout.ts';

const EFI: Record<string, { format: string; file: string; modules: string[] }> = {
  amd64: { format: 'x86_64-efi', file: 'BOOTX64.EFI', modules: ['efi_gop', 'efi_uga'] },
  arm64: { format: 'arm64-efi', file: 'BOOTAA64.EFI', modules: ['efi_gop'] },
};
const GRUB_MODULES = [
  'part_gpt',
  'fat',
  'ext2',
  'normal',
  'linux',
  'search',
  'search_fs_uuid',
  'configfile',
  'echo',
  'gzio',
  'test',
  'boot',
];

/** The GRUB config embedded in the EFI binary: find the root by UUID, boot Debian's kernel. */
export function grubConfig(def: ImageDefinition, l: Layout): string {
  return [
    'set timeout=0',
    `search --no-floppy --fs-uuid --set=root ${l.root.fsUuid}`,
    'echo "Loading Linux ..."',
    // /vmlinuz and /initrd.img are Debian's symlinks to the newest kernel: updates need no GRUB change
    `linux /vmlinuz root=UUID=${l.root.fsUuid} ro rootwait console=tty0 console=${def.console}`,
    'initrd /initrd.img',
    'boot',
    '',
  ].join('\n');
}

function efiBinary(
  root: string,
  def: ImageDefinition,
  l: Layout,
  work: string,
): { path: string; name: string } {
  const e = EFI[def.debArch];
  const cfg = join(work, 'grub-early.cfg');
  writeFileSync(cfg, grubConfig(def, l));
  const out = join(work, e.file);
  run(
    'grub-mkimage',
    [
      '-O',
      e.format,
      '-d',
      join(root, 'usr/lib/grub', e.format),
      '-p',
      '/EFI/BOOT',
      '-c',
      cfg,
      '-o',
      out,
      ...GRUB_MODULES,
      ...e.modules,
    ],
    `making ${e.file} with grub-mkimage (apt-get install grub-common)`,
  );
  return { path: out, name: e.file };
}

function fatImage(
  p: Part,
  work: string,
  mtime: number,
  fill: (img: string, env: Record<string, string>) => void,
): string {
  const img = join(work, 'esp.img');
  rmSync(img, { force: true });
  const env = { SOURCE_DATE_EPOCH: String(mtime), MTOOLS_SKIP_CHECK: '1', TZ: 'UTC' };
  run(
    'mkfs.fat',
    [
      '--invariant',
      '-F',
      '32',
      '-n',
      p.label,
      '-i',
      p.fsUuid.replace('-', ''),
      '-C',
      img,
      String(p.size / 1024),
    ],
    `mkfs.fat for the ${p.label} partition`,
    env,
  );
  fill(img, env);
  return img;
}

function espImage(efi: { path: string; name: string }, p: Part, work: string, mtime: number): string {
  return fatImage(p, work, mtime, (img, env) => {
    run('mmd', ['-i', img, '::/EFI', '::/EFI/BOOT'], 'mmd on the ESP', env);
    run('touch', ['--date', `@${mtime}`, efi.path], 'touch');
    run('mcopy', ['-i', img, '-m', efi.path, `::/EFI/BOOT/${efi.name}`], 'mcopy the EFI binary', env);
  });
}

/**
 * The Pi's firmware partition: what raspi-firmware put in the root's /boot/firmware (boot
 * loader, start4.elf/fixup4.dat…, bcm27xx device trees, kernel, initrd, config.txt,
 * cmdline.txt), copied in name order; the root keeps only the empty mount point.
 */
function firmwareImage(rootDir: string, p: Part, work: string, mtime: number): string {
  const dir = join(rootDir, 'boot/firmware');
  const names = readdirSync(dir).sort();
  for (const need of ['config.txt', 'cmdline.txt', 'start4.elf', 'fixup4.dat']) {
    if (!names.includes(need))
      throw new DiskError(
        'EDGEWAN_ERR_DISK_ASSEMBLE',
        `${dir}/${need} is missing: raspi-firmware did not lay out /boot/firmware (see docs/disk.md, "Raspberry Pi")`,
      );
  }
  const img = fatImage(p, work, mtime, (fat, env) => {
    run(
      'mcopy',
      ['-i', fat, '-m', '-s', ...names.map((f) => join(dir, f)), '::/'],
      'mcopy /boot/firmware into the firmware partition',
      env,
    );
  });
  for (const f of names) rmSync(join(dir, f), { recursive: true, force: true });
  run('touch', ['--date', `@${mtime}`, dir], 'touch');
  return img;
}

export function ext4Image(
  src: string,
  p: Part,
  hashSeed: string,
  owner: string,
  work: string,
  mtime: number,
): string {
  const img = join(work, `${p.label}.img`);
  rmSync(img, { force: true });
  run(
    'mke2fs',
    [
      '-q',
      '-F',
      '-t',
      'ext4',
      '-b',
      '4096',
      '-I',
      '256',
      '-L',
      p.label,
      '-U',
      p.fsUuid,
      '-E',
      `hash_seed=${hashSeed},root_owner=${owner},lazy_itable_init=0,lazy_journal_init=0`,
      '-d',
      src,
      img,
      `${p.size / 1024}k`,
    ],
    `mke2fs -d for the ${p.label} partition`,
    { E2FSPROGS_FAKE_TIME: String(mtime), SOURCE_DATE_EPOCH: String(mtime) },
  );
  fixInodeTimes(img, src, mtime, work);
  return img;
}

/**
 * mke2fs -d copies each file's ctime and atime from the host tree (measured with 1.47.0),
 * and a host ctime cannot be set: rewrite both to SOURCE_DATE_EPOCH with debugfs, by path.
 */
function fixInodeTimes(img: string, src: string, mtime: number, work: string): void {
  const paths = run('find', [src, '-xdev', '-mindepth', '1', '-printf', '/%P\\0'], `listing ${src}`)
    .split('\0')
    .filter(Boolean);
  const hex = `0x${mtime.toString(16)}`;
  const bad = paths.find((x) => /["\n]/.test(x));
  if (bad) throw new DiskError('EDGEWAN_ERR_DISK_ASSEMBLE', `${src}${bad}: a path debugfs cannot quote`);
  const cmds = ['/', ...paths].flatMap((x) => [`sif "${x}" ctime ${hex}`, `sif "${x}" atime ${hex}`]);
  const file = join(work, 'debugfs-times.cmd');
  writeFileSync(file, `${cmds.join('\n')}\n`);
  // debugfs exits 0 even when a command fails: any stderr line beyond its banner is an error
  const r = spawnSync('debugfs', ['-w', '-f', file, img], {
    encoding: 'utf8',
    maxBuffer: 256 << 20,
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', E2FSPROGS_FAKE_TIME: String(mtime) },
  });
  const errs = (r.stderr ?? '').split('\n').filter((l) => l && !/^debugfs \d/.test(l));
  if (r.status !== 0 || errs.length)
    throw new DiskError(
      'EDGEWAN_ERR_DISK_ASSEMBLE',
      `debugfs could not fix inode times in ${img}: ${errs.slice(0, 5).join('; ')}`,
    );
}

/** KiB the tree needs (apparent sizes rounded to 4 KiB blocks, plus one inode each). */
export function treeKiB(dir: string): number {
  const out = run('du', ['-s', '-k', '-x', '--block-size=1K', dir], `measuring ${dir}`);
  return Number(out.split(/\s/)[0]);
}

/**
 * Fail clearly when the root does not fit its fixed partition (ext4 keeps ~8% for itself),
 * or, on a Pi, /boot/firmware does not fit the FAT firmware partition (it moves there).
 */
export function checkFits(def: ImageDefinition, rootDir: string): void {
  const fwDir = join(rootDir, 'boot/firmware');
  const fwKiB = def.board === 'rpi' && existsSync(fwDir) ? treeKiB(fwDir) : 0;
  const need = Math.ceil((treeKiB(rootDir) - fwKiB) / 1024 / 0.9);
  if (need > def.sizes.rootMiB) {
    throw new DiskError(
      'EDGEWAN_ERR_DISK_TOO_SMALL',
      `${def.file}: /sizes/rootMiB: the root of ${def.name} needs about ${need} MiB and the partition has ${def.sizes.rootMiB} MiB: raise /sizes/rootMiB to at least ${need}`,
    );
  }
  // FAT32: clusters, two FATs and reserved sectors take a few percent
  const fwNeed = Math.ceil(fwKiB / 1024 / 0.9) + 2;
  if (fwKiB && fwNeed > def.sizes.espMiB) {
    throw new DiskError(
      'EDGEWAN_ERR_DISK_TOO_SMALL',
      `${def.file}: /sizes/espMiB: /boot/firmware of ${def.name} needs about ${fwNeed} MiB and the firmware partition has ${def.sizes.espMiB} MiB: raise /sizes/espMiB to at least ${fwNeed}`,
    );
  }
}

function copyInto(img: string, part: string, offset: number): void {
  run(
    'dd',
    [
      `if=${part}`,
      `of=${img}`,
      'bs=4M',
      `seek=${offset}`,
      'oflag=seek_bytes',
      'conv=notrunc,sparse',
      'status=none',
    ],
    `copying ${part} into the image`,
  );
}

export interface AssembleInput {
  def: ImageDefinition;
  layout: Layout;
  rootDir: string;
  work: string;
  mtime: number;
  dataOwner: string;
}

/** Writes <work>/disk.img and returns its path. */
export function assemble(a: AssembleInput): string {
  const { def, layout: l, work, mtime } = a;
  mkdirSync(work, { recursive: true });
  checkFits(def, a.rootDir);
  const esp =
    def.board === 'rpi'
      ? firmwareImage(a.rootDir, l.esp, work, mtime)
      : espImage(efiBinary(a.rootDir, def, l, work), l.esp, work, mtime);
  const root = ext4Image(a.rootDir, l.root, l.rootHashSeed, '0:0', work, mtime);
  const emptyData = join(work, 'data-dir');
  rmSync(emptyData, { recursive: true, force: true });
  mkdirSync(emptyData);
  chmodSync(emptyData, 0o750);
  run('touch', ['--date', `@${mtime}`, emptyData], 'touch');
  const data = ext4Image(emptyData, l.data, l.dataHashSeed, a.dataOwner, work, mtime);
  const img = join(work, 'disk.img');
  rmSync(img, { force: true });
  const fd = openSync(img, 'w');
  closeSync(fd);
  run('truncate', ['-s', String(l.size), img], 'sizing the image');
  run(
    'sfdisk',
    ['--quiet', '--no-reread', '--no-tell-kernel', img],
    `sfdisk (${l.table})`,
    {},
    sfdiskScript(l),
  );
  copyInto(img, esp, l.esp.offset);
  copyInto(img, root, l.root.offset);
  copyInto(img, data, l.data.offset);
  for (const f of [esp, root, data]) rmSync(f, { force: true });
  if (statSync(img).size !== l.size)
    throw new DiskError(
      'EDGEWAN_ERR_DISK_ASSEMBLE',
      `${img} has ${statSync(img).size} bytes, expected ${l.size}`,
    );
  return img;
}
