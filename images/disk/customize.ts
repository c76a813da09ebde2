// Turns a private copy of the cached base root into the branch box's root: our .deb from
// our signed apt repo (dist/apt, verified by apt with the repo's key inside the root), the
// image's engine config, hostname, fstab with the image's fixed UUIDs, networkd, the
// first-boot unit; then removes what differs per run (apt lists, logs, caches) and clamps
// mtimes to SOURCE_DATE_EPOCH. chroot runs foreign arches through binfmt qemu-user.
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import type { PackageInfo } from '../../targets/target.ts';
import type { ImageDefinition } from './definition.ts';
import { DiskError } from './errors.ts';
import type { Layout } from './layout.ts';

const FILES = join(import.meta.dirname, 'files');

export function run(
  cmd: string,
  args: string[],
  what: string,
  env: Record<string, string> = {},
  input?: string,
): string {
  const r = spawnSync(cmd, args, {
    encoding: 'utf8',
    maxBuffer: 256 << 20,
    input,
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C.UTF-8', ...env },
  });
  if (r.status !== 0) {
    throw new DiskError(
      'EDGEWAN_ERR_DISK_TOOL',
      `${what} failed (exit ${r.status ?? r.signal}): ${cmd} ${args.join(' ')}\n${(r.stderr || String(r.error ?? '')).slice(-3000)}`,
    );
  }
  return r.stdout;
}

/** systemd's unit name for a mount point (systemd-escape --path --suffix=mount). */
export function mountUnit(path: string): string {
  const esc = path
    .replace(/^\/+|\/+$/g, '')
    .split('/')
    .map((c) => c.replace(/[^A-Za-z0-9:_.]/g, (ch) => `\\x${ch.charCodeAt(0).toString(16)}`))
    .join('-');
  return `${esc}.mount`;
}

function template(file: string, vars: Record<string, string>): string {
  return readFileSync(join(FILES, file), 'utf8').replace(/@([A-Z_]+)@/g, (m, k: string) => {
    if (!(k in vars)) throw new Error(`${file}: no value for ${m}`);
    return vars[k];
  });
}

/** mkdir -p inside the root with mode 0755 whatever the builder's umask (reproducible modes). */
function mkdirs(root: string, rel: string): void {
  let at = root;
  for (const part of rel.split('/').filter(Boolean)) {
    at = join(at, part);
    if (!existsSync(at)) {
      mkdirSync(at);
      chmodSync(at, 0o755);
    }
  }
}

function put(root: string, path: string, text: string | Buffer, mode = 0o644): void {
  const p = join(root, path);
  mkdirs(root, join(path, '..'));
  rmSync(p, { force: true });
  writeFileSync(p, text);
  chmodSync(p, mode);
}

export interface CustomizeInput {
  root: string;
  def: ImageDefinition;
  info: PackageInfo;
  layout: Layout;
  /** dist/apt */
  aptDir: string;
  mtime: number;
}

/** Install our package from dist/apt the way a user would (apt verifies InRelease). */
function installPackage(c: CustomizeInput): void {
  const { root, info, def } = c;
  const keyring = `/usr/share/keyrings/${info.name}-archive-keyring.gpg`;
  put(root, keyring, readFileSync(join(c.aptDir, `${info.name}-archive-keyring.gpg`)));
  const repo = join(root, 'var/tmp/edgewan-apt');
  rmSync(repo, { recursive: true, force: true });
  cpSync(c.aptDir, repo, { recursive: true });
  put(
    root,
    'var/tmp/edgewan-apt.list',
    `deb [signed-by=${keyring}] file:/var/tmp/edgewan-apt ${def.suite} main\n`,
  );
  const apt = [
    '-o',
    'Dir::Etc::SourceList=/var/tmp/edgewan-apt.list',
    '-o',
    'Dir::Etc::SourceParts=/dev/null',
    '-o',
    'APT::Sandbox::User=root',
  ];
  const env = { DEBIAN_FRONTEND: 'noninteractive', SOURCE_DATE_EPOCH: String(c.mtime) };
  run(
    'chroot',
    [root, 'apt-get', ...apt, 'update'],
    `apt-get update from ${c.aptDir} inside the ${def.debArch} root`,
    env,
  );
  run(
    'chroot',
    [
      root,
      'apt-get',
      ...apt,
      'install',
      '-y',
      '--no-install-recommends',
      `${info.name}=${info.versions.deb}`,
    ],
    `installing ${info.name} ${info.versions.deb} from our apt repo inside the ${def.debArch} root`,
    env,
  );
  rmSync(repo, { recursive: true, force: true });
  rmSync(join(root, 'var/tmp/edgewan-apt.list'));
}

export function customize(c: CustomizeInput): void {
  const { root, def, info, layout } = c;
  installPackage(c);
  const name = info.name;
  const vars = {
    NAME: name,
    SERVICE: info.serviceName,
    MOUNT: mountUnit(`/var/lib/${name}`),
    DATA_PARTUUID: layout.data.partuuid,
    GROW: def.firstBoot.growData ? 'yes' : 'no',
    KEYGEN: def.firstBoot.keygen ? 'yes' : 'no',
    TOKEN: def.firstBoot.adminToken ? 'yes' : 'no',
  };
  // The config file keeps the package's owner and mode (0640 root:<name>): write in place.
  writeFileSync(join(root, `etc/${name}/${name}.json`), `${JSON.stringify(def.config, null, 2)}\n`);
  put(root, 'etc/hostname', `${def.hostname}\n`);
  put(
    root,
    'etc/hosts',
    `127.0.0.1\tlocalhost\n127.0.1.1\t${def.hostname}\n::1\t\tlocalhost ip6-localhost ip6-loopback\n`,
  );
  put(
    root,
    'etc/fstab',
    [
      '# <file system> <mount point> <type> <options> <dump> <pass> (fixed UUIDs from the image build)',
      `UUID=${layout.root.fsUuid}\t/\text4\terrors=remount-ro\t0\t1`,
      `UUID=${layout.esp.fsUuid}\t${bootMount(def)}\tvfat\tumask=0077,nofail\t0\t2`,
      `UUID=${layout.data.fsUuid}\t/var/lib/${name}\text4\tdefaults,nodev,nosuid\t0\t2`,
      '',
    ].join('\n'),
  );
  mkdirs(root, bootMount(def).slice(1));
  if (def.board === 'rpi') raspiBoot(root, def, layout);
  put(root, `usr/lib/${name}/firstboot`, template('firstboot.sh', vars), 0o755);
  put(root, `etc/systemd/system/${name}-firstboot.service`, template('firstboot.service', vars));
  put(
    root,
    `etc/systemd/system/${info.serviceName}.service.d/disk-image.conf`,
    template('service-dropin.conf', vars),
  );
  put(root, 'etc/systemd/network/20-wired.network', readFileSync(join(FILES, 'wired.network')));
  mkdirs(root, 'etc/systemd/system/sysinit.target.wants');
  rmSync(join(root, `etc/systemd/system/sysinit.target.wants/${name}-firstboot.service`), { force: true });
  symlinkSync(
    `/etc/systemd/system/${name}-firstboot.service`,
    join(root, `etc/systemd/system/sysinit.target.wants/${name}-firstboot.service`),
  );
  run(
    'systemctl',
    [`--root=${root}`, 'enable', 'systemd-networkd.service'],
    'enabling systemd-networkd in the image',
  );
  if (existsSync(join(root, 'lib/systemd/system/systemd-resolved.service'))) {
    run(
      'systemctl',
      [`--root=${root}`, 'enable', 'systemd-resolved.service'],
      'enabling systemd-resolved in the image',
    );
  }
  scrub(root, c.mtime);
}

/** Where the FAT partition is mounted: the ESP, or the Pi firmware partition raspi-firmware writes to. */
export function bootMount(def: ImageDefinition): string {
  return def.board === 'rpi' ? '/boot/firmware' : '/boot/efi';
}

/**
 * Pi boot settings the way Debian's own Pi images set them: ROOTPART, CONSOLES and CMA in
 * /etc/default/raspi-firmware (so the kernel hook writes the same cmdline.txt on every kernel
 * update on the box), and cmdline.txt now in that hook's exact format. We do not run the hook
 * here: it needs /proc for ischroot, and we do not mount.
 */
function raspiBoot(root: string, def: ImageDefinition, layout: Layout): void {
  const file = join(root, 'etc/default/raspi-firmware');
  const consoles = `tty0 ${def.console}`;
  let text = readFileSync(file, 'utf8');
  for (const [from, to] of [
    [/^#ROOTPART=.*$/m, `ROOTPART=UUID=${layout.root.fsUuid}`],
    [/^#CONSOLES=.*$/m, `CONSOLES="${consoles}"`],
    [/^#CMA=.*$/m, 'CMA=0'],
  ] as const) {
    if (!from.test(text))
      throw new DiskError(
        'EDGEWAN_ERR_DISK_ASSEMBLE',
        `${file}: no line matching ${String(from)} (raspi-firmware changed its defaults file; update images/disk/customize.ts)`,
      );
    text = text.replace(from, to);
  }
  writeFileSync(file, text);
  // z50-raspi-firmware: "${pre_cmdline} root=$ROOTPART rw fsck.repair=yes net.ifnames=0 $SET_CMA rootwait ${post_cmdline}"
  const pre = consoles
    .split(' ')
    .map((c) => ` console=${c}`)
    .join('');
  writeFileSync(
    join(root, 'boot/firmware/cmdline.txt'),
    `${pre} root=UUID=${layout.root.fsUuid} rw fsck.repair=yes net.ifnames=0  rootwait \n`,
  );
}

/** Remove per-run state, then clamp every mtime newer than SOURCE_DATE_EPOCH. */
function scrub(root: string, mtime: number): void {
  // apt's own partial/ dirs keep their owner (_apt) and mode: empty around them
  for (const [dir, keep] of [
    ['var/lib/apt/lists', ['partial', 'lock']],
    ['var/cache/apt', ['archives']],
    ['var/cache/apt/archives', ['partial', 'lock']],
  ] as const) {
    for (const f of existsSync(join(root, dir)) ? readdirSync(join(root, dir)) : []) {
      if (!(keep as readonly string[]).includes(f))
        rmSync(join(root, dir, f), { recursive: true, force: true });
    }
  }
  for (const p of [
    'var/log/apt/eipp.log.xz',
    'var/log/apt/history.log',
    'var/log/apt/term.log',
    'var/cache/debconf/config.dat-old',
    'var/cache/debconf/templates.dat-old',
    'var/lib/dpkg/status-old',
    'var/lib/dpkg/diversions-old',
    'var/cache/ldconfig/aux-cache',
    'etc/shadow-',
    'etc/passwd-',
    'etc/group-',
    'etc/gshadow-',
    'etc/subuid-',
    'etc/subgid-',
  ]) {
    rmSync(join(root, p), { recursive: true, force: true });
  }
  for (const log of ['var/log/dpkg.log', 'var/log/alternatives.log'])
    if (existsSync(join(root, log))) writeFileSync(join(root, log), '');
  // machine-id stays empty: systemd makes a unique one on each box's first boot.
  writeFileSync(join(root, 'etc/machine-id'), '');
  run(
    'find',
    [
      root,
      '-xdev',
      '-newermt',
      `@${mtime}`,
      '-exec',
      'touch',
      '--no-dereference',
      '--date',
      `@${mtime}`,
      '{}',
      '+',
    ],
    'clamping mtimes',
  );
}
